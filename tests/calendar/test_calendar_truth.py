"""Issue 19, one example per fault: each change reaches every calendar, in order, checked against the model
calendar client (tests/calendar/model_client.py) fed by a real SMTP server. Each test fails when its fix
is reverted (see docs/calendar.md)."""

from __future__ import annotations

from icalendar import Calendar
from sqlalchemy import select

from app.calendar import feeds
from app.enrolment.models import EnrolmentStatus
from app.extensions import db
from app.notifications.ical import event_uid
from app.notifications.models import OutboxMessage, OutboxStatus
from tests.calendar.world import CalendarWorld


def sequences(body: bytes) -> dict[str, int]:
    return {str(e["UID"]): int(e["SEQUENCE"]) for e in Calendar.from_ical(body).walk("VEVENT")}


def test_a_change_of_the_runs_venue_or_title_reaches_every_calendar(committing_app, gated_smtp):
    world = CalendarWorld(committing_app, gated_smtp)
    assert world.enrol(0, 0) and world.enrol(1, 0)
    world.deliver()
    world.check()
    assert world.edit_run(0, "venue", 7)  # no day has a venue of its own: every LOCATION changes
    world.deliver()
    world.check()
    assert world.edit_run(0, "title", 8)  # every SUMMARY changes
    world.deliver()
    world.check()
    calendar = world.clients.calendar(world.addresses[world.people_ids[0]])
    assert {e.location for e in calendar.events.values()} == {"Kursuscenter 7"}
    assert {e.sequence for e in calendar.events.values()} == {2}


def test_the_runs_description_is_not_in_the_event_and_sends_nothing(committing_app, gated_smtp):
    world = CalendarWorld(committing_app, gated_smtp)
    assert world.enrol(0, 0)
    world.deliver()
    received = len(gated_smtp.received)
    assert world.edit_run(0, "description", 1)
    world.deliver()
    world.check()
    assert len(gated_smtp.received) == received


def test_re_enrolling_after_a_cancellation_is_not_ignored_as_obsolete(committing_app, gated_smtp):
    world = CalendarWorld(committing_app, gated_smtp)
    assert world.enrol(0, 0)
    world.deliver()
    assert world.cancel(0, 0)  # CANCEL, SEQUENCE 1
    world.deliver()
    assert world.enrol(0, 0)  # a new enrolment: the REQUEST must outrank the CANCEL
    world.deliver()
    world.check()
    calendar = world.clients.calendar(world.addresses[world.people_ids[0]])
    assert len(calendar.events) == 3 and calendar.ignored == 0
    assert {e.sequence for e in calendar.events.values()} == {2}


def test_moving_away_and_back_and_reject_then_approve_keep_the_sequence_rising(committing_app, gated_smtp):
    world = CalendarWorld(committing_app, gated_smtp)
    assert world.enrol(0, 0)
    world.deliver()
    assert world.move(0, 0, 2)
    world.deliver()
    assert world.move(0, 2, 0)
    world.deliver()
    world.check()
    assert world.enrol(1, 1)  # B requires approval
    assert world.reject(1)
    assert world.enrol(1, 1) and world.approve(1)
    world.deliver()
    world.check()
    assert world.clients.calendar(world.addresses[world.people_ids[0]]).ignored == 0


def test_the_feed_and_the_run_file_never_lag_the_mailed_cancellation(committing_app, gated_smtp):
    world = CalendarWorld(committing_app, gated_smtp)
    assert world.enrol(0, 0)
    world.deliver()
    assert world.cancel(0, 0)
    world.deliver()
    person = world.person(0)
    run = world.run(0)
    mailed = world.clients.calendar(person.email).mailed
    assert set(mailed.values()) == {1}
    assert sequences(feeds.render_feed(person).body) == {event_uid(d): 1 for d in run.days}
    assert sequences(feeds.render_run(run, person)) == {event_uid(d): 1 for d in run.days}
    world.check()


def test_cancelling_while_the_mailer_sends_the_invitation_queues_a_cancel(committing_app, gated_smtp):
    world = CalendarWorld(committing_app, gated_smtp)
    assert world.enrol(0, 0)
    assert world.cancel_while_delivering(0)
    world.deliver()
    world.check()  # the calendar holds nothing: the delivered invitation was followed by its CANCEL
    person = world.person(0)
    rows = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient_email == person.email).order_by(OutboxMessage.id)
    ).all()
    first = rows[0]
    assert first.kind == "invitation" and first.status == OutboxStatus.SENT
    assert "cancellation" in {r.kind for r in rows if r.status == OutboxStatus.SENT}


def test_a_waiting_listed_person_gets_a_calendar_file_that_cannot_pass_for_a_seat(committing_app, gated_smtp):
    world = CalendarWorld(committing_app, gated_smtp)
    assert world.enrol(0, 0) and world.enrol(1, 0) and world.enrol(2, 0)
    waiting, run = world.person(2), world.run(0)
    assert world.active_enrolment(waiting, run).status == EnrolmentStatus.WAITLISTED
    events = Calendar.from_ical(feeds.render_run(run, waiting)).walk("VEVENT")
    assert len(events) == 3
    real = {event_uid(d) for d in run.days}
    for event in events:
        assert str(event["UID"]) not in real
        assert (str(event["STATUS"]), str(event["TRANSP"])) == ("TENTATIVE", "TRANSPARENT")
        assert str(event["SUMMARY"]).startswith("Ikke tilmeldt: ")
    # Promoted: the same download is now the seat's own events, the invitations' UIDs.
    assert world.cancel(0, 0)
    events = Calendar.from_ical(feeds.render_run(world.run(0), world.person(2))).walk("VEVENT")
    assert {str(e["UID"]) for e in events} == real and {str(e["STATUS"]) for e in events} == {"CONFIRMED"}
