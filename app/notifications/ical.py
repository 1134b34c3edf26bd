"""iCalendar objects for course days: iTIP invitations (RFC 5545/5546, sent by iMIP, RFC 6047) and the
personal subscription feed (RFC 7986). Pure functions: no database writes, no sending.

Decisions (docs/technical-notes.md#calendar):
- One VEVENT per course day, one calendar object per message. The UID comes from the day's stored opaque
  uuid (`courseday-<ical_uid>@<CALENDAR_UID_DOMAIN>`), never from dates or titles, so it survives every
  change of date, time, place or title.
- DTSTART/DTEND are written in UTC (`...Z`), converted from the day's local date and time in the
  municipality's zone (config TIMEZONE, Europe/Copenhagen). No VTIMEZONE is needed, and there is no RDATE
  time-zone block for Outlook to shift by an hour.
- The caller decides SEQUENCE (the day's stored sequence, possibly bumped) and DTSTAMP (its `now`), so a
  message rendered when it is queued is frozen.
- Texts (SUMMARY, DESCRIPTION) follow the recipient's language, not the request's: every function takes
  `language` and renders under Flask-Babel's `force_locale`. They need an app context, not a request
  (the scheduler calls them inside `with app.app_context()`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from icalendar import Calendar, Event, Timezone, vCalAddress

from app.core.clock import local_tz
from app.core.templating import dk_date, time_range
from app.courses.models import CourseDay

ItipMethod = Literal["REQUEST", "CANCEL"]
EventStatus = Literal["CONFIRMED", "CANCELLED", "TENTATIVE"]

REQUEST: ItipMethod = "REQUEST"
CANCEL: ItipMethod = "CANCEL"
CONFIRMED: EventStatus = "CONFIRMED"
CANCELLED: EventStatus = "CANCELLED"
#: Only in a run's .ics for someone without a seat (`FeedEntry.informational`), never in an iTIP message.
TENTATIVE: EventStatus = "TENTATIVE"

PRODID = "-//Kursusportalen//Kursusportalen//DA"
#: How often subscribers should re-read the personal feed (REFRESH-INTERVAL and Outlook's X-PUBLISHED-TTL).
FEED_REFRESH = timedelta(hours=1)

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")


# --- language -----------------------------------------------------------------------------------------


def normalise_language(language: str | None) -> str:
    """The app language closest to `language` ('en_GB' -> 'en'); the default (Danish) for None or unknown."""
    languages = current_app.config["LANGUAGES"]
    if language:
        code = language.replace("-", "_").split("_")[0].lower()
        if code in languages:
            return code
    return current_app.config["BABEL_DEFAULT_LOCALE"]


@contextmanager
def in_language(language: str | None) -> Iterator[str]:
    """Render texts in the recipient's language (works in a request and in a plain app context)."""
    code = normalise_language(language)
    with force_locale(code):
        yield code


# --- the pieces of an event ---------------------------------------------------------------------------


def event_uid(day: CourseDay, uid_domain: str | None = None) -> str:
    """`courseday-<opaque uuid>@<domain>`: the same in every invitation, update, cancellation and feed."""
    domain = uid_domain or current_app.config["CALENDAR_UID_DOMAIN"]
    return f"courseday-{day.ical_uid}@{domain}"


def informational_uid(day: CourseDay, uid_domain: str | None = None) -> str:
    """`courseday-info-<opaque uuid>@<domain>`: the day as information for someone without a seat. Never the
    invitations' UID, so an imported copy is never taken for (or merged with) the seat's event."""
    domain = uid_domain or current_app.config["CALENDAR_UID_DOMAIN"]
    return f"courseday-info-{day.ical_uid}@{domain}"


def day_interval_utc(day: CourseDay) -> tuple[datetime, datetime]:
    """The day's start and end as aware UTC datetimes, from its local date and wall-clock times.

    Europe/Copenhagen is UTC+1 in winter and UTC+2 in summer (from the last Sunday of March to the last
    Sunday of October); zoneinfo applies the offset valid on that date.
    """
    tz = local_tz()
    start = datetime.combine(day.day, day.starts_at, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day.day, day.ends_at, tzinfo=tz).astimezone(UTC)
    return start, end


def day_hours(day: CourseDay) -> str:
    """'kl. 09.00–15.30' (da) / '09:00–15:30' (en), in the current locale."""
    return time_range(day.starts_at, day.ends_at)


