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

import binascii
import enum
import functools
import random
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from email import policy, quoprimime
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
    "FrozenMail",
    "InvitationKind",
    "Recipient",
    "calendar_of",
    "day_line",
    "in_language",
    "invitation_intro",
    "invitation_mail",
    "invitation_message",
    "invitation_subject",
    "message_bytes",
    "notice_mail",
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
    return f"{day.label}: {dk_date(day.day, 'full')}, {ical.day_hours(day)}, {day.effective_venue}"


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


@dataclass(frozen=True)
class _InvitationParts:
    """What an invitation mail says, rendered (in the recipient's language): the pieces both ways of putting
    it together (`invitation_message`, `invitation_mail`) share."""

    subject: str
    text: str
    html: str
    calendar: bytes
    language: str
    kind: InvitationKind


def _invitation_parts(
    day: CourseDay,
    recipient: Recipient,
    kind: InvitationKind,
    *,
    stamp: datetime,
    run_url: str,
    sequence: int | None,
    note: str | None,
) -> _InvitationParts:
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
            time_text=ical.day_hours(day),
            run_days_intro=run_days_intro,
            run_days=run_days,
        )
    return _InvitationParts(subject, text, html, calendar, language, kind)


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

    `invitation_mail()` gives the same mail's bytes (what the outbox stores) several times faster.
    """
    parts = _invitation_parts(day, recipient, kind, stamp=stamp, run_url=run_url, sequence=sequence, note=note)
    msg = _envelope(recipient, parts.subject, stamp, message_id)
    msg.set_content(parts.text, cte="quoted-printable")
    msg.add_alternative(parts.html, subtype="html", cte="quoted-printable")
    params = {"method": parts.kind.method, "charset": "utf-8"}
    msg.add_alternative(parts.calendar, maintype="text", subtype="calendar", params=params)
    msg.add_attachment(parts.calendar, maintype="application", subtype="ics", filename=parts.kind.attachment_name)
    # Set last: turning the message into a multipart moves (and so loses) the top level's Content-* headers.
    msg["Content-Language"] = parts.language
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


# --- the outbox's bytes without building an EmailMessage ------------------------------------------------
#
# Building an `EmailMessage` and flattening it costs ~3 ms an invitation, nearly all of it in the `email`
# package's header machinery: every header set is parsed into a tree and every multipart conversion
# (`add_alternative`, `add_attachment`) re-parses the Content-* headers, only to fold them back into the
# same few lines. `invitation_mail()` writes the bytes `message_bytes(invitation_message(...))` gives
# directly, using the same standard-library pieces for everything that varies (header folding and RFC 2047
# encoded words through the same policy, quoted-printable and base64 through the same encoders, the
# boundaries from the same generator), memoised where the value repeats (From, the subject of a day, the
# part headers). tests/notifications/test_fast_compose.py compares the two byte for byte on random inputs.

_FOLDING = policy.SMTP  # what `message_bytes` flattens with
_CRLF = "\r\n"
_NLCRE = re.compile(r"\r\n|\r|\n")  # email.generator's line-end pattern
_MAX_LINE: int = policy.default.max_line_length or 78  # the EmailMessage's own policy (78), which encodes the bodies
#: A boundary as email.generator makes it: 15 '=', 19 digits, '=='. Folded once with this stand-in, then the
#: digits are swapped (same length, same kind of characters, so the same folding).
_BOUNDARY_STANDIN = "=" * 15 + "0" * len(repr(sys.maxsize - 1)) + "=="
_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))  # email.generator's _fmt: the token zero-padded to this width
#: A quoted-printable text part's content headers (the HTML part's say text/html).
_TEXT_PART = 'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
_SIMPLE_MESSAGE_ID = re.compile(r"<[A-Za-z0-9.\-_]+@[A-Za-z0-9.\-]+>")


@dataclass(frozen=True)
class FrozenMail:
    """A mail's SMTP bytes, ready except for its Message-ID (which the outbox derives from the dedupe key):
    `head` is the headers before it, `tail` everything after. `subject` is the Subject as the outbox lists it.
    Rendered before the run's lock is taken (app.enrolment.invitations), it is finished under the lock."""

    head: bytes
    tail: bytes
    subject: str

    def with_message_id(self, message_id: str) -> bytes:
        return self.head + _message_id_line(message_id) + self.tail


