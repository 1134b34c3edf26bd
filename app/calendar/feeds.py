"""The personal calendar feed (webcal subscription) and the per-run .ics download (docs/technical-notes.md#calendar).

What goes into a person's feed (`feed_entries_for`):
- every day of the runs where their enrolment is confirmed (completed runs included: completion is not a
  status), as STATUS:CONFIRMED;
- the days of runs they *had* a seat on but no longer have (their enrolment was cancelled, moved or
  rejected after having been confirmed), and every day of a cancelled run they had a seat on, as
  STATUS:CANCELLED, so a subscribed client shows them as cancelled instead of keeping a stale event;
- nothing of waiting-list or requested enrolments (no seat, so no course day in the calendar yet).

"Had a seat" is read from the enrolment's history: a `confirmed` or `promoted` event, or an `approved` /
`moved_in` event of an enrolment that never got a waiting-list number (those two place the enrolment on
the waiting list when the run is full, and only then draw a queue number). A day is in the feed once:
if the person holds it through one enrolment and lost it through another (re-enrolled after cancelling),
the confirmed one wins.

The feed costs two queries however many runs the person has: the enrolments joined to their runs and
providers (with the history check as an EXISTS), then the runs' days (selectinload).

Services here add/flush and never commit; the view owns the transaction. The token is never logged.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.accounts.models import User
from app.core import clock
from app.core.urls import external_url
from app.courses.models import CourseRun, RunStatus
from app.enrolment.models import Enrolment, EnrolmentEvent, EnrolmentStatus, EventKind
from app.extensions import db
from app.notifications import ical
from app.notifications.ical import CANCELLED, CONFIRMED, TENTATIVE, FeedEntry
from app.notifications.models import CalendarInvitation

#: secrets.token_urlsafe(32): 43 characters of [A-Za-z0-9_-]; the column holds up to 64.
TOKEN_BYTES = 32
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,64}")

#: Enrolments that no longer hold a seat; their days show as cancelled if they once did.
ENDED_STATUSES = (EnrolmentStatus.CANCELLED, EnrolmentStatus.MOVED, EnrolmentStatus.REJECTED)

RunUrl = Callable[[CourseRun], "str | None"]


# --- the token ----------------------------------------------------------------------------------------------


def _new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def ensure_token(user: User) -> str:
    """The user's feed token, created if they have none. Flushes, never commits."""
    if not user.calendar_token:
        user.calendar_token = _new_token()
        db.session.flush()
    return user.calendar_token


def regenerate_token(user: User) -> str:
    """A new feed token: the old address answers 404 from now on. Flushes, never commits."""
    user.calendar_token = _new_token()
    db.session.flush()
    return user.calendar_token


def user_by_token(token: str | None) -> User | None:
    """The active user whose feed token this is; None for anything else (unknown, replaced, malformed,
    or the user is deactivated)."""
    if not token or not _TOKEN_RE.fullmatch(token):
        return None
    return db.session.scalars(select(User).where(User.calendar_token == token, User.active.is_(True))).first()


# --- which days -------------------------------------------------------------------------------------------


def _had_a_seat():
    """SQL: the enrolment (of the outer query) was confirmed at some point of its history."""
    return (
        select(EnrolmentEvent.id)
        .where(
            EnrolmentEvent.enrolment_id == Enrolment.id,
            or_(
                EnrolmentEvent.kind.in_((EventKind.CONFIRMED, EventKind.PROMOTED)),
                and_(
                    EnrolmentEvent.kind.in_((EventKind.APPROVED, EventKind.MOVED_IN)),
                    Enrolment.queue_number.is_(None),
                ),
            ),
        )
        .exists()
    )


def _feed_enrolments(user: User, run_id: int | None = None) -> list[Enrolment]:
    """The user's enrolments that put days in a calendar: confirmed ones, and ended ones that held a seat."""
    query = (
        select(Enrolment)
        .where(
            Enrolment.user_id == user.id,
            or_(
                Enrolment.status == EnrolmentStatus.CONFIRMED,
                and_(Enrolment.status.in_(ENDED_STATUSES), _had_a_seat()),
            ),
        )
        .options(joinedload(Enrolment.run).options(joinedload(CourseRun.provider), selectinload(CourseRun.days)))
    )
    if run_id is not None:
        query = query.where(Enrolment.course_run_id == run_id)
    return list(db.session.scalars(query).unique())