def event_content(day: CourseDay) -> tuple:
    """What an event about `day` shows, apart from language, SEQUENCE and DTSTAMP: its date and times,
    its place (the day's own venue or the run's, `effective_venue`), and the run's title and provider
    (SUMMARY and DESCRIPTION). When this changes, the day's sequence must rise so every holder gets an
    update: the run's venue, title or provider change what a day shows without touching the day's row.
    The run's own description is not part of the event (see `event_description`)."""
    run = day.run
    when = (day.day, day.starts_at, day.ends_at)
    return (day.kind, day.position, *when, day.effective_venue, run.title, run.provider_id)


def event_summary(day: CourseDay) -> str:
    """'<run title> – <day label>', e.g. 'Tidlig inddragelse, hold A – 1. undervisningsdag'."""
    return f"{day.run.title} – {day.label}"


def event_description(day: CourseDay, run_url: str | None, *, note: str | None = None, active: bool = True) -> str:
    """Plain-text DESCRIPTION: what, who, when, where, the link, and (while the attendee is expected,
    `active`) that cancelling is done in the portal, not by declining in the calendar. `note` comes first."""
    run = day.run
    lines = [note, ""] if note else []
    lines += [
        _("Kursusforløb: %(run)s", run=run.title),
        _("Udbyder: %(provider)s", provider=run.provider.name),
        # The label names the day's kind: '1. undervisningsdag', '2. undervisningsdag', 'Opfølgningsdag'.
        _("Kursusdag: %(day)s", day=day.label),
        _("Dato: %(date)s", date=dk_date(day.day, "full")),
        _("Tid: %(time)s", time=day_hours(day)),
        _("Sted: %(place)s", place=day.effective_venue),
    ]
    if run_url:
        lines.append(_("Kursusforløbet i Kursusportalen: %(url)s", url=run_url))
    if active:
        lines += ["", _("Du afmelder dig i Kursusportalen.")]
    return "\n".join(lines)


def one_line(text: str) -> str:
    """One line without control characters (names and addresses go into parameters and headers)."""
    return _CONTROL_CHARS.sub(" ", text).strip()


def _address(email: str, name: str | None, **params) -> vCalAddress:
    email = one_line(email)
    if not email or " " in email or "@" not in email:
        raise ValueError(f"not an e-mail address: {email!r}")
    # A double quote cannot appear in a parameter value; RFC 6868's ^' escape is not read by Outlook.
    cn = one_line(name or "").replace('"', "'") or None
    return vCalAddress.new(email, cn=cn, **params)


def _utc(stamp: datetime) -> datetime:
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        raise ValueError("stamp must be a timezone-aware datetime")
    return stamp.astimezone(UTC).replace(microsecond=0)


def _check_sequence(sequence: int) -> int:
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
        raise ValueError(f"SEQUENCE must be a non-negative integer, not {sequence!r}")
    return sequence


def _check_method_status(method: str, status: str | None) -> None:
    """RFC 5546 §3.2.2/§3.2.5: a REQUEST is CONFIRMED; a CANCEL carries STATUS:CANCELLED when the whole
    event is cancelled and no STATUS at all when only some attendees are removed."""
    if method == REQUEST:
        if status != CONFIRMED:
            raise ValueError("a REQUEST has status CONFIRMED")
    elif method == CANCEL:
        if status not in (CANCELLED, None):
            raise ValueError("a CANCEL has status CANCELLED (day or run cancelled) or None (attendee removed)")
    else:
        raise ValueError(f"unsupported METHOD {method!r}; use REQUEST or CANCEL")


def _calendar(method: str | None) -> Calendar:
    # A plain Calendar(): Calendar.new() would add a calendar-level UID, which iMIP does not need.
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    return cal


def _event(
    day: CourseDay,
    *,
    uid_domain: str | None,
    sequence: int,
    stamp: datetime,
    status: str | None,
    summary: str,
    description: str,
    run_url: str | None,
    uid: str | None = None,
    transparent: bool = False,
) -> Event:
    start, end = day_interval_utc(day)
    event = Event.new(
        uid=uid or event_uid(day, uid_domain),
        sequence=_check_sequence(sequence),
        stamp=_utc(stamp),
        start=start,
        end=end,
        summary=summary,
        location=day.effective_venue,
        description=description,
        url=run_url or None,
    )
    if status:
        event.add("status", status)
    event.add("transp", "TRANSPARENT" if transparent else "OPAQUE")
    return event


# --- invitations ----------------------------------------------------------------------------------------


