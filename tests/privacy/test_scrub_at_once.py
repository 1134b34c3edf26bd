"""Anonymising a leaver scrubs, in the same transaction, what still named them: the searches for their name or
address in the audit log, and their mails waiting in the outbox (docs/privacy.md, docs/audit.md)."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from icalendar import Calendar
from sqlalchemy import select

from app.accounts.models import User
from app.audit.models import AuditEntry
from app.audit.services import SCRUBBED, AuditLogIsAppendOnly, names_person
from app.core import clock
from app.enrolment import services as enrolment
from app.enrolment.invitations import my_courses_url
from app.extensions import db
from app.notifications.models import OutboxMessage, OutboxStatus
from app.notifications.outbox import queue_notice
from scheduler import jobs
from tests import factories
from tests.conftest import post_form
from tests.privacy.helpers import find_everywhere

NAME, EMAIL = "Sanne Søgaard", "sanne.soegaard@test.dk"


def _readable(raw: bytes) -> str:
    """A stored mail as a reader sees it: the decoded headers and every decoded part (text, html, calendar)."""
    msg = message_from_bytes(raw, policy=policy.default)
    texts = [f"{key}: {value}" for key, value in msg.items()]
    for part in msg.walk():
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            texts.append(payload.decode("utf-8") if isinstance(payload, bytes) else str(payload))
    return "\n".join(texts)


def _mails_to(address: str, status: OutboxStatus | None = None) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.recipient_email == address).order_by(OutboxMessage.id)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    return list(db.session.scalars(stmt))


def _anonymise(client, login_as, coordinator, user_id: int, name: str = NAME):
    login_as(coordinator)
    response = post_form(client, f"/users/{user_id}/anonymise", {"confirm_name": name})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()


def test_the_rule_for_a_text_that_names_the_person():
    assert names_person("Sanne Søgaard", NAME, EMAIL)
    assert names_person("  søgaard,   SANNE ", NAME, EMAIL)
    assert names_person("mail til sanne.soegaard@TEST.dk", NAME, EMAIL)
    assert not names_person("Søgaard", NAME, EMAIL)  # a part alone names nobody: kept
    assert not names_person("Sanne Hansen", NAME, EMAIL)
    assert not names_person("sanne.soegaard", NAME, EMAIL)


def _unchanged_part(entry: AuditEntry) -> tuple:
    other_details = {key: value for key, value in entry.details.items() if key not in ("q", "subject")}
    return (entry.occurred_at, entry.actor_id, entry.action, entry.subject_id, entry.ip_address, other_details)


def test_searches_for_the_leaver_in_the_audit_log_are_scrubbed_at_once(client, login_as, coordinator):
    sanne = factories.make_user(name=NAME, email=EMAIL)
    walter = factories.make_user(name="Walter Winther", email="walter@test.dk")
    login_as(coordinator)
    for q in (NAME, "SØGAARD, sanne", EMAIL, "Søgaard", "Walter Winther"):
        assert client.get("/users", query_string={"q": q}).status_code == 200
    assert client.get("/audit", query_string={"subject": EMAIL}).status_code == 200
    before = {e.id: e for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("%.search")))}
    snapshot = {i: _unchanged_part(e) for i, e in before.items()}
    assert len(before) == 6
    assert find_everywhere(NAME) and find_everywhere(EMAIL)

    _anonymise(client, login_as, coordinator, sanne.id)

    searches = list(
        db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("%.search")).order_by(AuditEntry.id))
    )
    assert [e.details.get("q", e.details.get("subject")) for e in searches] == [
        SCRUBBED,
        SCRUBBED,
        SCRUBBED,
        "Søgaard",
        "Walter Winther",
        SCRUBBED,
    ]
    # Only the text changed: who searched, when, from where, and the other details stay.
    assert {e.id: _unchanged_part(e) for e in searches} == snapshot
    assert find_everywhere(NAME, EMAIL) == set()
    assert find_everywhere("Walter Winther")  # somebody else's search stays
    done = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "user.anonymised")).one()
    assert done.details["audit_entries_scrubbed"] == 4
    assert db.session.get(User, walter.id).name == "Walter Winther"


def test_the_audit_log_stays_append_only_for_everything_else(app, coordinator):
    entry = AuditEntry(action="user.search", actor_id=coordinator.id, details={"q": NAME})
    db.session.add(entry)
    db.session.commit()
    entry.details = {"q": SCRUBBED}
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()


@pytest.fixture
def sanne_with_mail(app, coordinator, tmp_path):
    """Sanne holds the three course days of a future run in her calendar (the invitations were sent); she
    cancelled another future run a moment ago (its CANCELs still wait), and a reminder for her waits too.
    Walter has invitations waiting."""
    today, now = clock.today(), clock.now()
    days = tuple(today + timedelta(days=d) for d in (60, 61, 150))
    other_days = tuple(today + timedelta(days=d) for d in (30, 31, 120))
    run = factories.make_course_run(title="Næste år", days=days, enrolment_deadline=days[0])
    other = factories.make_course_run(title="Snart", days=other_days, enrolment_deadline=other_days[0])
    sanne = factories.make_user(name=NAME, email=EMAIL, locale="da")
    walter = factories.make_user(name="Walter Winther", email="walter@test.dk")
    app.config.update(SMTP_URL=None, MAIL_DIR=str(tmp_path))
    enrolment.enrol(coordinator, run.id, sanne, now, today)
    mine = enrolment.enrol(coordinator, other.id, sanne, now, today)
    db.session.commit()
    assert jobs.send_due_notifications(now).sent == 6
    enrolment.cancel(coordinator, mine.id, now, today)  # three CANCELs, not sent yet
    enrolment.enrol(coordinator, run.id, walter, now, today)
    queue_notice(
        sanne,
        kind="reminder",
        dedupe_key="reminder:test",
        now=now,
        run=run,
        link=my_courses_url(),
        subject=lambda: "Påmindelse",
        paragraphs=lambda: ["Husk kurset."],
    )
    db.session.commit()
    return {"sanne": sanne, "walter": walter, "run": run, "other": other}


def test_queued_mails_to_the_leaver_are_scrubbed_at_once_and_the_cancellations_still_go_out(
    client, login_as, coordinator, sanne_with_mail
):
    sanne, walter = sanne_with_mail["sanne"], sanne_with_mail["walter"]
    earlier = {m.dedupe_key: m for m in _mails_to(EMAIL, OutboxStatus.PENDING)}
    assert sorted(m.kind for m in earlier.values()) == ["cancellation"] * 3 + ["reminder"]
    earlier_cancels = {
        key: (message_from_bytes(m.message, policy=policy.default)["Message-ID"], m.created_at)
        for key, m in earlier.items()
        if m.kind == "cancellation"
    }
    walter_before = [(m.id, m.message) for m in _mails_to(walter.email)]
    assert len(walter_before) == 3

    _anonymise(client, login_as, coordinator, sanne.id)

    pending = _mails_to(EMAIL, OutboxStatus.PENDING)
    # Every course day she held that is still to come gets a CANCEL (the three of the run she was on, and the
    # three queued when she cancelled the other); the reminder is withdrawn; the sent invitations are gone.
    assert sorted(m.kind for m in pending) == ["cancellation"] * 6
    assert _mails_to(EMAIL) == pending
    for mail in pending:
        text = _readable(mail.message)
        assert "Søgaard" not in text and "Sanne" not in text, text
        assert "Kære kursusdeltager" in text and EMAIL in text  # still goes to the old address
        (event,) = Calendar.from_ical(_calendar_part(mail.message)).walk("VEVENT")
        assert str(event["ATTENDEE"]) == f"mailto:{EMAIL}"
        assert event["ATTENDEE"].params.get("CN") == "kursusdeltager"
        if mail.dedupe_key in earlier_cancels:  # rewritten: the same message to the calendar and the mailer
            message_id, created_at = earlier_cancels[mail.dedupe_key]
            assert message_from_bytes(mail.message, policy=policy.default)["Message-ID"] == message_id
            assert event["DTSTAMP"].dt == clock.as_utc(created_at).replace(microsecond=0)
    assert find_everywhere(NAME) == set()
    assert find_everywhere(EMAIL) == {("outbox_messages", (m.id,)) for m in pending}
    done = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "user.anonymised")).one()
    assert (done.details["calendar_mails_kept"], done.details["mails_withdrawn"], done.details["mails_deleted"]) == (
        6,
        1,
        6,
    )
    assert [(m.id, m.message) for m in _mails_to(walter.email)] == walter_before  # untouched

    # Delivered: each is deleted the moment the server took it, not by the next daily job.
    report = jobs.send_due_notifications(clock.now())
    assert report.sent == 9  # her six CANCELs and Walter's three invitations
    assert _mails_to(EMAIL) == []
    assert find_everywhere(NAME, EMAIL) == set()
    assert {m.status for m in _mails_to(walter.email)} == {OutboxStatus.SENT}


def _calendar_part(raw: bytes) -> bytes:
    for part in message_from_bytes(raw, policy=policy.default).walk():
        if part.get_content_type() == "text/calendar":
            return part.get_payload(decode=True)
    raise AssertionError("no calendar part")
