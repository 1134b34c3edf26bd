"""`GET /healthz`: database, outbox counts and the scheduler's heartbeat; 503 when something is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from app.extensions import db
from app.health.models import SchedulerHeartbeat
from app.health.services import health_report, record_heartbeat
from app.notifications import outbox
from app.notifications.models import OutboxMessage, OutboxStatus
from scheduler.jobs import record_heartbeat as heartbeat_job

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
FIVE_MINUTES = timedelta(minutes=5)


def _queue(n: int, status: OutboxStatus = OutboxStatus.PENDING) -> None:
    for i in range(n):
        msg = EmailMessage()
        msg["Subject"], msg["To"] = "Invitation", f"p{i}-{status}@example.test"
        msg.set_content("x")
        row = outbox.enqueue(msg, kind="invitation", dedupe_key=f"k-{status}-{i}", recipient_email=msg["To"], now=NOW)
        row.status = status
    db.session.commit()


def test_outbox_counts_pending_and_failed_only(app):
    _queue(3)
    _queue(2, OutboxStatus.FAILED)
    _queue(4, OutboxStatus.SENT)
    report = health_report(NOW, scheduler_mode="off", max_age=FIVE_MINUTES)
    assert report.healthy
    assert report.body["outbox"] == {"pending": 3, "failed": 2}


def test_a_fresh_heartbeat_is_healthy_and_a_stale_one_is_not(app):
    heartbeat_job(now=NOW)
    fresh = health_report(NOW + timedelta(minutes=4, seconds=59), scheduler_mode="external", max_age=FIVE_MINUTES)
    assert fresh.healthy and fresh.body["scheduler"]["status"] == "ok"
    assert fresh.body["scheduler"]["last_heartbeat"] == "2026-12-02T09:00:00+00:00"
    stale = health_report(NOW + timedelta(minutes=5, seconds=1), scheduler_mode="external", max_age=FIVE_MINUTES)
    assert not stale.healthy
    assert stale.body["status"] == "error" and stale.body["scheduler"]["status"] == "stale"
    assert stale.body["scheduler"]["age_seconds"] == 301


def test_no_heartbeat_where_a_scheduler_is_expected_is_unhealthy(app):
    report = health_report(NOW, scheduler_mode="embedded", max_age=FIVE_MINUTES)
    assert not report.healthy and report.body["scheduler"] == {"status": "no heartbeat yet"}


def test_the_heartbeat_is_one_row_updated_in_place(app):
    record_heartbeat(NOW)
    record_heartbeat(NOW + timedelta(minutes=1))
    rows = db.session.scalars(db.select(SchedulerHeartbeat)).all()
    assert len(rows) == 1
    assert rows[0].beat_at.replace(tzinfo=UTC) == NOW + timedelta(minutes=1)
    assert rows[0].started_at.replace(tzinfo=UTC) <= NOW and rows[0].pid > 0


def test_healthz_answers_503_when_the_heartbeat_is_old(app, client, clock):
    app.config["SCHEDULER"] = "external"
    record_heartbeat(clock.utcnow() - timedelta(minutes=10))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["scheduler"]["status"] == "stale"
    assert response.headers["Cache-Control"] == "no-store"
    record_heartbeat(clock.utcnow())
    assert client.get("/healthz").status_code == 200
    clock.advance(minutes=5, seconds=1)  # /healthz reads the time from app.core.clock
    assert client.get("/healthz").status_code == 503


def test_healthz_counts_are_visible_over_http(app, client):
    _queue(2, OutboxStatus.FAILED)
    body = client.get("/healthz").json
    assert body["outbox"] == {"pending": 0, "failed": 2} and body["status"] == "ok"
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id))) == 2


def test_a_heartbeat_written_in_local_time_is_read_back_as_the_same_instant(app):
    """The scheduler hands its jobs `now` in Europe/Copenhagen; the age must not be off by the UTC offset."""
    from zoneinfo import ZoneInfo

    heartbeat_job(now=NOW.astimezone(ZoneInfo("Europe/Copenhagen")))
    report = health_report(NOW + timedelta(seconds=30), scheduler_mode="external", max_age=FIVE_MINUTES)
    assert report.healthy and report.body["scheduler"]["age_seconds"] == 30
    assert report.body["scheduler"]["last_heartbeat"] == "2026-12-02T09:00:00+00:00"