def course_day_calendar(
    day: CourseDay,
    *,
    method: ItipMethod,
    attendee_email: str,
    attendee_name: str | None,
    sequence: int,
    stamp: datetime,
    status: EventStatus | None,
    run_url: str | None,
    language: str | None,
    organizer_email: str | None = None,
    organizer_name: str | None = None,
    uid_domain: str | None = None,
    note: str | None = None,
) -> bytes:
    """One iTIP message (a VCALENDAR with exactly one VEVENT) about one course day for one attendee.

    - Invitation or update: `method="REQUEST"`, `status="CONFIRMED"`. An update is the same UID with a
      higher `sequence`.
    - The day or the whole run is cancelled: `method="CANCEL"`, `status="CANCELLED"`.
    - Only this attendee is removed (their enrolment cancelled, or not invited to the follow-up day), the
      day itself still takes place: `method="CANCEL"`, `status=None` — RFC 5546 §3.2.5 says STATUS must
      then be absent (nextcloud/server #43802 makes the same distinction).
    Any other combination raises ValueError. A CANCEL must carry a higher `sequence` than the REQUEST the
    attendee got, or clients ignore it as stale: the caller bumps it.

    `organizer_*` and `uid_domain` default to the config (CALENDAR_ORGANIZER_EMAIL/_NAME,
    CALENDAR_UID_DOMAIN). `stamp` (DTSTAMP) must be timezone-aware; it is written in UTC. The attendee is
    the only ATTENDEE (ROLE=REQ-PARTICIPANT, PARTSTAT=NEEDS-ACTION, RSVP=FALSE: the enrolment already
    happened in the portal, and cancelling is done there). `note` (a REQUEST only, in `language`) opens the
    description, e.g. that the follow-up day's date is provisional.
    """
    _check_method_status(method, status)
    config = current_app.config
    organizer = (
        organizer_email or config["CALENDAR_ORGANIZER_EMAIL"],
        organizer_name or config["CALENDAR_ORGANIZER_NAME"],
    )
    _address(*organizer)  # refused here, as before, not inside the cached part
    attendee = _address(attendee_email, attendee_name, role="REQ-PARTICIPANT", partstat="NEEDS-ACTION", rsvp=False)
    with in_language(language):
        if method == REQUEST:
            pass
        elif status == CANCELLED:
            note = _("Kursusdagen er aflyst.")
        else:
            note = _("Du deltager ikke længere i denne kursusdag.")
        summary = event_summary(day)
        description = event_description(day, run_url, note=note, active=method == REQUEST)
    start, end = day_interval_utc(day)
    content = _Content(
        method,
        status,
        summary,
        description,
        day.effective_venue,
        start,
        end,
        event_uid(day, uid_domain),
        run_url or None,
        organizer,
    )
    return _personalised(content, attendee, _utc(stamp), _check_sequence(sequence))


@dataclass(frozen=True)
class _Content:
    """Everything an invitation's calendar says apart from its attendee, DTSTAMP and SEQUENCE."""

    method: str
    status: str | None
    summary: str
    description: str
    location: str
    start: datetime
    end: datetime
    uid: str
    url: str | None
    organizer: tuple[str, str]


def _built(content: _Content, attendee: vCalAddress, stamp: datetime, sequence: int) -> bytes:
    """The invitation's calendar, built by icalendar property by property."""
    event = Event.new(
        uid=content.uid,
        sequence=sequence,
        stamp=stamp,
        start=content.start,
        end=content.end,
        summary=content.summary,
        location=content.location,
        description=content.description,
        url=content.url,
    )
    if content.status:
        event.add("status", content.status)
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(*content.organizer))
    event.add("attendee", attendee)
    cal = _calendar(content.method)
    cal.add_component(event)
    return cal.to_ical()


# Every participant of a day gets the same calendar but for three lines: it is built once per content (with
# a stand-in attendee, stamp and sequence) and those lines are swapped. icalendar writes (and folds) each
# property as a line of its own, so a line swapped gives what building it whole gives
# (tests/notifications/test_fast_compose.py compares them on random content).
_STAND_IN = _address(
    "stand-in@kursusportalen.invalid", None, role="REQ-PARTICIPANT", partstat="NEEDS-ACTION", rsvp=False
)
_STAND_IN_STAMP = datetime(2000, 1, 1, tzinfo=UTC)


@functools.lru_cache(maxsize=256)
def _template(content: _Content) -> bytes:
    return _built(content, _STAND_IN, _STAND_IN_STAMP, 0)


def _attendee_line(attendee: vCalAddress) -> bytes:
    event = Event()
    event.add("attendee", attendee)
    return b"\r\n" + event.to_ical().removeprefix(b"BEGIN:VEVENT\r\n").removesuffix(b"END:VEVENT\r\n")


@functools.cache
def _stand_in_line() -> bytes:
    return _attendee_line(_STAND_IN)


