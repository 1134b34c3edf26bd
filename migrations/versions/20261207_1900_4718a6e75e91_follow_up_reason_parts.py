"""course_runs.follow_up_reason_parts: the follow-up proposal's reason as parts, shown in the reader's language.

The reason was stored as Danish text ("Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder = 1. januar 2009,
som er Nytårsdag; flyttet til næste arbejdsdag)"): planner language, and Danish for an English-speaking
coordinator. Now the run stores the parts (app.courses.services.proposal_parts) and the page puts them into
words per locale (app.courses.follow_up.explain).

The text had one fixed format, so this reads every row back: the months, the proposed day, the anchor and the
reason of each day skipped. A skipped day's reason is kept as written under "closed" (a weekend's or public
holiday's name is worked out again from the date when shown, so only a closed day's text is ever used). Each
row is checked by writing its parts back into the Danish text and comparing: a row that does not come out
exactly as stored (edited by hand, an older wording) keeps its text, shown as written, and gets no parts.

This file does not import the app: it reads and writes the format as it was on this date.

Revision ID: 4718a6e75e91
Revises: c3a91d5e7b20
Create Date: 2026-12-07 19:00:00.000000

"""
from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '4718a6e75e91'
down_revision = 'c3a91d5e7b20'
branch_labels = None
depends_on = None

KIND = "teaching_day_2_plus_months"
MONTHS_DA = (
    "januar", "februar", "marts", "april", "maj", "juni",
    "juli", "august", "september", "oktober", "november", "december",
)
HEAD = re.compile(
    r"^Forslag: (?P<day>\d{1,2}\. [a-zæøå]+ \d{4}) \(undervisningsdag 2 \+ (?P<months>\d+) måned(?:er)?(?P<rest>.*)\)$",
    re.DOTALL,
)
MOVED = "; flyttet til næste arbejdsdag"

runs = sa.table(
    "course_runs",
    sa.column("id", sa.Integer),
    sa.column("follow_up_proposed_on", sa.Date),
    sa.column("follow_up_reason", sa.Text),
    sa.column("follow_up_reason_parts", sa.JSON),
)


def _da(d: date) -> str:
    return f"{d.day}. {MONTHS_DA[d.month - 1]} {d.year}"


def _parse_da(text: str) -> date | None:
    match = re.fullmatch(r"(\d{1,2})\. ([a-zæøå]+) (\d{4})", text)
    if not match or match.group(2) not in MONTHS_DA:
        return None
    try:
        return date(int(match.group(3)), MONTHS_DA.index(match.group(2)) + 1, int(match.group(1)))
    except ValueError:
        return None


def _and_list(items: list[str]) -> str:
    """Babel's Danish list: "a", "a og b", "a, b og c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " og " + items[-1]


def render_da(parts: dict) -> str:
    """The Danish text app.courses.services.describe_proposal wrote for these parts (reasons as kept)."""
    months = parts["months"]
    rule = f"undervisningsdag 2 + {months} {'måned' if months == 1 else 'måneder'}"
    day = _da(date.fromisoformat(parts["day"]))
    skipped = [(date.fromisoformat(s["day"]), s.get("closed") or "") for s in parts["skipped"]]
    if not skipped:
        return f"Forslag: {day} ({rule})"
    (first, reason), rest = skipped[0], skipped[1:]
    explanation = [f"{rule} = {_da(first)}, som er {reason}"]
    if rest:
        listed = _and_list([f"{_da(d)} ({r})" for d, r in rest])
        explanation.append(f"{listed} er heller ikke {'en arbejdsdag' if len(rest) == 1 else 'arbejdsdage'}")
    explanation.append("flyttet til næste arbejdsdag")
    return f"Forslag: {day} ({'; '.join(explanation)})"


def parse(text: str, proposed_on: date) -> dict | None:
    """The parts of a stored reason, or None when it is not in the one format (checked by writing it back)."""
    head = HEAD.match(text)
    if not head:
        return None
    day = _parse_da(head.group("day"))
    if day is None or day != proposed_on:
        return None
    parts = {"kind": KIND, "months": int(head.group("months")), "day": day.isoformat(), "anchor": day.isoformat(),
             "skipped": []}
    rest = head.group("rest")
    if rest:
        anchor_match = re.match(r"^ = (\d{1,2}\. [a-zæøå]+ \d{4}), som er ", rest)
        anchor = _parse_da(anchor_match.group(1)) if anchor_match else None
        if anchor is None or not anchor < day or (day - anchor).days > 366 or not rest.endswith(MOVED):
            return None
        body = rest[anchor_match.end() : -len(MOVED)]
        days = [anchor + timedelta(days=i) for i in range((day - anchor).days)]
        reasons = []
        if len(days) == 1:
            reasons.append(body)
        else:
            cut = body.find(f"; {_da(days[1])} (")
            if cut < 0:
                return None
            reasons.append(body[:cut])
            body = body[cut + 2 :]
            tail = " er heller ikke en arbejdsdag" if len(days) == 2 else " er heller ikke arbejdsdage"
            if not body.endswith(tail):
                return None
            body = body[: -len(tail)]
            for i, d in enumerate(days[1:], start=1):
                start = f"{_da(d)} ("
                if not body.startswith(start):
                    return None
                body = body[len(start) :]
                if i + 1 < len(days):
                    sep = ", " if i + 2 < len(days) else " og "
                    end = body.find(f"){sep}{_da(days[i + 1])} (")
                    if end < 0:
                        return None
                    reasons.append(body[:end])
                    body = body[end + 1 + len(sep) :]
                else:
                    if not body.endswith(")"):
                        return None
                    reasons.append(body[:-1])
        parts["anchor"] = anchor.isoformat()
        parts["skipped"] = [{"day": d.isoformat(), "closed": r} for d, r in zip(days, reasons, strict=True)]
    return parts if render_da(parts) == text else None


def upgrade():
    with op.batch_alter_table('course_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_reason_parts', sa.JSON(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(runs.c.id, runs.c.follow_up_reason, runs.c.follow_up_proposed_on).where(
            runs.c.follow_up_reason.is_not(None), runs.c.follow_up_proposed_on.is_not(None)
        )
    ).all()
    for run_id, text, proposed_on in rows:
        if isinstance(proposed_on, str):  # SQLite through a lightweight table: the ISO text
            proposed_on = date.fromisoformat(proposed_on)
        parts = parse(text, proposed_on)
        if parts is not None:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(follow_up_reason_parts=parts, follow_up_reason=None)
            )


def downgrade():
    """Back to the text: the parts written out in Danish (a weekend's or holiday's name as kept, else the
    weekday or "helligdag"), then the column dropped."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(runs.c.id, runs.c.follow_up_reason_parts).where(runs.c.follow_up_reason_parts.is_not(None))
    ).all()
    for run_id, parts in rows:
        if not isinstance(parts, dict) or parts.get("kind") != KIND:
            continue
        for s in parts["skipped"]:
            if not s.get("closed"):
                weekday = date.fromisoformat(s["day"]).weekday()
                s["closed"] = {5: "lørdag", 6: "søndag"}.get(weekday, "helligdag")
        conn.execute(runs.update().where(runs.c.id == run_id).values(follow_up_reason=render_da(parts)))
    with op.batch_alter_table('course_runs', schema=None) as batch_op:
        batch_op.drop_column('follow_up_reason_parts')