def _holds_seat(enrolment: Enrolment) -> bool:
    return enrolment.status == EnrolmentStatus.CONFIRMED and enrolment.run.status != RunStatus.CANCELLED


def _mailed(enrolments: list[Enrolment]) -> tuple[set[tuple[int, int]], dict[int, int]]:
    """What the invitations sent about these enrolments' days (app.enrolment.invitations), in one query:

    - (enrolment id, course day id) a confirmed participant was sent a cancellation for and holds no more:
      the follow-up day after an absence on a teaching day;
    - course day id -> the highest SEQUENCE mailed (queued) to the person about it, through any enrolment.
      The feed never shows less: a feed entry below the mailed CANCEL would be an older revision of the
      event than the one the person's calendar already holds (RFC 5546 §2.1.5)."""
    ids = [e.id for e in enrolments]
    if not ids:
        return set(), {}
    confirmed = {e.id for e in enrolments if e.status == EnrolmentStatus.CONFIRMED}
    withdrawn: set[tuple[int, int]] = set()
    sequences: dict[int, int] = {}
    rows = db.session.execute(
        select(
            CalendarInvitation.enrolment_id,
            CalendarInvitation.course_day_id,
            CalendarInvitation.active,
            CalendarInvitation.sequence,
        ).where(CalendarInvitation.enrolment_id.in_(ids))
    )
    for enrolment_id, day_id, active, sequence in rows:
        if enrolment_id in confirmed and not active:
            withdrawn.add((enrolment_id, day_id))
        sequences[day_id] = max(sequence, sequences.get(day_id, sequence))
    return withdrawn, sequences


def _entries(enrolments: Iterable[Enrolment], run_url: RunUrl | None) -> list[FeedEntry]:
    """One entry per course day (a day held through any enrolment beats the same day lost through another),
    in date order so the same data always gives the same bytes. The days the invitations withdrew from a
    confirmed participant are cancelled here too, and SEQUENCE is never below what was mailed about the day,
    so the feed and the mails agree."""
    enrolments = list(enrolments)
    withdrawn, mailed = _mailed(enrolments)
    by_day: dict[int, FeedEntry] = {}
    for enrolment in enrolments:
        run = enrolment.run
        held = CONFIRMED if _holds_seat(enrolment) else CANCELLED
        url = run_url(run) if run_url else None
        for day in run.days:
            status = CANCELLED if (enrolment.id, day.id) in withdrawn else held
            known = by_day.get(day.id)
            if known is None or (known.status == CANCELLED and status == CONFIRMED):
                sequence = max(day.sequence, mailed.get(day.id, 0))
                by_day[day.id] = FeedEntry(day, status=status, sequence=sequence, run_url=url)
    return sorted(by_day.values(), key=lambda e: (e.day.day, e.day.starts_at, e.day.id))


def feed_entries_for(user: User, run_url: RunUrl | None = None) -> list[FeedEntry]:
    """The course days of `user`'s personal feed (see the module docstring). `run_url(run)` gives the link
    written into each event's description (None: no link)."""
    return _entries(_feed_enrolments(user), run_url)


def run_entries(run: CourseRun, user: User | None = None, run_url: RunUrl | None = None) -> list[FeedEntry]:
    """The days of one run for a download. For a `user` who has (or had) a seat on it, as in their feed
    (the invitations' UIDs, so a later invitation updates them). For anyone else (not enrolled, on the
    waiting list, awaiting approval) the days as information that cannot be taken for a seat: other UIDs,
    STATUS:TENTATIVE (CANCELLED for a cancelled run), marked "Ikke tilmeldt" (docs/calendar.md)."""
    if user is not None:
        mine = _entries(_feed_enrolments(user, run.id), run_url)
        if mine:
            return mine
    status = CANCELLED if run.status == RunStatus.CANCELLED else TENTATIVE
    url = run_url(run) if run_url else None
    return [FeedEntry(day, status=status, run_url=url, informational=True) for day in run.days]


# --- rendering ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    """A rendered feed: the bytes, a strong ETag derived from them, and when its data last changed."""

    body: bytes
    etag: str
    last_modified: datetime


