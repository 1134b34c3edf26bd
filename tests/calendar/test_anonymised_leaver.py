"""Anonymising a participant whose run has begun (docs/calendar.md, "Anonymising a participant"): through the
coordinator's confirmation form, every course day still to come that they held gets a CANCEL with a rising
SEQUENCE (to the old address, without their name), the days that have ended stay history, and nothing is ever
mailed about them again, not even when such a day is moved later. Checked on the outbox rows, the .ics in them
(icalendar) and the model calendar client fed by a real SMTP server."""

from __future__ import annotations

from email import message_from_bytes, policy

from icalendar import Calendar
from sqlalchemy import select

from app.extensions import db
from app.notifications.ical import event_uid
from app.notifications.models import OutboxMessage, OutboxStatus
from tests import factories
from tests.calendar.world import CalendarWorld
from tests.conftest import post_form


def _calendar_part(raw: bytes) -> Calendar:
    for part in message_from_bytes(raw, policy=policy.default).walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_payload(decode=True))
    raise AssertionError("no calendar part")


def _in_own_context(app, call):
    """Requests as on a server: in an app context of their own (a fresh flask.g, where Flask-WTF caches the
    CSRF token, and a database session of their own), after this connection's transaction ended (on SQLite a
    transaction holds the database's write lock)."""
    db.session.commit()
    with app.app_context():
        return call()


def test_anonymising_a_participant_whose_run_has_begun_cancels_every_day_still_to_come(
    committing_app, gated_smtp, clock
):
    world = CalendarWorld(committing_app, gated_smtp)
    assert world.enrol(0, 0) and world.enrol(1, 0)
    world.deliver()
    world.check()
    assert world.follow_up_job(0)  # the evening of teaching day 2: both teaching days have ended
    world.deliver()
    world.check()
    leaver, stays = world.person(0), world.person(1)
    leaver_id, address, name = leaver.id, leaver.email, leaver.name
    run = world.run(0)
    teaching_uids = {event_uid(d) for d in run.days[:2]}
    follow_up_uid = event_uid(run.days[2])
    mailbox = world.clients.calendar(address)
    assert set(mailbox.events) == teaching_uids | {follow_up_uid}
    last_sequence = mailbox.mailed[follow_up_uid]

    # The coordinator anonymises them through the confirmation form, at the world's time.
    world.tick()
    clock.set(world.now)
    client = committing_app.test_client()
    coordinator = world.coordinator
    login = {"email": coordinator.email, "password": factories.PASSWORD}
    assert _in_own_context(committing_app, lambda: post_form(client, "/login", login)).status_code == 302
    response = _in_own_context(
        committing_app, lambda: post_form(client, f"/users/{leaver_id}/anonymise", {"confirm_name": name})
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    world.anonymised.add(leaver_id)
    db.session.expire_all()

    (cancel,) = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.recipient_email == address, OutboxMessage.status == OutboxStatus.PENDING
        )
    ).all()
    assert cancel.kind == "cancellation"
    ics = _calendar_part(cancel.message)
    (event,) = ics.walk("VEVENT")
    assert str(ics["METHOD"]) == "CANCEL"
    assert str(event["UID"]) == follow_up_uid
    assert int(event["SEQUENCE"]) == last_sequence + 1  # outranks everything mailed before
    assert "STATUS" not in event  # the day itself takes place (RFC 5546 §3.2.5)
    assert str(event["ATTENDEE"]) == f"mailto:{address}"
    assert name.split()[0] not in cancel.message.decode("utf-8", "replace")

    world.deliver()
    world.check()
    mailbox = world.clients.calendar(address)
    assert set(mailbox.events) == teaching_uids  # the days that have ended stay, as history
    assert mailbox.ignored == 0

    # A day that had ended when they left is moved into the future: the one who stays gets the update; nothing
    # goes to the leaver (their address is gone; no mail to the placeholder address either).
    received = len(gated_smtp.received)
    assert world.edit_day(0, 1, "date", 2)
    assert not db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_user_id == leaver_id)).all()
    world.deliver()
    world.check()
    assert {tuple(mail.rcpt_tos) for mail in gated_smtp.received[received:]} == {(stays.email,)}