@functools.lru_cache(maxsize=2048)
def _folded(name: str, value: str) -> str:
    """`name: value` as `message_bytes` writes it: parsed by the message's policy (policy.default), folded
    by policy.SMTP (RFC 2047 encoded words for non-ASCII text, CRLF, at most 78 characters a line)."""
    return _FOLDING.fold(
        name, policy.default.header_store_parse(name, value)[1]
    )  # refuses line breaks, as msg[name] = does


@functools.lru_cache(maxsize=2048)
def _header_text(name: str, value: str) -> str:
    """What `str(msg[name])` gives back for `value` (encoded words in it are decoded, for instance)."""
    return str(policy.default.header_store_parse(name, value)[1])


def _message_id_line(message_id: str) -> bytes:
    line = f"Message-ID: {message_id}{_CRLF}"
    if _SIMPLE_MESSAGE_ID.fullmatch(message_id) and len(line) <= _MAX_HEADER_LINE + 2:
        return line.encode("ascii")  # what the policy folds a short dot-atom Message-ID to
    return _FOLDING.fold("Message-ID", policy.default.header_factory("Message-ID", message_id)).encode("ascii")


@functools.lru_cache(maxsize=16)
def _multipart_type_template(subtype: str) -> str:
    return _folded("Content-Type", f'multipart/{subtype}; boundary="{_BOUNDARY_STANDIN}"')


