"""From the staff member's click to the mail server: enrol and cancel through the web form, let the
scheduler's delivery job run, and read what a real SMTP server (aiosmtpd on loopback) received, with the
calendar parts parsed by vobject (not the library that wrote them)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import vobject

from app.extensions import db
from app.notifications.ical import event_uid
from scheduler import jobs
from tests import factories
from tests.conftest import post_form

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
DAYS = (date(2026, 3, 27), date(2026, 3, 30), date(2026, 10, 26))


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: TODAY)
    monkeypatch.setattr("app.core.clock.now", lambda: NOW)
    monkeypatch.setattr("app.core.clock.utcnow", lambda: NOW)


@pytest.fixture
def run(app):
    return factories.make_course_run(title="Signs of Safety, hold Ø", days=DAYS, enrolment_deadline=date(2026, 3, 20))


def deliver():
    """The delivery job, as the scheduler runs it (a minute later)."""
    return jobs.send_due_notifications(NOW + timedelta(minutes=1))


def calendars(mails):
    """(MIME method, vobject VEVENT) of each received mail, in arrival order."""
    found = []
    for mail in mails:
        part = next(p for p in mail.message.walk() if p.get_content_type() == "text/calendar")
        found.append((part.get_param("method"), vobject.readOne(part.get_content()).vevent))
    return found


def test_enrol_on_the_web_then_the_invitations_then_cancel_and_the_cancellations(
    app, client, login_as, run, smtp_server
):
    app.config["SMTP_URL"] = smtp_server.url
    (me,) = factories.make_eligible_staff(run, 1)
    login_as(me)
    run_page = f"/runs/{run.id}"

    assert post_form(client, f"{run_page}/enrol", {}, form_url=run_page).status_code == 302
    assert deliver().sent == 3
    invitations = smtp_server.received
    assert [m.rcpt_tos for m in invitations] == [[me.email]] * 3
    parsed = calendars(invitations)
    assert [(method, event.uid.value, event.sequence.value) for method, event in parsed] == [
        ("REQUEST", event_uid(day), "0") for day in run.days
    ]
    body = invitations[0].message.get_body(("plain",)).get_content()
    assert "Signs of Safety, hold Ø" in body and "Du afmelder dig i Kursusportalen" in body

    assert post_form(client, f"{run_page}/cancel", {}, form_url=run_page).status_code == 302
    assert deliver().sent == 3
    cancellations = calendars(smtp_server.received[3:])
    assert [(method, event.uid.value, event.sequence.value) for method, event in cancellations] == [
        ("CANCEL", event_uid(day), "1") for day in run.days
    ]
    # Delivering again sends nothing: every mail went exactly once.
    db.session.expire_all()
    assert deliver().sent == 0
    assert len(smtp_server.received) == 6
    assert len(smtp_server.count_by_message_id()) == 6
