"""The outbox's bookkeeping against the real database: queueing in the caller's transaction, dedupe,
supersede, retry, the coordinator's list and counts, the .eml file transport, and reading SMTP_URL.

Delivery over real SMTP is in test_smtp_delivery.py.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, time, timedelta
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import InvalidRequestError

from app.core.exceptions import Conflict, DomainError, NotAllowed
from app.extensions import db
from app.notifications import compose, outbox
from app.notifications.compose import InvitationKind, Recipient
from app.notifications.models import OutboxMessage, OutboxStatus
from app.notifications.transport import FileTransport, SmtpTransport, transport_from_config
from config import INSTANCE_DIR, Config
from tests import factories
from tests.notifications.conftest import NOW, as_utc


@pytest.fixture
def mail_dir(app, tmp_path):
    """No SMTP_URL: mails go to .eml files in a temporary MAIL_DIR (not yet created)."""
    app.config["SMTP_URL"] = None
    app.config["MAIL_DIR"] = str(tmp_path / "instance" / "mail")
    return tmp_path / "instance" / "mail"


@pytest.fixture
def people(app):
    return [factories.make_user(name=f"Deltager {n}", email=f"deltager{n}@test.dk") for n in range(1, 4)]


def notice(to="deltager1@test.dk", subject="Besked fra Kursusportalen", message_id=None):
    return compose.notice_message(
        Recipient(email=to, name="Deltager"), subject, "Hej.", stamp=NOW, message_id=message_id
    )


def count_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


# --- enqueue --------------------------------------------------------------------------------------------


def test_enqueue_stores_the_whole_mail_pending_and_due_now(course_run, people, queue_invitation):
    day, person = course_run.days[0], people[0]
    row = queue_invitation(day, person)
    db.session.commit()

    row = db.session.get(OutboxMessage, row.id)
    assert row.status == OutboxStatus.PENDING
    assert row.kind == "invitation"
    assert row.attempts == 0
    assert as_utc(row.next_attempt_at) == NOW
    assert as_utc(row.created_at) == NOW
    assert row.sent_at is None and row.last_error is None
    assert (row.recipient_email, row.recipient_user_id, row.course_run_id) == (person.email, person.id, course_run.id)
    assert row.subject.startswith("Invitation: Tidlig inddragelse, hold Å")
    parsed = message_from_bytes(row.message, policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == person.email
    assert parsed["Message-ID"]
    assert compose.calendar_of(parsed) is not None
    assert b"\r\n" in row.message  # SMTP's CRLF line ends, as it goes over the wire


def test_enqueue_sets_a_message_id_from_the_dedupe_key_when_the_mail_has_none(app):
    msg = notice()
    del msg["Message-ID"]
    row = outbox.enqueue(msg, kind="notice", dedupe_key="notice:1", recipient_email="deltager1@test.dk", now=NOW)
    expected = outbox.message_id_for("notice:1")
    assert expected == outbox.message_id_for("notice:1") != outbox.message_id_for("notice:2")
    assert expected.startswith("<outbox.") and expected.endswith("@kursusportalen.local>")
    assert message_from_bytes(row.message, policy=policy.default)["Message-ID"] == expected


def test_enqueue_keeps_the_mails_own_message_id(app):
    row = outbox.enqueue(
        notice(message_id="<fast-id@test.dk>"),
        kind="notice",
        dedupe_key="notice:1",
        recipient_email="deltager1@test.dk",
        now=NOW,
    )
    assert message_from_bytes(row.message, policy=policy.default)["Message-ID"] == "<fast-id@test.dk>"


def test_the_same_dedupe_key_is_queued_once_whatever_happened_to_the_first(app):
    first = outbox.enqueue(notice(), kind="notice", dedupe_key="notice:1", recipient_email="a@test.dk", now=NOW)
    assert first is not None
    assert outbox.enqueue(notice(), kind="notice", dedupe_key="notice:1", recipient_email="a@test.dk", now=NOW) is None
    db.session.commit()
    first.status = OutboxStatus.SENT
    db.session.commit()
    again = outbox.enqueue(
        notice(), kind="notice", dedupe_key="notice:1", recipient_email="a@test.dk", now=NOW + timedelta(days=3)
    )
    assert again is None
    db.session.commit()
    assert count_rows() == 1


def test_a_duplicate_does_not_spoil_the_callers_transaction(course_run):
    """ON CONFLICT DO NOTHING: no IntegrityError, so the rest of the caller's change still commits
    (on PostgreSQL a failed INSERT would abort the whole transaction)."""
    outbox.enqueue(notice(), kind="notice", dedupe_key="notice:1", recipient_email="a@test.dk", now=NOW)
    db.session.commit()

    course_run.venue = "Rådhuset"
    assert outbox.enqueue(notice(), kind="notice", dedupe_key="notice:1", recipient_email="a@test.dk", now=NOW) is None
    db.session.commit()
    db.session.expire_all()
    assert course_run.venue == "Rådhuset"
    assert count_rows() == 1


def test_rollback_of_the_causing_change_removes_the_queued_mail(course_run, people, queue_invitation):
    day = course_run.days[0]
    day.starts_at = time(10)
    day.sequence += 1
    queue_invitation(day, people[0], InvitationKind.UPDATE)
    db.session.flush()
    assert count_rows() == 1

    db.session.rollback()
    assert count_rows() == 0
    db.session.refresh(day)
    assert (day.starts_at, day.sequence) == (time(9), 0)


def test_a_newer_mail_supersedes_older_pending_ones_with_the_same_key_only(course_run, people, queue_invitation):
    day = course_run.days[0]
    sara, per = people[0], people[1]
    sent = queue_invitation(course_run.days[1], sara)
    sent_update = queue_invitation(course_run.days[1], sara, InvitationKind.UPDATE, sequence=1)
    invitation = queue_invitation(day, sara)
    others = queue_invitation(day, per)
    other_day = queue_invitation(course_run.days[2], sara)
    db.session.commit()
    # The day-2 invitation was superseded by its update, which then went out; a later update replaces neither.
    assert sent.status == OutboxStatus.SUPERSEDED
    sent_update.status = OutboxStatus.SENT
    db.session.commit()

    update = queue_invitation(day, sara, InvitationKind.UPDATE, sequence=1)
    day2_update = queue_invitation(course_run.days[1], sara, InvitationKind.UPDATE, sequence=2)
    db.session.commit()

    statuses = {
        row_id: db.session.get(OutboxMessage, row_id).status
        for row_id in (invitation.id, others.id, other_day.id, update.id, sent_update.id, day2_update.id)
    }
    assert statuses == {
        invitation.id: OutboxStatus.SUPERSEDED,  # same day, same attendee, still pending
        others.id: OutboxStatus.PENDING,  # another attendee
        other_day.id: OutboxStatus.PENDING,  # another day
        update.id: OutboxStatus.PENDING,
        sent_update.id: OutboxStatus.SENT,  # already out: history is not rewritten
        day2_update.id: OutboxStatus.PENDING,
    }


def test_a_duplicate_supersedes_nothing(course_run, people, queue_invitation):
    day = course_run.days[0]
    queue_invitation(day, people[0])
    update = queue_invitation(day, people[0], InvitationKind.UPDATE, sequence=1)
    db.session.commit()
    # The invitation (sequence 0) again, e.g. a job re-run: not queued, and the pending update stays.
    assert queue_invitation(day, people[0]) is None
    db.session.commit()
    assert db.session.get(OutboxMessage, update.id).status == OutboxStatus.PENDING


@pytest.mark.parametrize(
    ("field", "value"),
    [("dedupe_key", "x" * 201), ("dedupe_key", ""), ("kind", "k" * 41), ("supersede_key", "s" * 201)],
)
def test_enqueue_refuses_keys_that_do_not_fit_their_columns(app, field, value):
    kwargs = {"kind": "notice", "dedupe_key": "notice:1", "recipient_email": "a@test.dk", "now": NOW}
    kwargs[field] = value
    with pytest.raises(ValueError, match=field):
        outbox.enqueue(notice(), **kwargs)
    assert count_rows() == 0


def test_times_must_be_aware(app):
    with pytest.raises(ValueError, match="aware"):
        outbox.enqueue(notice(), kind="notice", dedupe_key="n", recipient_email="a@test.dk", now=datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="aware"):
        outbox.deliver_due(datetime(2026, 3, 2))


# --- delivery to .eml files (no SMTP_URL) ---------------------------------------------------------------


def test_without_smtp_url_mails_are_written_as_eml_files(mail_dir, course_run, people, queue_invitation):
    rows = [queue_invitation(course_run.days[0], person) for person in people]
    db.session.commit()

    report = outbox.deliver_due(NOW)

    assert report == outbox.DeliveryReport(sent=3)
    files = sorted(mail_dir.iterdir())
    # Local (Copenhagen) time in the name: 09:00 UTC is 10:00 in winter.
    assert [f.name for f in files] == [f"20260302-100000-{row.id}-invitation.eml" for row in rows]
    for path, row in zip(files, rows, strict=True):
        db.session.refresh(row)
        assert path.read_bytes() == row.message
        assert message_from_bytes(path.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec in {
            p.email for p in people
        }
        assert (row.status, row.attempts, as_utc(row.sent_at)) == (OutboxStatus.SENT, 1, NOW)
    assert outbox.deliver_due(NOW + timedelta(hours=1)) == outbox.DeliveryReport()
    assert len(list(mail_dir.iterdir())) == 3


def test_file_transport_keeps_both_copies_of_a_mail_written_twice(tmp_path):
    transport = FileTransport(tmp_path / "mail")
    to = ["b@test.dk"]
    with transport:
        first = transport.send("a@test.dk", to, b"Subject: 1\r\n\r\nx\r\n", outbox_id=7, kind="notice", now=NOW)
        second = transport.send("a@test.dk", to, b"Subject: 2\r\n\r\ny\r\n", outbox_id=7, kind="../x", now=NOW)
    assert first.name == "20260302-100000-7-notice.eml"
    assert second.name == "20260302-100000-7-_x.eml"  # the kind cannot leave the directory
    third = transport.send("a@test.dk", ["b@test.dk"], b"z", outbox_id=7, kind="notice", now=NOW)
    assert third.name == "20260302-100000-7-notice-2.eml"
    assert first.read_bytes() == b"Subject: 1\r\n\r\nx\r\n"
    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == sorted(
        [first.name, second.name, third.name]
    )  # no temporary files left behind


def test_only_due_pending_mails_are_delivered_oldest_first_within_the_batch(mail_dir, app):
    rows = [
        outbox.enqueue(notice(), kind="notice", dedupe_key=f"notice:{n}", recipient_email="a@test.dk", now=NOW)
        for n in range(5)
    ]
    later = outbox.enqueue(
        notice(), kind="notice", dedupe_key="notice:later", recipient_email="a@test.dk", now=NOW + timedelta(minutes=5)
    )
    rows[0].status = OutboxStatus.FAILED
    rows[1].status = OutboxStatus.SUPERSEDED
    db.session.commit()

    assert outbox.deliver_due(NOW, batch_size=2) == outbox.DeliveryReport(sent=2)
    sent = db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.SENT)).all()
    assert sorted(sent) == [rows[2].id, rows[3].id]

    assert outbox.deliver_due(NOW) == outbox.DeliveryReport(sent=1)  # rows[4]; `later` is not due yet
    assert db.session.get(OutboxMessage, later.id).status == OutboxStatus.PENDING
    assert outbox.deliver_due(NOW + timedelta(minutes=5)) == outbox.DeliveryReport(sent=1)
    assert len(list(mail_dir.iterdir())) == 4


def test_nothing_due_opens_no_transport(mail_dir, app):
    assert outbox.deliver_due(NOW) == outbox.DeliveryReport()
    assert not mail_dir.exists()


def test_logs_name_the_outbox_row_never_the_recipient_or_the_contents(mail_dir, app, caplog):
    outbox.enqueue(
        notice(to="hemmelig.person@test.dk", subject="Fortroligt emne"),
        kind="notice",
        dedupe_key="n",
        recipient_email="hemmelig.person@test.dk",
        now=NOW,
    )
    db.session.commit()
    with caplog.at_level(logging.DEBUG, logger="app.notifications"):
        outbox.deliver_due(NOW)
    assert "kind notice" in caplog.text
    assert "hemmelig" not in caplog.text and "Fortroligt" not in caplog.text


# --- retry, list, counts --------------------------------------------------------------------------------


def failed_row(dedupe_key="notice:1", supersede_key=None) -> OutboxMessage:
    row = outbox.enqueue(
        notice(),
        kind="notice",
        dedupe_key=dedupe_key,
        recipient_email="a@test.dk",
        now=NOW,
        supersede_key=supersede_key,
    )
    row.status, row.attempts, row.last_error = OutboxStatus.FAILED, 8, "451 4.3.0 try later"
    db.session.commit()
    return row


def test_the_coordinator_retries_a_failed_mail(coordinator):
    row = failed_row()
    later = NOW + timedelta(days=1)

    outbox.retry(coordinator, row.id, later)
    db.session.commit()

    row = db.session.get(OutboxMessage, row.id)
    assert (row.status, row.attempts, as_utc(row.next_attempt_at)) == (OutboxStatus.PENDING, 0, later)
    assert row.last_error == "451 4.3.0 try later"  # kept until the next attempt tells more


def test_only_the_coordinator_may_retry(staff_member, provider_user):
    row = failed_row()
    for actor in (staff_member, provider_user):
        with pytest.raises(NotAllowed):
            outbox.retry(actor, row.id, NOW)
    assert db.session.get(OutboxMessage, row.id).status == OutboxStatus.FAILED


def test_retry_refuses_unknown_unfailed_and_outdated_mails(coordinator):
    with pytest.raises(DomainError, match="findes ikke"):
        outbox.retry(coordinator, 4711, NOW)

    pending = outbox.enqueue(notice(), kind="notice", dedupe_key="p", recipient_email="a@test.dk", now=NOW)
    db.session.commit()
    with pytest.raises(Conflict):
        outbox.retry(coordinator, pending.id, NOW)

    old = failed_row("invite:old", supersede_key="uid|a@test.dk")
    outbox.enqueue(
        notice(),
        kind="update",
        dedupe_key="invite:new",
        recipient_email="a@test.dk",
        now=NOW,
        supersede_key="uid|a@test.dk",
    )
    db.session.commit()
    with pytest.raises(Conflict, match="nyere"):
        outbox.retry(coordinator, old.id, NOW)
    assert db.session.get(OutboxMessage, old.id).status == OutboxStatus.FAILED


def test_list_outbox_filters_by_status_and_run_newest_first_without_loading_the_mails(
    course_run, people, queue_invitation
):
    other_run = factories.make_course_run()
    on_run = [queue_invitation(course_run.days[0], person) for person in people]
    elsewhere = queue_invitation(other_run.days[0], people[0])
    on_run[0].status = OutboxStatus.FAILED
    db.session.commit()
    run_id, run_title, other_run_id = course_run.id, course_run.title, other_run.id
    on_run, elsewhere = [row.id for row in on_run], elsewhere.id
    db.session.expunge_all()  # nothing cached: what the page shows must come with the page

    page = outbox.list_outbox(run_id=run_id, page=1, per_page=2)
    assert [row.id for row in page.items] == [on_run[2], on_run[1]]
    assert (page.total, page.pages) == (3, 2)
    assert page.items[0].run.title == run_title  # loaded with the page
    assert "run" in vars(page.items[0]) and "recipient_user" in vars(page.items[0])
    with pytest.raises(InvalidRequestError):
        page.items[0].message  # noqa: B018 (the big column is not loaded for a list)

    assert [row.id for row in outbox.list_outbox(status="failed").items] == [on_run[0]]
    assert [row.id for row in outbox.list_outbox(status=OutboxStatus.PENDING).items] == [
        elsewhere,
        on_run[2],
        on_run[1],
    ]
    assert outbox.list_outbox(status="", run_id=other_run_id).total == 1
    with pytest.raises(DomainError) as error:
        outbox.list_outbox(status="bogus")
    assert error.value.field == "status"


def test_outbox_counts_every_status(app):
    assert outbox.outbox_counts() == dict.fromkeys(OutboxStatus, 0)
    failed_row("a")
    failed_row("b")
    outbox.enqueue(notice(), kind="notice", dedupe_key="c", recipient_email="a@test.dk", now=NOW)
    db.session.commit()
    assert outbox.outbox_counts() == {
        OutboxStatus.PENDING: 1,
        OutboxStatus.SENT: 0,
        OutboxStatus.FAILED: 2,
        OutboxStatus.SUPERSEDED: 0,
    }
    assert outbox.outbox_counts()["failed"] == 2  # the keys are str enums


def test_retry_delay_doubles_from_a_minute_up_to_an_hour():
    minutes = [outbox.retry_delay(n) / timedelta(minutes=1) for n in range(1, 10)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_outbox_labels_are_danish(app):
    with app.test_request_context():
        assert str(OutboxStatus.FAILED.label) == "Ikke sendt"
        assert OutboxStatus.FAILED.tag_variant == "error"


# --- SMTP_URL -------------------------------------------------------------------------------------------


def test_transport_follows_the_config(app, tmp_path):
    app.config.update(SMTP_URL=None, MAIL_DIR=str(tmp_path))
    transport = transport_from_config()
    assert isinstance(transport, FileTransport) and transport.directory == tmp_path

    app.config["SMTP_URL"] = "smtps://bruger:kode@mail.kommune.dk"
    transport = transport_from_config()
    assert isinstance(transport, SmtpTransport)
    assert (transport.host, transport.port, transport.security) == ("mail.kommune.dk", 465, "tls")


def test_the_default_mail_dir_is_in_the_instance_folder():
    expected_dir = os.environ.get("MAIL_DIR", str(INSTANCE_DIR / "mail"))
    expected_attempts = int(os.environ.get("MAIL_MAX_ATTEMPTS", "8"))
    assert (expected_dir, expected_attempts) == (Config.MAIL_DIR, Config.MAIL_MAX_ATTEMPTS)
    assert Config.MAIL_BATCH_SIZE == 100


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://relay.kommune.dk", ("relay.kommune.dk", 25, "plain", None, None, 30.0)),
        ("smtp://relay.kommune.dk:2525/", ("relay.kommune.dk", 2525, "plain", None, None, 30.0)),
        (
            "smtp://kursus%40kommune.dk:a%2Fb%40c@mail.kommune.dk?starttls=true&timeout=5",
            ("mail.kommune.dk", 587, "starttls", "kursus@kommune.dk", "a/b@c", 5.0),
        ),
        ("smtps://u:p@mail.kommune.dk:4650", ("mail.kommune.dk", 4650, "tls", "u", "p", 30.0)),
        ("smtp://u:p@127.0.0.1:1025", ("127.0.0.1", 1025, "plain", "u", "p", 30.0)),  # a local relay
        ("smtp://[::1]:1025?starttls=false", ("::1", 1025, "plain", None, None, 30.0)),
    ],
)
def test_smtp_url_is_parsed(url, expected):
    t = SmtpTransport.from_url(url)
    assert (t.host, t.port, t.security, t.username, t.password, t.timeout) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.kommune.dk",
        "smtp://",
        "smtp://mail.kommune.dk/path",
        "smtp://mail.kommune.dk:99999",
        "smtp://mail.kommune.dk:port",
        "smtp://mail.kommune.dk?tls=yes",
        "smtp://mail.kommune.dk?starttls=maybe",
        "smtp://mail.kommune.dk?timeout=0",
        "smtp://mail.kommune.dk?timeout=soon",
        "smtps://mail.kommune.dk?starttls=true",
        "smtp://bruger:kode@mail.kommune.dk",  # the password would travel in clear text
    ],
)
def test_a_bad_smtp_url_fails_loudly(url):
    with pytest.raises(ValueError, match="SMTP_URL"):
        SmtpTransport.from_url(url)


def test_times_in_any_zone_are_stored_in_utc(mail_dir, app):
    """SQLite keeps no offset: everything is converted to UTC first, so times in different zones compare."""
    copenhagen_now = NOW.astimezone(ZoneInfo("Europe/Copenhagen"))  # 10:00+01:00
    row = outbox.enqueue(notice(), kind="notice", dedupe_key="n", recipient_email="a@test.dk", now=copenhagen_now)
    db.session.commit()
    db.session.expire_all()
    assert as_utc(db.session.get(OutboxMessage, row.id).next_attempt_at) == NOW
    assert outbox.deliver_due(NOW - timedelta(seconds=1)) == outbox.DeliveryReport()
    assert outbox.deliver_due(NOW) == outbox.DeliveryReport(sent=1)