def _multipart_type(subtype: str, boundary: str) -> str:
    if len(boundary) != len(_BOUNDARY_STANDIN):  # the generator added a ".n" after a clash: fold it afresh
        return _FOLDING.fold(
            "Content-Type", policy.default.header_factory("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')
        )
    return _multipart_type_template(subtype).replace(_BOUNDARY_STANDIN, boundary)


def _write_lines(payload: str) -> str:
    """The payload's lines with CRLF ends, as email.generator's `_write_lines` writes them."""
    if not payload:
        return ""
    lines = _NLCRE.split(payload)
    out = _CRLF.join(lines[:-1]) + _CRLF if len(lines) > 1 else ""
    return out + lines[-1]


def _qp_body(text: str) -> str:
    """`set_content(text, cte="quoted-printable")`'s payload (email.contentmanager's `_encode_text`)."""
    lines = text.encode("utf-8").splitlines()
    return quoprimime.body_encode((b"\n".join(lines) + b"\n").decode("latin-1"), _MAX_LINE)


def _base64_body(data: bytes) -> str:
    """`set_content(bytes, ..., cte="base64")`'s payload (email.contentmanager's `_encode_base64`)."""
    step = _MAX_LINE // 4 * 3
    return "".join(binascii.b2a_base64(data[i : i + step]).decode("ascii") for i in range(0, len(data), step))


def _make_boundary(text: bytes) -> str:
    """email.generator's `_make_boundary(text)`: the same random draw and format, and the same search for a
    clash, which compiles a regular expression per boundary; done only when the boundary occurs in `text` at
    all (practically never), since the pattern cannot match otherwise."""
    boundary = "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_DIGITS}d}" + "=="
    if boundary.encode("ascii") not in text:
        return boundary
    candidate, counter = boundary, 0
    while re.compile(b"^--" + re.escape(candidate.encode("ascii")) + b"(--)?$", re.MULTILINE).search(text):
        candidate, counter = f"{boundary}.{counter}", counter + 1
    return candidate


def _multipart(subtype: str, parts: list[str]) -> tuple[str, str]:
    """(Content-Type header, body) of a multipart holding `parts` (each a part's headers, blank line and
    body), as email.generator's `_handle_multipart` writes it; the boundary is drawn the same way."""
    boundary = _make_boundary(_CRLF.join(parts).encode("ascii"))
    body = f"--{boundary}{_CRLF}" + "".join(
        (_CRLF if i else "") + (f"--{boundary}{_CRLF}" if i else "") + part for i, part in enumerate(parts)
    )
    return _multipart_type(subtype, boundary), body + f"{_CRLF}--{boundary}--{_CRLF}"


def invitation_mail(
    day: CourseDay,
    recipient: Recipient,
    kind: InvitationKind,
    *,
    stamp: datetime,
    run_url: str,
    sequence: int | None = None,
    note: str | None = None,
) -> FrozenMail:
    """`message_bytes(invitation_message(...))`, byte for byte (but for the random MIME boundaries, drawn as
    the generator draws them), without building the EmailMessage; its Message-ID is set by
    `FrozenMail.with_message_id`."""
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        raise ValueError("stamp must be a timezone-aware datetime")
    parts = _invitation_parts(day, recipient, kind, stamp=stamp, run_url=run_url, sequence=sequence, note=note)
    calendar = _write_lines(_base64_body(parts.calendar))
    inner = [
        _TEXT_PART + _CRLF + _write_lines(_qp_body(parts.text)),
        _TEXT_PART.replace("text/plain", "text/html")
        + "MIME-Version: 1.0\r\n\r\n"
        + _write_lines(_qp_body(parts.html)),
        "Content-Transfer-Encoding: base64\r\n"
        + _folded("Content-Type", f'text/calendar; method="{parts.kind.method}"; charset="utf-8"')
        + "MIME-Version: 1.0\r\n\r\n"
        + calendar,
    ]
    alternative_type, alternative_body = _multipart("alternative", inner)
    attachment = (
        "Content-Type: application/ics\r\nContent-Transfer-Encoding: base64\r\n"
        + _folded("Content-Disposition", f'attachment; filename="{parts.kind.attachment_name}"')
        + "MIME-Version: 1.0\r\n\r\n"
        + calendar
    )
    mixed_type, mixed_body = _multipart("mixed", [alternative_type + _CRLF + alternative_body, attachment])
    return _frozen(recipient, parts.subject, stamp, "MIME-Version: 1.0\r\n" + mixed_type, parts.language, mixed_body)


def notice_mail(
    recipient: Recipient, subject: str, text: str, html: str | None = None, *, stamp: datetime
) -> FrozenMail:
    """`message_bytes(notice_message(...))`, byte for byte (the boundary drawn as the generator draws it),
    without building the EmailMessage; its Message-ID is set by `FrozenMail.with_message_id`."""
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        raise ValueError("stamp must be a timezone-aware datetime")
    language = normalise_language(recipient.language)
    plain = _write_lines(_qp_body(text))
    if html is None:
        content = _TEXT_PART + "MIME-Version: 1.0\r\n"
        return _frozen(recipient, subject, stamp, content, language, plain)
    html_part = (
        _TEXT_PART.replace("text/plain", "text/html") + "MIME-Version: 1.0\r\n\r\n" + _write_lines(_qp_body(html))
    )
    alternative_type, body = _multipart("alternative", [_TEXT_PART + _CRLF + plain, html_part])
    return _frozen(recipient, subject, stamp, "MIME-Version: 1.0\r\n" + alternative_type, language, body)


def _frozen(recipient: Recipient, subject: str, stamp: datetime, content: str, language: str, body: str) -> FrozenMail:
    """The envelope (`_envelope`'s headers, the Message-ID left open), the top level's content headers, the
    Content-Language set last, a blank line and the body."""
    subject = one_line(subject)
    head = (
        _folded("From", current_app.config["MAIL_FROM"])
        + _FOLDING.fold("To", to_header(recipient.name, recipient.email))  # set_raw: folded by us already
        + _folded("Subject", subject)
        + _folded("Date", format_datetime(stamp))
    )
    tail = "Auto-Submitted: auto-generated\r\n" + content + _folded("Content-Language", language) + _CRLF + body
    return FrozenMail(head.encode("ascii"), tail.encode("ascii"), " ".join(_header_text("Subject", subject).split()))
