"""A participant who cancels while a date-change update is still waiting in the outbox must still get a
CANCEL for every course day: their calendar holds the invitation that *was* delivered, and only a CANCEL
takes it out. (Withdrawing the unsent update instead, as if it were an unsent first invitation, leaves the
earlier invitation in their calendar: issue 26.)

Driven as the people would: the staff member enrols and cancels through the run page's forms, the
coordinator moves a day in the run form, the outbox job delivers to a real SMTP server on loopback, and the
delivered calendars are read back with the `icalendar` library.
"""

from __future__ import annotations

from datetime import date

import icalendar
import pytest
from sqlalchemy import select

from app.courses.models import CourseRun
from app.extensions import db
from app.notifications import outbox
from app.notifications.models import OutboxMessage, OutboxStatus
from tests import factories
from tests.conftest import post_action, post_form
from tests.enrolment.test_coordinator_views import edit_payload

#: Teaching days after the tests' frozen clock (2 March 2026), the follow-up day months later.
DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))
MOVED_TO = date(2026, 4, 13)


@pytest.fixture
def scene(app, smtp_server, fic_provider, coordinator):
    app.config["SMTP_URL"] = smtp_server.url
    run = factories.make_course_run(
        provider=fic_provider, days=DAYS, capacity=5, enrolment_deadline=date(2026, 4, 1), title="Hold A"
    )
    method = factories.make_method()
    run.methods.append(method)
    (staff,) = factories.make_eligible_staff(run, 1, email="deltager@test.dk")
    db.session.commit()
    return run, staff


def delivered_events(server, email: str) -> list[tuple[str, str, int, date]]:
    """(METHOD, UID, SEQUENCE, start date) of every event delivered to `email`, in delivery order."""
    events = []
    for mail in server.received:
        if mail.rcpt_tos != [email]:
            continue
        for part in mail.message.walk():
            if part.get_content_type() != "text/calendar":
                continue
            cal = icalendar.Calendar.from_ical(part.get_payload(decode=True))
            for event in cal.walk("VEVENT"):
                start = event.decoded("DTSTART")
                events.append((str(cal["METHOD"]), str(event["UID"]), int(event["SEQUENCE"]), start.date()))
    return events


def deliver(clock) -> outbox.DeliveryReport:
    return outbox.deliver_due(clock.now())


def logged_in(app, user):
    """A browser of its own, logged in as `user` through the login form."""
    browser = app.test_client()
    response = post_form(browser, "/login", {"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302
    return browser


def pending_kinds(email: str) -> list[str]:
    stmt = select(OutboxMessage.kind).where(
        OutboxMessage.recipient_email == email, OutboxMessage.status == OutboxStatus.PENDING
    )
    return list(db.session.scalars(stmt.order_by(OutboxMessage.id)))


def test_cancelling_while_an_update_is_unsent_cancels_every_day(app, coordinator, scene, smtp_server, clock):
    run, staff = scene
    run_id, email = run.id, staff.email
    participant, office = logged_in(app, staff), logged_in(app, coordinator)

    assert (
        post_action(participant, f"/runs/{run_id}/enrol", {"note": ""}, from_url=f"/runs/{run_id}").status_code == 302
    )
    assert deliver(clock).sent == 3
    invited = delivered_events(smtp_server, email)
    assert [(method, start) for method, _uid, _seq, start in invited] == [("REQUEST", d) for d in DAYS]
    uids = [uid for _method, uid, _seq, _start in invited]

    # The coordinator moves teaching day 1; the update to the participant is queued, not yet sent.
    clock.advance(minutes=10)
    run = db.session.get(CourseRun, run_id)
    response = post_form(office, f"/runs/{run_id}/edit", edit_payload(run, day1_date=MOVED_TO.isoformat()))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert pending_kinds(email) == ["update"]

    # Before the job runs, the participant cancels.
    clock.advance(minutes=5)
    response = post_action(participant, f"/runs/{run_id}/cancel", from_url=f"/runs/{run_id}")
    assert response.status_code == 302

    deliver(clock)
    after = delivered_events(smtp_server, email)[len(invited) :]
    cancelled = {uid: seq for method, uid, seq, _start in after if method == "CANCEL"}
    assert set(cancelled) == set(uids), "every day the participant's calendar holds must be cancelled"
    assert all(seq >= 1 for seq in cancelled.values())
    assert not [event for event in after if event[0] == "REQUEST"]  # the unsent update was not sent after all
