"""Delivery over real SMTP: an aiosmtpd server on loopback receives the mails (no mocks), they are parsed
back with the stdlib `email` package, and the calendar part is read with vobject, a parser independent of
the icalendar library that wrote it. Time is passed in as `now`; nothing sleeps."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from email import policy
from email.parser import BytesParser
from urllib.parse import quote

import pytest
import vobject
from sqlalchemy import select

from app.extensions import db
from app.notifications import compose, outbox
from app.notifications.compose import InvitationKind
from app.notifications.ical import event_uid
from app.notifications.models import OutboxMessage, OutboxStatus
from app.notifications.transport import SmtpTransport
from tests import factories
from tests.notifications.conftest import NOW, SMTP_PASSWORD, SMTP_USER, as_utc


@pytest.fixture
def people(app):
    return [factories.make_user(name=f"Deltager {n}", email=f"deltager{n}@test.dk") for n in range(1, 4)]


@pytest.fixture
def smtp_config(app, smtp_server):
    app.config["SMTP_URL"] = smtp_server.url
    return smtp_server


def calendar(mail):
    """The text/calendar part of a received mail, parsed by vobject."""
    part = next(p for p in mail.message.walk() if p.get_content_type() == "text/calendar")
    return part, vobject.readOne(part.get_content())


def rows() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_three_mails_queued_in_one_transaction_arrive_once_each_and_intact(
    smtp_config, course_run, people, queue_invitation
):
    server = smtp_config
    days = course_run.days
    queued = [
        queue_invitation(days[0], people[0]),
        queue_invitation(days[1], people[0]),
        queue_invitation(days[0], people[1]),
    ]
    db.session.commit()

    report = outbox.deliver_due(NOW)

    assert report == outbox.DeliveryReport(sent=3)
    assert len(server.received) == 3
    assert {mail.connection for mail in server.received} == {1}  # one connection for the batch
    for mail, row, (day, person) in zip(
        server.received, queued, [(days[0], people[0]), (days[1], people[0]), (days[0], people[1])], strict=True
    ):
        assert mail.mail_from == "kursusportalen@kursusportalen.local"
        assert mail.rcpt_tos == [person.email]
        assert mail.content == row.message  # the bytes frozen at queue time, unchanged by the trip
        msg = BytesParser(policy=policy.default).parsebytes(mail.content)
        assert msg["To"].addresses[0].addr_spec == person.email
        assert msg.get_content_type() == "multipart/mixed"
        part, cal = calendar(mail)
        assert part.get_param("method") == "REQUEST"
        assert cal.method.value == "REQUEST"
        assert cal.vevent.uid.value == event_uid(day)
        assert cal.vevent.sequence.value == "0"
        assert cal.vevent.attendee.value.lower() == f"mailto:{person.email}"
        # The same calendar bytes as composed: nothing was re-encoded on the way.
        assert compose.calendar_of(msg) == compose.calendar_of(
            BytesParser(policy=policy.default).parsebytes(row.message)
        )
    # Times survive in UTC on both sides of the spring DST change (27 March CET, 30 March CEST).
    assert calendar(server.received[0])[1].vevent.dtstart.value == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    assert calendar(server.received[1])[1].vevent.dtstart.value == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)

    for row in rows():
        assert (row.status, row.attempts, as_utc(row.sent_at), row.last_error) == (OutboxStatus.SENT, 1, NOW, None)
    assert outbox.deliver_due(NOW + timedelta(hours=1)) == outbox.DeliveryReport()
    assert len(server.received) == 3


def test_a_mail_queued_twice_under_one_dedupe_key_is_delivered_once(smtp_config, course_run, people, queue_invitation):
    day = course_run.days[0]
    assert queue_invitation(day, people[0]) is not None
    assert queue_invitation(day, people[0]) is None
    db.session.commit()
    assert queue_invitation(day, people[0]) is None  # and again in a later transaction, e.g. a re-run job
    db.session.commit()

    outbox.deliver_due(NOW)
    outbox.deliver_due(NOW + timedelta(days=1))

    assert len(rows()) == 1
    assert len(smtp_config.received) == 1


def test_an_older_pending_mail_for_the_same_day_and_attendee_is_superseded(
    smtp_config, course_run, people, queue_invitation
):
    day = course_run.days[0]
    queue_invitation(day, people[0])
    queue_invitation(day, people[1])
    db.session.commit()
    day.starts_at, day.sequence = time(10), day.sequence + 1  # the coordinator moves the start
    queue_invitation(day, people[0], InvitationKind.UPDATE)
    db.session.commit()

    assert outbox.deliver_due(NOW) == outbox.DeliveryReport(sent=2)

    assert [row.status for row in rows()] == [OutboxStatus.SUPERSEDED, OutboxStatus.SENT, OutboxStatus.SENT]
    received = {mail.rcpt_tos[0]: mail for mail in smtp_config.received}
    assert set(received) == {people[0].email, people[1].email}
    _, cal = calendar(received[people[0].email])
    assert (cal.vevent.sequence.value, cal.vevent.dtstart.value) == ("1", datetime(2026, 3, 27, 9, 0, tzinfo=UTC))
    assert received[people[0].email].message["Subject"].startswith("Ændret:")


def test_the_mail_is_frozen_when_queued(smtp_config, course_run, people, queue_invitation):
    day = course_run.days[0]
    queue_invitation(day, people[0])
    db.session.commit()
    day.starts_at, day.venue, day.sequence = time(12), "Et andet sted", 3  # changed later, not re-queued
    db.session.commit()

    outbox.deliver_due(NOW)

    _, cal = calendar(smtp_config.received[0])
    assert cal.vevent.sequence.value == "0"
    assert cal.vevent.dtstart.value == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    assert cal.vevent.location.value == "Kursuscenter Valby"


def test_smtp_down_loses_nothing_and_each_mail_is_delivered_exactly_once_when_it_returns(
    smtp_config, course_run, people, queue_invitation
):
    server = smtp_config
    for person in people:
        queue_invitation(course_run.days[0], person)
    db.session.commit()
    server.stop()

    assert outbox.deliver_due(NOW) == outbox.DeliveryReport(retried=3)
    for row in rows():
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
        assert as_utc(row.next_attempt_at) == NOW + timedelta(minutes=1)
        assert row.last_error.startswith("ConnectionRefusedError")
    # Not due again yet: nothing is tried (and nothing counted) before the back-off has passed.
    assert outbox.deliver_due(NOW + timedelta(seconds=59)) == outbox.DeliveryReport()
    assert outbox.deliver_due(NOW + timedelta(minutes=1)) == outbox.DeliveryReport(retried=3)
    assert {(row.attempts, as_utc(row.next_attempt_at)) for row in rows()} == {(2, NOW + timedelta(minutes=3))}

    server.start()
    assert outbox.deliver_due(NOW + timedelta(minutes=3)) == outbox.DeliveryReport(sent=3)
    assert outbox.deliver_due(NOW + timedelta(hours=5)) == outbox.DeliveryReport()

    counts = server.count_by_message_id()
    assert len(counts) == 3 and set(counts.values()) == {1}
    assert sorted(mail.rcpt_tos[0] for mail in server.received) == sorted(p.email for p in people)
    assert {(row.status, row.attempts) for row in rows()} == {(OutboxStatus.SENT, 3)}


class StopsTheServerAfterTheFirstMail(SmtpTransport):
    """A real SMTP transport; after its first mail the test server goes away mid-batch."""

    server = None

    def send(self, *args, **kwargs):
        super().send(*args, **kwargs)
        if self.server.controller is not None:
            self.server.stop()


def test_a_connection_lost_mid_batch_postpones_the_rest_of_the_batch(smtp_config, course_run, people, queue_invitation):
    server = smtp_config
    for person in people:
        queue_invitation(course_run.days[0], person)
    db.session.commit()
    transport = StopsTheServerAfterTheFirstMail.from_url(server.url)
    transport.server = server

    assert outbox.deliver_due(NOW, transport=transport) == outbox.DeliveryReport(sent=1, retried=2)

    first, second, third = rows()
    assert first.status == OutboxStatus.SENT
    for row in (second, third):
        assert (row.status, row.attempts, as_utc(row.next_attempt_at)) == (
            OutboxStatus.PENDING,
            1,
            NOW + timedelta(minutes=1),
        )
    assert second.last_error.startswith("SMTPServerDisconnected")  # the one in flight
    assert third.last_error.startswith("ConnectionRefusedError")  # reconnecting failed: the rest waits

    server.start()
    assert outbox.deliver_due(NOW + timedelta(minutes=1)) == outbox.DeliveryReport(sent=2)
    assert set(server.count_by_message_id().values()) == {1}
    assert len(server.received) == 3


@pytest.mark.parametrize("reply", ["451 4.3.0 Try again later", "421 4.7.0 Too many connections"])
def test_a_refusing_server_means_retries_with_back_off_then_failed_then_the_coordinators_retry(
    app, smtp_config, course_run, people, coordinator, queue_invitation, reply, caplog
):
    server = smtp_config
    server.handler.rcpt_reply = reply
    app.config["MAIL_MAX_ATTEMPTS"] = 3
    row_id = queue_invitation(course_run.days[0], people[0]).id
    db.session.commit()

    with caplog.at_level(logging.INFO, logger="app.notifications"):
        assert outbox.deliver_due(NOW) == outbox.DeliveryReport(retried=1)
        (row,) = rows()
        assert (row.status, row.attempts, as_utc(row.next_attempt_at)) == (
            OutboxStatus.PENDING,
            1,
            NOW + timedelta(minutes=1),
        )
        assert row.last_error == reply
        assert outbox.deliver_due(NOW + timedelta(minutes=1)) == outbox.DeliveryReport(retried=1)
        (row,) = rows()
        assert (row.attempts, as_utc(row.next_attempt_at)) == (2, NOW + timedelta(minutes=3))
        assert outbox.deliver_due(NOW + timedelta(minutes=3)) == outbox.DeliveryReport(failed=1)
    (row,) = rows()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.FAILED, 3, reply)
    assert server.received == []
    # The log says which row and which code, but neither the address nor the server's text.
    assert f"outbox id {row_id}" in caplog.text and reply[:3] in caplog.text
    assert people[0].email not in caplog.text and reply[4:] not in caplog.text

    server.handler.rcpt_reply = None
    assert outbox.deliver_due(NOW + timedelta(days=1)) == outbox.DeliveryReport()  # failed stays failed

    outbox.retry(coordinator, row_id, NOW + timedelta(days=1))
    db.session.commit()
    assert outbox.deliver_due(NOW + timedelta(days=1)) == outbox.DeliveryReport(sent=1)
    (row,) = rows()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.SENT, 1, None)
    assert len(server.received) == 1


def test_a_permanent_refusal_fails_at_once_with_the_servers_answer_and_send_igen_still_works(
    app, smtp_config, course_run, people, coordinator, queue_invitation
):
    server = smtp_config
    reply = "550 5.1.1 No such user here"
    server.handler.rcpt_reply = reply
    row_id = queue_invitation(course_run.days[0], people[0]).id
    db.session.commit()

    # A 5xx is final (RFC 5321 §4.2.1): no back-off for hours, failed on the first attempt.
    assert outbox.deliver_due(NOW) == outbox.DeliveryReport(failed=1)
    (row,) = rows()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.FAILED, 1, reply)
    assert server.received == []

    server.handler.rcpt_reply = None
    outbox.retry(coordinator, row_id, NOW + timedelta(hours=1))
    db.session.commit()
    assert outbox.deliver_due(NOW + timedelta(hours=1)) == outbox.DeliveryReport(sent=1)
    (row,) = rows()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.SENT, 1, None)
    assert len(server.received) == 1


def test_a_burst_larger_than_a_batch_is_delivered_in_one_job_run(
    app, smtp_config, course_run, people, queue_invitation
):
    server = smtp_config
    app.config["MAIL_BATCH_SIZE"] = 4
    for person in people:
        for day in course_run.days:
            queue_invitation(day, person)  # 9 mails: two full batches and one of 1
    db.session.commit()

    report = outbox.deliver_all_due(NOW)
    assert (report.sent, report.batches) == (9, 3)
    assert len(server.received) == 9
    assert {r.status for r in rows()} == {OutboxStatus.SENT}
    assert outbox.deliver_all_due(NOW).batches == 1  # nothing due: one empty look


def test_a_burst_stops_when_a_batch_sends_nothing(app, smtp_config, course_run, people, queue_invitation):
    server = smtp_config
    server.handler.rcpt_reply = "451 4.3.0 Try again later"
    app.config["MAIL_BATCH_SIZE"] = 2
    for day in course_run.days:
        queue_invitation(day, people[0])
    db.session.commit()

    report = outbox.deliver_all_due(NOW)
    # The first batch of 2 was postponed; the second batch found the third mail, also postponed, and
    # nothing was sent, so the run ended instead of trying the same server batch after batch.
    assert (report.retried, report.sent, report.batches) == (2, 0, 1)


def test_a_rolled_back_change_sends_nothing(smtp_config, course_run, people, queue_invitation):
    day = course_run.days[0]
    day.venue = "Rådhuset"
    day.sequence += 1
    queue_invitation(day, people[0], InvitationKind.UPDATE)
    db.session.rollback()

    assert outbox.deliver_due(NOW) == outbox.DeliveryReport()
    assert smtp_config.received == []
    assert rows() == []


# --- encryption and login -------------------------------------------------------------------------------


def secret_url(scheme: str, port: int, query: str = "") -> str:
    return f"{scheme}://{SMTP_USER}:{quote(SMTP_PASSWORD, safe='')}@127.0.0.1:{port}{query}"


def queue_one(queue_invitation, course_run, person):
    queue_invitation(course_run.days[0], person)
    db.session.commit()


def test_starttls_and_login(app, starttls_server, tls_files, course_run, people, queue_invitation):
    queue_one(queue_invitation, course_run, people[0])
    transport = SmtpTransport.from_url(
        secret_url("smtp", starttls_server.port, "?starttls=true"), ssl_context=tls_files.client_context()
    )
    assert transport.security == "starttls"

    assert outbox.deliver_due(NOW, transport=transport) == outbox.DeliveryReport(sent=1)
    assert starttls_server.received[0].login == SMTP_USER


def test_smtps_and_login(app, smtps_server, tls_files, course_run, people, queue_invitation):
    queue_one(queue_invitation, course_run, people[0])
    transport = SmtpTransport.from_url(secret_url("smtps", smtps_server.port), ssl_context=tls_files.client_context())

    assert outbox.deliver_due(NOW, transport=transport) == outbox.DeliveryReport(sent=1)
    assert smtps_server.received[0].login == SMTP_USER


def test_an_untrusted_certificate_is_refused(app, smtps_server, course_run, people, queue_invitation):
    """SMTP_URL's transport verifies the server's certificate (the system's CAs): a self-signed one fails."""
    queue_one(queue_invitation, course_run, people[0])
    app.config["SMTP_URL"] = secret_url("smtps", smtps_server.port)

    assert outbox.deliver_due(NOW) == outbox.DeliveryReport(retried=1)
    assert "CERTIFICATE_VERIFY_FAILED" in rows()[0].last_error
    assert smtps_server.received == []


def test_a_wrong_password_is_a_failed_attempt(app, starttls_server, tls_files, course_run, people, queue_invitation):
    queue_one(queue_invitation, course_run, people[0])
    url = f"smtp://{SMTP_USER}:forkert@127.0.0.1:{starttls_server.port}?starttls=true"
    transport = SmtpTransport.from_url(url, ssl_context=tls_files.client_context())

    assert outbox.deliver_due(NOW, transport=transport) == outbox.DeliveryReport(retried=1)
    (row,) = rows()
    assert row.status == OutboxStatus.PENDING and row.last_error.startswith("535")
    assert starttls_server.received == []


# --- two delivery jobs at once (PostgreSQL row locks) ---------------------------------------------------

postgres_only = pytest.mark.postgres_only(
    reason="SKIP LOCKED needs row locks from a second connection; on SQLite the database write lock "
    "serialises delivery jobs"
)


@postgres_only
@pytest.mark.committing  # a second connection (another delivery job) must see and lock the rows
def test_a_mail_another_job_holds_is_skipped_not_doubled(smtp_config, course_run, people, queue_invitation):
    for person in people:
        queue_invitation(course_run.days[0], person)
    db.session.commit()
    ids = [row.id for row in rows()]
    db.session.commit()

    with db.engine.connect() as other_job, other_job.begin():
        other_job.execute(select(OutboxMessage.id).where(OutboxMessage.id == ids[1]).with_for_update())
        assert outbox.deliver_due(NOW) == outbox.DeliveryReport(sent=2)
    # The other job's transaction ended without sending: the mail is still due, for the next run.
    assert outbox.deliver_due(NOW) == outbox.DeliveryReport(sent=1)
    assert set(smtp_config.count_by_message_id().values()) == {1}
    assert len(smtp_config.received) == 3


class AnotherJobSendsTheLastMail(SmtpTransport):
    """While this job is busy with its second mail, another job (its own connection) takes the batch's
    third mail, sends it and marks it sent."""

    other_job = None
    first_id = third_id = taken_id = None

    def send(self, *args, outbox_id=None, **kwargs):
        if self.taken_id is None and self.other_job is not None and outbox_id != self.first_id:
            self.taken_id = self.third_id
            with self.other_job.begin():
                # Not blocked: this job's commit after its first mail released the batch's locks.
                self.other_job.execute(
                    select(OutboxMessage.id).where(OutboxMessage.id == self.third_id).with_for_update(nowait=True)
                )
                self.other_job.execute(
                    OutboxMessage.__table__.update()
                    .where(OutboxMessage.id == self.third_id)
                    .values(status="sent", attempts=1, sent_at=NOW)
                )
        super().send(*args, outbox_id=outbox_id, **kwargs)


@postgres_only
@pytest.mark.committing  # a second connection (another delivery job) must see and lock the rows
def test_a_mail_taken_by_another_job_after_the_batch_was_chosen_is_not_sent_again(
    smtp_config, course_run, people, queue_invitation
):
    for person in people:
        queue_invitation(course_run.days[0], person)
    db.session.commit()
    first_id, _, third_id = (row.id for row in rows())
    db.session.commit()

    transport = AnotherJobSendsTheLastMail.from_url(smtp_config.url)
    transport.first_id, transport.third_id = first_id, third_id
    with db.engine.connect() as other_job:
        transport.other_job = other_job
        assert outbox.deliver_due(NOW, transport=transport) == outbox.DeliveryReport(sent=2)

    assert [mail.rcpt_tos[0] for mail in smtp_config.received] == [people[0].email, people[1].email]
    assert [(row.status, row.attempts) for row in rows()] == [(OutboxStatus.SENT, 1)] * 3