def _ical_utc(stamp: datetime) -> str:
    """A UTC DATE-TIME as icalendar writes it: 20260302T091500Z."""
    return f"{stamp.year:04d}{stamp.month:02d}{stamp.day:02d}T{stamp.hour:02d}{stamp.minute:02d}{stamp.second:02d}Z"


def _personalised(content: _Content, attendee: vCalAddress, stamp: datetime, sequence: int) -> bytes:
    template = _template(content)
    swaps = (
        (_stand_in_line(), _attendee_line(attendee)),
        (b"\r\nDTSTAMP:20000101T000000Z\r\n", f"\r\nDTSTAMP:{_ical_utc(stamp)}\r\n".encode()),
        (b"\r\nSEQUENCE:0\r\n", f"\r\nSEQUENCE:{sequence}\r\n".encode()),
    )
    if any(template.count(old) != 1 for old, _new in swaps):  # never seen; build it whole rather than guess
        return _built(content, attendee, stamp, sequence)
    for old, new in swaps:
        template = template.replace(old, new)
    return template


# --- the personal subscription feed ---------------------------------------------------------------------


@dataclass(frozen=True)
class FeedEntry:
    """One course day in a personal feed.

    `status` is CANCELLED for a cancelled day or run; `sequence` defaults to the day's stored sequence;
    `run_url` links the run in the description. Days the person is no longer enrolled on are best left
    out: a feed is a full snapshot, so the client drops them at its next refresh.

    `informational`: the day for someone without a seat (a run's .ics downloaded from the run page): its
    own UID (`informational_uid`), STATUS:TENTATIVE (CANCELLED if the run is cancelled), free time
    (TRANSP:TRANSPARENT), and a summary and description that say there is no seat. docs/calendar.md.
    """

    day: CourseDay
    status: EventStatus = CONFIRMED
    sequence: int | None = None
    run_url: str | None = None
    informational: bool = False


def feed_calendar(
    entries: Iterable[FeedEntry],
    *,
    name: str,
    stamp: datetime,
    language: str | None = None,
    uid_domain: str | None = None,
) -> bytes:
    """A subscription feed (webcal): no METHOD, no ATTENDEE, one VEVENT per entry with the same UIDs as the
    invitations; NAME/X-WR-CALNAME, REFRESH-INTERVAL;VALUE=DURATION:PT1H and X-PUBLISHED-TTL:PT1H.

    Without entries the calendar holds one VTIMEZONE (the municipality's zone, for the year from `stamp`):
    RFC 5545 §3.6 requires at least one component, and a calendar of only a VTIMEZONE is a valid special
    form; the name (X-WR-CALNAME) keeps clients from naming it after nothing (docs/calendar.md).

    Cancelled entries get STATUS:CANCELLED and an 'Aflyst: ' prefix on the summary, since some clients
    (Google among them) show cancelled events in a subscribed calendar like any other.
    """
    cal = _calendar(None)
    cal.calendar_name = one_line(name)
    cal.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    with in_language(language):
        for entry in entries:
            if entry.status not in (CONFIRMED, CANCELLED, TENTATIVE):
                raise ValueError(f"unsupported STATUS {entry.status!r}")
            if (entry.status == TENTATIVE) != (entry.informational and entry.status != CANCELLED):
                raise ValueError("TENTATIVE is for informational entries, and they are TENTATIVE or CANCELLED")
            day = entry.day
            cancelled = entry.status == CANCELLED
            summary = event_summary(day)
            note = _("Kursusdagen er aflyst.") if cancelled else None
            if entry.informational:
                summary = _("Ikke tilmeldt: %(summary)s", summary=summary)
                no_seat = _(
                    "Du har ikke en plads på dette kursusforløb. Får du en plads, kommer kursusdagene som "
                    "kalenderinvitationer med mail."
                )
                note = f"{note}\n{no_seat}" if note else no_seat
            if cancelled:
                summary = _("Aflyst: %(summary)s", summary=summary)
            cal.add_component(
                _event(
                    day,
                    uid_domain=uid_domain,
                    sequence=day.sequence if entry.sequence is None else entry.sequence,
                    stamp=stamp,
                    status=entry.status,
                    summary=summary,
                    description=event_description(
                        day, entry.run_url, note=note, active=not cancelled and not entry.informational
                    ),
                    run_url=entry.run_url,
                    uid=informational_uid(day, uid_domain) if entry.informational else None,
                    transparent=entry.informational,
                )
            )
    if not cal.subcomponents:
        first = _utc(stamp).date().replace(month=1, day=1)
        cal.add_component(
            Timezone.from_tzid(str(local_tz()), first_date=first, last_date=first.replace(year=first.year + 1))
        )
    return cal.to_ical()
