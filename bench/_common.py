"""What the benchmark scripts share: the repository on sys.path, peak memory, and the PostgreSQL database
they may empty. Imported as `_common` by scripts run as `.venv/bin/python bench/<script>.py`."""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

#: A benchmark empties the database it is given: only databases named like this.
PG_PREFIXES = ("kp_bench", "kp_test")


def database_url(url: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3, exactly as in config.py."""
    from config import _database_url

    return _database_url(url)


def measured_staff_email() -> str:
    """The staff member whose pages the benchmarks measure (inside an app context): the first national-scale
    staff member with 2 to 6 enrolments — a page like a real caseworker's. Not someone the enrolment POST
    benchmark has used: that adds an enrolment and a cancellation per request to its people's history."""
    from sqlalchemy import func, select

    from app.accounts.models import User
    from app.demo_scale import EMAIL_DOMAIN
    from app.enrolment.models import Enrolment
    from app.extensions import db

    return db.session.scalars(
        select(User.email)
        .join(Enrolment, Enrolment.user_id == User.id)
        .where(User.email.like(f"%@{EMAIL_DOMAIN}"))
        .group_by(User.id)
        .having(func.count(Enrolment.id).between(2, 6))
        .order_by(User.id)
        .limit(1)
    ).one()


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def prepare_postgres(url: str) -> None:
    """Refuse a PostgreSQL database not named `kp_bench…`/`kp_test…` (exit 2), and create it if missing.
    Nothing for SQLite."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        return
    if not (target.database or "").startswith(PG_PREFIXES):
        print(
            f"refusing to empty PostgreSQL database {target.database!r}: its name must start with one of {PG_PREFIXES}",
            file=sys.stderr,
        )
        raise SystemExit(2)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database})
            if not exists:
                conn.execute(text(f"CREATE DATABASE {engine.dialect.identifier_preparer.quote(target.database)}"))
                print(f"created database {target.database}", file=sys.stderr)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------
# The national data set (--national): app.demo_scale.generate, as `flask demo scale` makes it
# --------------------------------------------------------------------------------------------------

#: `flask demo scale`'s defaults; --national-scale multiplies staff, runs and enrolments (not municipalities).
NATIONAL = {"municipalities": 98, "staff": 50_000, "runs": 5_000, "enrolments": 150_000}
#: The stand-in for a sent invitation's bytes in the pre-filled outbox (a real one is a few KiB; the delivery
#: job's query reads `id` through the (status, next_attempt_at) index and never these bytes).
_PREFILL_MESSAGE = b"Subject: (pre-filled by the benchmark: an invitation sent before the measurement)\r\n\r\n-\r\n"


def national_sizes(scale: float) -> dict[str, int]:
    sizes = dict(NATIONAL)
    for key in ("staff", "runs", "enrolments"):
        sizes[key] = max(1, round(NATIONAL[key] * scale))
    return sizes


def national_present() -> bool:
    """Does the database (inside an app context) hold a national data set? Same test as generate()'s own
    refusal and bench/http_load.py's --reuse: users with an address @scale.test."""
    from sqlalchemy import func, inspect, select

    from app.accounts.models import User
    from app.demo_scale import EMAIL_DOMAIN
    from app.extensions import db

    if not inspect(db.engine).has_table(User.__tablename__):
        return False
    return bool(db.session.scalar(select(func.count()).select_from(User).where(User.email.like(f"%@{EMAIL_DOMAIN}"))))


def build_national(scale: float, *, prefill_outbox: bool = False) -> dict[str, float]:
    """Inside an app context, on an empty schema: the reference data of `flask demo load` (roles, methods,
    providers, units; not the demo's users and runs), then `generate()` with `national_sizes(scale)`, and
    with `prefill_outbox` one sent invitation per enrolment and course day (see `prefill_outbox()`).
    Commits. Returns the seconds each step took."""
    from app.core import clock
    from app.demo import load_reference_data
    from app.demo_scale import generate
    from app.extensions import db

    sizes = national_sizes(scale)
    print(
        f"building the national data set ({', '.join(f'{k} {v:,}' for k, v in sizes.items())}) …",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    load_reference_data()
    generate(**sizes, today=clock.today(), progress=lambda message: print(f"  {message}", file=sys.stderr, flush=True))
    db.session.commit()
    took = {"generate_seconds": time.perf_counter() - started}
    if prefill_outbox:
        started = time.perf_counter()
        rows = prefill_sent_invitations()
        db.session.commit()
        took["prefill_seconds"] = time.perf_counter() - started
        print(f"  {rows:,} sent invitations in the outbox", file=sys.stderr, flush=True)
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy import text

        db.session.remove()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would have by the time anyone enrols
    return took


def prefill_sent_invitations() -> int:
    """One *sent* invitation per generated enrolment and course day (3 per enrolment), with its
    `calendar_invitations` row, as the enrolment hook and the delivery job would have left them: the keys
    the real code uses (`invite:<day>:<enrolment>:<sequence>`, `<event uid>|<email>`), status sent, one
    attempt. Two INSERT … SELECT statements, so even 450,000 rows take seconds. The stored bytes are a short
    stand-in (`_PREFILL_MESSAGE`), not a rendered mail. Returns the number of outbox rows."""
    from datetime import UTC, datetime

    from flask import current_app
    from sqlalchemy import Boolean, DateTime, Integer, LargeBinary, String, cast, func, insert, literal, select

    from app.accounts.models import User
    from app.courses.models import CourseDay, CourseRun
    from app.demo_scale import EMAIL_DOMAIN
    from app.enrolment.models import Enrolment
    from app.extensions import db
    from app.notifications.models import CalendarInvitation, OutboxMessage, OutboxStatus

    when = literal(datetime.now(UTC), DateTime(timezone=True))
    domain = current_app.config["CALENDAR_UID_DOMAIN"]
    dedupe = (
        literal("invite:")
        + cast(CourseDay.id, String)
        + literal(":")
        + cast(Enrolment.id, String)
        + literal(":")
        + cast(CourseDay.sequence, String)
    )
    base = (
        select(Enrolment, CourseDay, User, CourseRun)
        .join(CourseDay, CourseDay.course_run_id == Enrolment.course_run_id)
        .join(User, User.id == Enrolment.user_id)
        .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
        .where(User.email.like(f"%@{EMAIL_DOMAIN}"))
    )
    columns = [
        "kind",
        "dedupe_key",
        "supersede_key",
        "recipient_email",
        "recipient_user_id",
        "course_run_id",
        "subject",
        "message",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "created_at",
        "updated_at",
    ]
    outbox_rows = base.with_only_columns(
        literal("invitation"),
        dedupe,
        literal("courseday-") + CourseDay.ical_uid + literal(f"@{domain}|") + User.email,
        User.email,
        User.id,
        CourseRun.id,
        func.substr(literal("Invitation: ") + CourseRun.title, 1, 300),
        literal(_PREFILL_MESSAGE, LargeBinary),
        literal(OutboxStatus.SENT.value),
        literal(1, Integer),
        when,
        when,
        when,
        when,
    ).order_by(Enrolment.id, CourseDay.position)
    db.session.execute(insert(OutboxMessage).from_select(columns, outbox_rows))
    calendar_rows = base.join(OutboxMessage, OutboxMessage.dedupe_key == dedupe).with_only_columns(
        Enrolment.id,
        CourseDay.id,
        literal(True, Boolean),
        CourseDay.sequence,
        CourseDay.sequence,
        when,
        OutboxMessage.id,
    )
    db.session.execute(
        insert(CalendarInvitation).from_select(
            ["enrolment_id", "course_day_id", "active", "sequence", "day_revision", "updated_at", "last_message_id"],
            calendar_rows,
        )
    )
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def national_counts() -> dict[str, int]:
    """What the database holds (inside an app context): the generated staff, runs, enrolments and attendance
    marks, and the outbox and calendar-invitation rows of any origin."""
    from sqlalchemy import func, select

    from app.accounts.models import User
    from app.courses.models import CourseRun
    from app.demo_scale import EMAIL_DOMAIN
    from app.enrolment.models import Attendance, Enrolment
    from app.extensions import db
    from app.notifications.models import CalendarInvitation, OutboxMessage

    generated = select(CourseRun.id).where(CourseRun.title.like("Tidlig inddragelse, hold %")).scalar_subquery()
    count = db.session.scalar
    counts = {
        "staff": count(select(func.count()).select_from(User).where(User.email.like(f"%@{EMAIL_DOMAIN}"))),
        "runs": count(select(func.count()).select_from(CourseRun).where(CourseRun.id.in_(generated))),
        "enrolments": count(select(func.count()).select_from(Enrolment).where(Enrolment.course_run_id.in_(generated))),
        "attendance": count(select(func.count()).select_from(Attendance)),
        "outbox": count(select(func.count()).select_from(OutboxMessage)),
        "calendar_invitations": count(select(func.count()).select_from(CalendarInvitation)),
    }
    db.session.remove()
    return counts


def describe_national(counts: dict[str, int] | None) -> str:
    if not counts:
        return "national data set: none (an otherwise empty database)"
    return (
        f"national data set: {counts['staff']:,} staff, {counts['runs']:,} runs, {counts['enrolments']:,} "
        f"enrolments, {counts['attendance']:,} attendance marks; outbox {counts['outbox']:,} rows, "
        f"calendar invitations {counts['calendar_invitations']:,} (counted before the measurement)"
    )
