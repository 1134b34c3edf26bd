"""Mails: the iMIP invitation per course day and recipient (RFC 6047), and plain notice mails.

Pure functions returning `email.message.EmailMessage`; nothing is stored or sent here. The outbox stores
`message_bytes(msg)` when the mail is queued, so its SEQUENCE, times and texts are frozen then.

The invitation's MIME structure (docs/technical-notes.md#calendar):

    multipart/mixed
      multipart/alternative
        text/plain
        text/html
        text/calendar; charset="utf-8"; method=REQUEST|CANCEL   (the `method` equals the calendar's METHOD)
      application/ics, attachment, filename "invitation.ics" ("cancellation.ics" for a CANCEL): the same bytes

The attachment is `application/ics` (as Google's own invitations do) rather than a second text/calendar
part, so no client sees two scheduling objects in one mail. Both calendar parts are base64, which carries
the iCalendar bytes (CRLF line ends, folded lines) unchanged; the text parts are quoted-printable, which
survives any relay.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import current_app, render_template
from flask_babel import gettext as _
from flask_babel import ngettext

from app.core.templating import dk_date
from app.courses.models import CourseDay
from app.notifications import ical
from app.notifications.ical import in_language, normalise_language, one_line

__all__ = [
    "InvitationKind",
    "Recipient",
    "calendar_of",
    "day_line",
    "in_language",
    "invitation_intro",
    "invitation_message",
    "invitation_subject",
    "message_bytes",
    "notice_message",
    "render_bodies",
]


class InvitationKind(enum.StrEnum):
    """What an invitation mail announces; each kind fixes the iTIP METHOD and STATUS.

    The caller says which: a SEQUENCE above 0 does not mean "update" to this recipient (somebody enrolling
    after a date change gets their first invitation with the day's current, higher sequence).
    """

    #: First invitation to this recipient: REQUEST, CONFIRMED.
    INVITATION = "invitation"
    #: The day's date, time or place changed: REQUEST, CONFIRMED, same UID, higher SEQUENCE.
    UPDATE = "update"
    #: The follow-up job fixed the (until then provisional) follow-up day: REQUEST, CONFIRMED, higher SEQUENCE.
    FOLLOW_UP_CONFIRMED = "follow_up_confirmed"
    #: This recipient no longer takes part (enrolment cancelled, moved, or not invited to the follow-up
    #: day); the day itself still takes place: CANCEL without STATUS.
    CANCELLATION = "cancellation"
    #: The day or the whole run is cancelled: CANCEL with STATUS:CANCELLED.
    DAY_CANCELLED = "day_cancelled"

    @property
    def method(self) -> ical.ItipMethod:
        return ical.REQUEST if self in _REQUEST_KINDS else ical.CANCEL

    @property
    def status(self) -> ical.EventStatus | None:
        if self.method == ical.REQUEST:
            return ical.CONFIRMED
        return ical.CANCELLED if self == InvitationKind.DAY_CANCELLED else None

    @property
    def attachment_name(self) -> str:
        return "invitation.ics" if self.method == ical.REQUEST else "cancellation.ics"


_REQUEST_KINDS = frozenset({InvitationKind.INVITATION, InvitationKind.UPDATE, InvitationKind.FOLLOW_UP_CONFIRMED})


@dataclass(frozen=True)
class Recipient:
    """Who a mail goes to, and in which language ('da' or 'en'; None or unknown means Danish)."""

    email: str
    name: str
    language: str | None = None

    @classmethod
    def from_user(cls, user) -> Recipient:
        return cls(email=user.email, name=user.name, language=user.locale)


# --- texts ----------------------------------------------------------------------------------------------


def invitation_subject(day: CourseDay, kind: InvitationKind) -> str:
    """'Invitation: <run> – 1. undervisningsdag, 14. april 2026' (in the current locale)."""
    args = {"run": day.run.title, "day": day.label, "date": dk_date(day.day)}
    if kind == InvitationKind.UPDATE:
        return _("Ændret: %(run)s – %(day)s, %(date)s", **args)
    if kind == InvitationKind.FOLLOW_UP_CONFIRMED:
        return _("Bekræftet: %(run)s – %(day)s, %(date)s", **args)
    if kind == InvitationKind.CANCELLATION:
        return _("Afmeldt: %(run)s – %(day)s, %(date)s", **args)
    if kind == InvitationKind.DAY_CANCELLED:
        return _("Aflyst: %(run)s – %(day)s, %(date)s", **args)
    return _("Invitation: %(run)s – %(day)s, %(date)s", **args)


def invitation_intro(day: CourseDay, kind: InvitationKind) -> str:
    """The mail's first paragraph (in the current locale)."""
    run = day.run.title
    if kind == InvitationKind.UPDATE:
        return _(
            "Kursusdagen nedenfor i kursusforløbet »%(run)s« er ændret. "
            "Kalenderaftalen er opdateret med de nye oplysninger.",
            run=run,
        )
    if kind == InvitationKind.FOLLOW_UP_CONFIRMED:
        return _(
            "Opfølgningsdagen i kursusforløbet »%(run)s« er nu fastlagt. "
            "Kalenderaftalen er opdateret, så den viser den endelige dato.",
            run=run,
        )
    if kind == InvitationKind.CANCELLATION:
        return _(
            "Du deltager ikke længere i kursusdagen nedenfor i kursusforløbet »%(run)s«. Den fjernes fra din kalender.",
            run=run,
        )
    if kind == InvitationKind.DAY_CANCELLED:
        return _(
            "Kursusdagen nedenfor i kursusforløbet »%(run)s« er aflyst. Den markeres som aflyst i din kalender.",
            run=run,
        )
    return _("Du er tilmeldt kursusforløbet »%(run)s«. Her er en kalenderinvitation til kursusdagen nedenfor.", run=run)


def day_line(day: CourseDay) -> str:
    """'1. undervisningsdag: mandag den 30. marts 2026, kl. 09.00–15.30, <sted>' (in the current locale)."""
    return f"{day.label}: {dk_date(day.day, 'full')}, {ical.time_range(day)}, {day.effective_venue}"


def run_overview(day: CourseDay, kind: InvitationKind) -> tuple[str, list[str]] | None:
    """The first invitation of a run (for its first day: what enrolling sends first) lists every day of the run
    and says that each comes as its own calendar invitation; None for every other mail."""
    days = day.run.days
    if kind != InvitationKind.INVITATION or len(days) < 2 or day is not days[0]:
        return None
    intro = ngettext(
        "Kursusforløbet har %(num)s kursusdag. Den kommer som en kalenderinvitation i sin egen mail:",
        "Kursusforløbet har %(num)s kursusdage. Hver dag kommer som sin egen kalenderinvitation i en mail for sig:",
        len(days),
    )
    return intro, [day_line(d) for d in days]


def render_bodies(template: str, language: str | None, **context) -> tuple[str, str]:
    """Render `<template>.txt` and `<template>.html` (under templates/) in `language`: (text, html).

    Works without a request (the scheduler's app context). The templates get `language` and `sender_name`.
    """
    with in_language(language) as code:
        context.setdefault("language", code)
        context.setdefault("sender_name", current_app.config["CALENDAR_ORGANIZER_NAME"])
        return render_template(f"{template}.txt", **context), render_template(f"{template}.html", **context)


# --- messages -------------------------------------------------------------------------------------------

#: A display name of atoms and spaces only (RFC 5322 atext): it needs neither quoting nor encoding.
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+")
_MAX_HEADER_LINE = 78  # RFC 5322 2.1.1's "SHOULD"; policy.SMTP folds at the same length


def to_header(name: str, email: str) -> str:
    """The To: value for `name` <`email`>, folded into lines of at most 78 characters (CRLF between them).

    A name of atoms and spaces is written as it is. Any other name (a comma as in "Hansen, Jens", quotes,
    <, >, ;, æøå) becomes RFC 2047 encoded-words made here. Python 3.11's own folder can't be trusted with
    these: folding a long quoted display name drops the quotes, so "Hansen, Jens ..., Socialrådgiver"
    became three recipients and a name holding "<x>" or "Bcc: a@b" turned into addresses.
    `Address()` checks the address itself (a bad one raises here, not at sending).
    """
    addr_spec = Address(addr_spec=one_line(email)).addr_spec
    name = one_line(name)
    if not name:
        return addr_spec
    if _PLAIN_PHRASE.fullmatch(name):
        display = name
    else:
        display = Header(name, "utf-8", maxlinelen=_MAX_HEADER_LINE, header_name="To").encode(linesep="\r\n")
    last_line = display.rsplit("\r\n", 1)[-1]
    prefix = len("To: ") if "\r\n" not in display else 0
    separator = " " if prefix + len(last_line) + len(addr_spec) + 3 <= _MAX_HEADER_LINE else "\r\n "
    return f"{display}{separator}<{addr_spec}>"


def _envelope(recipient: Recipient, subject: str, stamp: datetime, message_id: str | None) -> EmailMessage:
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        raise ValueError("stamp must be a timezone-aware datetime")
    msg = EmailMessage(policy=policy.default)
    msg["From"] = current_app.config["MAIL_FROM"]
    # Stored as folded here and sent as it is (policy.SMTP refolds only lines that are too long): see to_header.
    msg.set_raw("To", to_header(recipient.name, recipient.email))
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(stamp)
    msg["Message-ID"] = message_id or make_msgid(domain=current_app.config["CALENDAR_UID_DOMAIN"])
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to these
    return msg


def invitation_message(
    day: CourseDay,
    recipient: Recipient,
    kind: InvitationKind,
    *,
    stamp: datetime,
    run_url: str,
    sequence: int | None = None,
    message_id: str | None = None,
    note: str | None = None,
) -> EmailMessage:
    """The iMIP mail about one course day for one recipient (one UID per mail, the recipient the only
    ATTENDEE), in the recipient's language.

    `note` (already in the recipient's language) is a sentence shown after the intro and at the top of the
    event's description, e.g. that the follow-up day's date is still provisional.

    `sequence` defaults to the day's stored sequence; pass a higher one when the caller bumps it for this
    recipient. `stamp` (aware) is both DTSTAMP and the Date header. `message_id` defaults to a fresh
    `<...@CALENDAR_UID_DOMAIN>`; the outbox may pass a stable one per row (`make_msgid(idstring=...)`).
    """
    kind = InvitationKind(kind)
    sequence = day.sequence if sequence is None else sequence
    calendar = ical.course_day_calendar(
        day,
        method=kind.method,
        attendee_email=recipient.email,
        attendee_name=recipient.name,
        sequence=sequence,
        stamp=stamp,
        status=kind.status,
        run_url=run_url,
        language=recipient.language,
        note=note,
    )
    with in_language(recipient.language) as language:
        subject = invitation_subject(day, kind)
        run_days_intro, run_days = run_overview(day, kind) or (None, [])
        text, html = render_bodies(
            "notifications/invitation",
            language,
            day=day,
            run=day.run,
            kind=kind.value,
            recipient=recipient,
            run_url=run_url,
            subject=subject,
            intro=invitation_intro(day, kind),
            note=note,
            date_text=dk_date(day.day, "full"),
            time_text=ical.time_range(day),
            run_days_intro=run_days_intro,
            run_days=run_days,
        )
    msg = _envelope(recipient, subject, stamp, message_id)
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    params = {"method": kind.method, "charset": "utf-8"}
    msg.add_alternative(calendar, maintype="text", subtype="calendar", params=params)
    msg.add_attachment(calendar, maintype="application", subtype="ics", filename=kind.attachment_name)
    # Set last: turning the message into a multipart moves (and so loses) the top level's Content-* headers.
    msg["Content-Language"] = language
    return msg


def notice_message(
    recipient: Recipient,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    stamp: datetime,
    message_id: str | None = None,
) -> EmailMessage:
    """A plain mail (no calendar): text/plain, or multipart/alternative with `html`.

    The caller renders subject and bodies in the recipient's language, e.g.
    `with in_language(r.language): subject = _(...)` and `render_bodies("enrolment/mail/confirmed", ...)`.
    """
    language = normalise_language(recipient.language)
    msg = _envelope(recipient, subject, stamp, message_id)
    msg.set_content(text, cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
    msg["Content-Language"] = language
    return msg


def message_bytes(msg: EmailMessage) -> bytes:
    """The mail as it goes over SMTP (CRLF line ends, 7-bit headers), for the outbox to store."""
    return msg.as_bytes(policy=policy.SMTP)


def calendar_of(msg: EmailMessage) -> bytes | None:
    """The text/calendar part's bytes (None for a mail without one)."""
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes), "a text/calendar part is a leaf: decode=True gives its bytes"
            return payload
    return None