def feed_name() -> str:
    """X-WR-CALNAME, in the current language (call inside `ical.in_language`)."""
    return _("Kursusportalen: mine kursusdage")


def render_feed(user: User, run_url: RunUrl | None = None) -> Feed:
    """The user's feed as iCalendar bytes.

    DTSTAMP (which, in a calendar without METHOD, is when the information was last revised, RFC 5545
    §3.8.7.2) and Last-Modified are the latest change of the enrolments and runs in it, so the same data
    gives the same bytes and the ETag (a hash of the bytes) only changes with the content. A change of a
    day's date, time or place alone does not touch those timestamps, but it does change SEQUENCE and the
    times in the bytes, hence the ETag: conditional requests must be decided on the ETag, not the date.
    """
    enrolments = _feed_enrolments(user)
    entries = _entries(enrolments, run_url)
    stamps = [clock.as_utc(user.created_at) or datetime(2000, 1, 1, tzinfo=UTC)]
    for enrolment in enrolments:
        stamps += [
            clock.as_utc(enrolment.updated_at),
            clock.as_utc(enrolment.status_changed_at),
            clock.as_utc(enrolment.run.updated_at),
        ]
    last_modified = max(s for s in stamps if s is not None).replace(microsecond=0)
    with ical.in_language(user.locale) as language:
        name = feed_name()
    body = ical.feed_calendar(entries, name=name, stamp=last_modified, language=language)
    return Feed(body=body, etag=hashlib.sha256(body).hexdigest()[:40], last_modified=last_modified)


_NAME_SEPARATORS = re.compile(r"\s*[,;]+\s*")


def calendar_name(text: str) -> str:
    """A title fit for NAME/X-WR-CALNAME. icalendar 7 writes those two without escaping ',' ';' '\\' (RFC 5545
    §3.3.11 says TEXT must escape them), and strict readers cut the name at the first comma (vobject reads
    'Tidlig inddragelse, hold A' as 'Tidlig inddragelse'), so they are replaced here."""
    return _NAME_SEPARATORS.sub(" – ", text.replace("\\", " ")).strip(" –") or "Kursusportalen"


def render_run(run: CourseRun, user: User | None = None, run_url: RunUrl | None = None) -> bytes:
    """One run's days as a downloadable .ics (no METHOD: an import, not an invitation), in `user`'s
    language; the same UIDs as the invitations and the feed, so a later invitation updates these events."""
    entries = run_entries(run, user, run_url)
    language = user.locale if user is not None else None
    return ical.feed_calendar(entries, name=calendar_name(run.title), stamp=clock.utcnow(), language=language)


# --- addresses ----------------------------------------------------------------------------------------------


def feed_urls(token: str) -> tuple[str, str]:
    """(the feed's https address, the same as a webcal:// link that opens the calendar app)."""
    url = external_url("calendar.feed", token=token)
    return url, "webcal://" + url.split("://", 1)[1]


def published_run_url(run: CourseRun) -> str | None:
    """The run page's address for an event's description; None where staff could not open it."""
    if run.status != RunStatus.PUBLISHED:
        return None
    return external_url("courses.run_detail", run_id=run.id)


# --- download name ------------------------------------------------------------------------------------------

_DANISH_ASCII = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa", "ß": "ss"})
_NOT_NAME = re.compile(r"[^\w\- ]+")
_SPACES = re.compile(r"\s+")
NAME_MAX = 80


def safe_filename(title: str, fallback: str = "kursusforloeb") -> tuple[str, str]:
    """(ASCII name, Unicode name) for a file called after `title`, without the extension: letters, digits,
    spaces, '-' and '_' only (no quotes, slashes, control characters), at most NAME_MAX characters."""
    name = _SPACES.sub(" ", _NOT_NAME.sub(" ", unicodedata.normalize("NFC", title))).strip()[:NAME_MAX].strip()
    name = name or fallback
    ascii_name = unicodedata.normalize("NFKD", name.translate(_DANISH_ASCII)).encode("ascii", "ignore").decode()
    ascii_name = _SPACES.sub(" ", _NOT_NAME.sub("", ascii_name)).strip() or fallback
    return ascii_name, name
