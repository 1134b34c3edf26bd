"""iMIP mails: MIME structure, headers, bodies in the recipient's language, read back with the stdlib
`email` package; the calendar part checked with icalendar and vobject."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from flask import has_request_context
from flask_babel import get_locale

from app.extensions import db
from app.notifications import compose
from app.notifications.compose import InvitationKind, Recipient
from tests import factories

CPH = ZoneInfo("Europe/Copenhagen")
STAMP = datetime(2026, 3, 2, 10, 15, tzinfo=CPH)
RUN_URL = "https://kursus.example.dk/runs/7"
SARA = Recipient(email="soeren@test.dk", name="Søren Ærbø-Åsted", language="da")


@pytest.fixture
def run(app):
    return factories.make_course_run(
        title="Tidlig inddragelse, hold Æ",
        provider=factories.make_provider(name="Familien i Centrum"),
        days=(date(2026, 3, 30), date(2026, 4, 14), date(2026, 10, 26)),
        venue="Kursuscenter Valby, Toftegårds Allé 7",
    )


def mail(day, kind=InvitationKind.INVITATION, recipient=SARA, **kw):
    """Compose, serialise for the outbox and parse back, as a receiving client would."""
    kw.setdefault("stamp", STAMP)
    kw.setdefault("run_url", RUN_URL)
    msg = compose.invitation_message(day, recipient, kind, **kw)
    raw = compose.message_bytes(msg)
    return raw, message_from_bytes(raw, policy=policy.default)


def parts(msg):
    """(text, html, calendar part, attachment) of an invitation, asserting the exact structure."""
    assert msg.get_content_type() == "multipart/mixed"
    outer = list(msg.iter_parts())
    assert [p.get_content_type() for p in outer] == ["multipart/alternative", "application/ics"]
    inner = list(outer[0].iter_parts())
    assert [p.get_content_type() for p in inner] == ["text/plain", "text/html", "text/calendar"]
    text, html, calendar = inner
    for part in inner:
        assert not part.is_attachment()
    assert outer[1].is_attachment()
    return text, html, calendar, outer[1]


def read_calendar(data: bytes):
    cal = icalendar.Calendar.from_ical(data)
    assert len(cal.walk("VEVENT")) == 1
    vcal = vobject.readOne(data.decode("utf-8"))
    assert len(vcal.vevent_list) == 1
    return cal, vcal


def test_invitation_has_the_imip_structure(run):
    day = run.days[1]
    raw, msg = mail(day)
    text, html, calendar, attachment = parts(msg)

    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_content_charset() == "utf-8"
    ics = calendar.get_content()
    ics_bytes = calendar.get_payload(decode=True)
    cal, vcal = read_calendar(ics_bytes)
    assert vcal.method.value == calendar.get_param("method") == cal["METHOD"]
    assert ics_bytes.startswith(b"BEGIN:VCALENDAR\r\n")  # carried byte for byte, CRLF included
    assert "BEGIN:VEVENT" in ics

    assert attachment.get_filename() == "invitation.ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_payload(decode=True) == ics_bytes  # the same calendar

    assert compose.calendar_of(msg) == ics_bytes
    assert vcal.vevent.uid.value == f"courseday-{day.ical_uid}@kursusportalen.local"
    assert vcal.vevent.sequence.value == "0"
    assert [a.value for a in vcal.vevent.contents["attendee"]] == ["mailto:soeren@test.dk"]
    assert vcal.vevent.attendee.params["CN"] == ["Søren Ærbø-Åsted"]
    assert vcal.vevent.dtstart.value == datetime(2026, 4, 14, 7, 0, tzinfo=UTC)

    # The outbox stores what goes over SMTP: CRLF line ends and 7-bit clean.
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.isascii()


def test_headers(app, run):
    _, msg = mail(run.days[1])
    assert msg["From"] == "Kursusportalen <kursusportalen@kursusportalen.local>" == app.config["MAIL_FROM"]
    to = msg["To"].addresses
    assert len(to) == 1
    assert to[0].display_name == "Søren Ærbø-Åsted" and to[0].addr_spec == "soeren@test.dk"
    assert msg["Subject"] == "Invitation: Tidlig inddragelse, hold Æ – 2. undervisningsdag, 14. april 2026"
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@kursusportalen.local>")
    assert parsedate_to_datetime(msg["Date"]) == STAMP
    assert msg["Content-Language"] == "da"
    assert msg["Auto-Submitted"] == "auto-generated"

    _, other = mail(run.days[1])
    assert other["Message-ID"] != msg["Message-ID"]
    _, fixed = mail(run.days[1], message_id="<outbox-42@kursusportalen.local>")
    assert fixed["Message-ID"] == "<outbox-42@kursusportalen.local>"


def test_bodies_repeat_the_details_and_how_to_cancel(run):
    _, msg = mail(run.days[1])
    text, html, _, _ = parts(msg)
    body, page = text.get_content(), html.get_content()
    for content in (body, page):
        assert "Kære Søren Ærbø-Åsted" in content
        assert "Tidlig inddragelse, hold Æ" in content
        assert "2. undervisningsdag" in content
        assert "tirsdag den 14. april 2026" in content  # weekday and date
        assert "kl. 09.00–15.30" in content
        assert "Kursuscenter Valby, Toftegårds Allé 7" in content
        assert "Familien i Centrum" in content
        assert "Du afmelder dig i Kursusportalen" in content
        assert "Du bliver ikke afmeldt ved at afvise invitationen i din kalender." in content
    assert RUN_URL in body
    assert f'<a href="{RUN_URL}" style="' in page  # a button (tests/notifications/test_mail_html.py)
    assert '<html lang="da">' in page
    assert "<title>Invitation: Tidlig inddragelse, hold Æ" in page


def test_html_escapes_what_users_typed_and_text_keeps_it(run):
    run.title = "Børn & unge <i>hold 1</i>"
    db.session.commit()
    _, msg = mail(run.days[0], recipient=Recipient("a@test.dk", 'Ib "Ø" <Hansen>', "da"))
    text, html, _, _ = parts(msg)
    assert "»Børn & unge <i>hold 1</i>«" in text.get_content()
    page = html.get_content()
    assert "Børn &amp; unge &lt;i&gt;hold 1&lt;/i&gt;" in page and "<i>" not in page
    assert "Ib &#34;Ø&#34; &lt;Hansen&gt;" in page
    assert msg["To"].addresses[0].display_name == 'Ib "Ø" <Hansen>'
    assert msg["To"].addresses[0].addr_spec == "a@test.dk"


def test_update_keeps_the_uid_and_carries_the_new_sequence(run):
    day = run.days[1]
    _, first = mail(day)
    day.day = date(2026, 4, 21)
    day.venue = "Rådhuset"
    day.sequence += 1
    db.session.commit()
    _, second = mail(day, InvitationKind.UPDATE, stamp=datetime(2026, 3, 5, 8, tzinfo=UTC))

    assert second["Subject"] == "Ændret: Tidlig inddragelse, hold Æ – 2. undervisningsdag, 21. april 2026"
    _, v1 = read_calendar(compose.calendar_of(first))
    _, v2 = read_calendar(compose.calendar_of(second))
    assert v2.vevent.uid.value == v1.vevent.uid.value
    assert int(v2.vevent.sequence.value) == 1 > int(v1.vevent.sequence.value)
    assert v2.method.value == "REQUEST" and v2.vevent.status.value == "CONFIRMED"
    assert v2.vevent.location.value == "Rådhuset"
    text, _, calendar, attachment = parts(second)
    assert calendar.get_param("method") == "REQUEST"
    assert attachment.get_filename() == "invitation.ics"
    assert "Kursusdagen nedenfor i kursusforløbet »Tidlig inddragelse, hold Æ« er ændret." in text.get_content()
    assert "tirsdag den 21. april 2026" in text.get_content()


def test_sequence_can_be_raised_for_one_recipient(run):
    day = run.days[0]
    _, msg = mail(day, InvitationKind.CANCELLATION, sequence=day.sequence + 1)
    _, vcal = read_calendar(compose.calendar_of(msg))
    assert vcal.vevent.sequence.value == "1"


@pytest.mark.parametrize(
    ("kind", "subject_prefix", "status", "intro"),
    [
        (InvitationKind.DAY_CANCELLED, "Aflyst: ", "CANCELLED", "er aflyst."),
        (InvitationKind.CANCELLATION, "Afmeldt: ", None, "Du deltager ikke længere i kursusdagen nedenfor"),
    ],
)
def test_cancellations_never_carry_a_request(run, kind, subject_prefix, status, intro):
    day = run.days[2]
    day.sequence = 4
    raw, msg = mail(day, kind)
    text, html, calendar, attachment = parts(msg)

    assert msg["Subject"] == (f"{subject_prefix}Tidlig inddragelse, hold Æ – Opfølgningsdag, 26. oktober 2026")
    assert calendar.get_param("method") == "CANCEL"
    assert attachment.get_filename() == "cancellation.ics"
    ics = calendar.get_payload(decode=True)
    assert attachment.get_payload(decode=True) == ics
    cal, vcal = read_calendar(ics)
    assert vcal.method.value == "CANCEL" == cal["METHOD"]
    assert vcal.vevent.sequence.value == "4"
    assert vcal.vevent.attendee.value == "mailto:soeren@test.dk"
    if status:
        assert vcal.vevent.status.value == status
    else:
        assert "status" not in vcal.vevent.contents
    # Nowhere in the mail, decoded or not, is there a REQUEST.
    assert b"REQUEST" not in raw
    for part in msg.walk():
        if not part.is_multipart():
            assert b"REQUEST" not in part.get_payload(decode=True)
        assert part.get_param("method") in (None, "CANCEL")
    assert intro in text.get_content() and intro in html.get_content()
    assert "Du afmelder dig i Kursusportalen" not in text.get_content()
    assert "Du afmelder dig i Kursusportalen" not in html.get_content()


def test_kind_may_be_given_as_its_value(run):
    _, msg = mail(run.days[0], "day_cancelled")
    assert msg["Subject"].startswith("Aflyst: ")
    with pytest.raises(ValueError):
        mail(run.days[0], "publish")


def test_english_for_a_recipient_who_chose_english(run):
    assert not has_request_context()
    anna = Recipient(email="anna@test.dk", name="Anna Smith", language="en")
    _, msg = mail(run.days[1], recipient=anna)
    text, html, calendar, _ = parts(msg)

    assert msg["Subject"].endswith("Tidlig inddragelse, hold Æ – Teaching day 2, 14 April 2026")
    assert msg["Content-Language"] == "en"
    assert "Tuesday 14 April 2026" in text.get_content()
    assert "09:00–15:30" in text.get_content() and "kl. 09.00" not in text.get_content()
    assert '<html lang="en">' in html.get_content()
    assert "Tuesday 14 April 2026" in html.get_content()
    _, vcal = read_calendar(calendar.get_payload(decode=True))
    assert vcal.vevent.summary.value == "Tidlig inddragelse, hold Æ – Teaching day 2"
    assert str(get_locale()) == "da"  # only forced while composing


def test_recipient_language_wins_over_the_request(app, run):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert str(get_locale()) == "en"
        _, msg = mail(run.days[1])  # Søren reads Danish
        assert msg["Subject"] == "Invitation: Tidlig inddragelse, hold Æ – 2. undervisningsdag, 14. april 2026"
        assert "tirsdag den 14. april 2026" in parts(msg)[0].get_content()
        assert str(get_locale()) == "en"


def test_recipient_from_user(app):
    user = factories.make_user(name="Åse Ødegård", email="aase@test.dk", locale="en")
    recipient = Recipient.from_user(user)
    assert recipient == Recipient(email="aase@test.dk", name="Åse Ødegård", language="en")
    assert Recipient.from_user(factories.make_user(locale=None)).language is None


def test_stamp_must_be_aware(run):
    with pytest.raises(ValueError):
        mail(run.days[0], stamp=datetime(2026, 3, 2, 10, 15))


def test_a_bad_address_is_refused_when_composing(run):
    with pytest.raises(ValueError):
        mail(run.days[0], recipient=Recipient("ikke en adresse", "X"))


# --- plain notices -------------------------------------------------------------------------------------


def test_notice_with_text_only(app):
    msg = compose.notice_message(
        Recipient("aase@test.dk", "Åse Ødegård"),
        "Du står på ventelisten",
        "Kære Åse\n\nDu er nr. 3 på listen.",
        stamp=STAMP,
    )
    back = message_from_bytes(compose.message_bytes(msg), policy=policy.default)
    assert back.get_content_type() == "text/plain"
    # Quoted-printable keeps the wire's CRLF line ends in the decoded text.
    assert back.get_content().replace("\r\n", "\n") == "Kære Åse\n\nDu er nr. 3 på listen.\n"
    assert back["Subject"] == "Du står på ventelisten"
    assert back["To"].addresses[0].display_name == "Åse Ødegård"
    assert back["From"] == app.config["MAIL_FROM"]
    assert back["Content-Language"] == "da"
    assert compose.calendar_of(back) is None


def test_notice_with_html(app):
    recipient = Recipient("anna@test.dk", "Anna", "en")
    text, html = "Hello Anna – æøå", "<p>Hello Anna – æøå</p>"
    with compose.in_language(recipient.language) as language:
        assert language == "en"
    msg = compose.notice_message(recipient, "Your place – æøå", text, html, stamp=STAMP, message_id="<n-1@x.dk>")
    back = message_from_bytes(compose.message_bytes(msg), policy=policy.default)
    assert back.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in back.iter_parts()] == ["text/plain", "text/html"]
    assert back["Subject"] == "Your place – æøå"
    assert back["Content-Language"] == "en"
    assert back["Message-ID"] == "<n-1@x.dk>"
    assert "æøå" in next(back.iter_parts()).get_content()


def test_render_bodies_outside_a_request_in_either_language(app, run):
    assert not has_request_context()
    context = {
        "day": run.days[0],
        "run": run,
        "kind": "invitation",
        "recipient": SARA,
        "run_url": RUN_URL,
        "subject": "Emne",
        "intro": "Indledning",
        "date_text": "mandag den 30. marts 2026",
        "time_text": "kl. 09.00–15.30",
    }
    text, html = compose.render_bodies("notifications/invitation", "da", **context)
    assert text.startswith("Kære Søren Ærbø-Åsted\n\nIndledning\n")
    assert "Venlig hilsen\nKursusportalen\n" in text
    assert html.startswith("<!DOCTYPE html>") and '<html lang="da">' in html
    _, html_en = compose.render_bodies("notifications/invitation", "en", **context)
    assert '<html lang="en">' in html_en
