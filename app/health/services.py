"""The heartbeat the scheduler writes and the health report `/healthz` answers with."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from app.core.clock import as_utc
from app.extensions import db
from app.health.models import SchedulerHeartbeat
from app.notifications.models import OutboxMessage, OutboxStatus

SCHEDULER_NAME = "scheduler"
_STARTED_AT: dict[int, datetime] = {}


def record_heartbeat(now: datetime, *, name: str = SCHEDULER_NAME) -> SchedulerHeartbeat:
    """Upsert this process's heartbeat (the scheduler's `record_heartbeat` job, which commits it).

    The scheduler's `now` is in local time; it is stored in UTC, as every timestamp (SQLite keeps the wall
    time it is given and hands it back naive, which `as_utc` reads as UTC)."""
    now = now.astimezone(UTC)
    started = _STARTED_AT.setdefault(os.getpid(), now)
    beat = db.session.get(SchedulerHeartbeat, name)
    if beat is None:
        beat = SchedulerHeartbeat(name=name)
        db.session.add(beat)
    beat.beat_at, beat.started_at = now, started
    beat.hostname, beat.pid = socket.gethostname()[:255], os.getpid()
    db.session.flush()
    return beat


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    body: dict


def health_report(now: datetime, *, scheduler_mode: str, max_age: timedelta) -> HealthReport:
    """Database, outbox and scheduler state. Unhealthy when the database doesn't answer or, where a
    scheduler is expected (SCHEDULER not "off"), its last heartbeat is missing or older than `max_age`."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not healthy"
        db.session.rollback()
        return HealthReport(False, {"status": "error", "database": "unavailable"})
    counts = dict(
        db.session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.FAILED]))
            .group_by(OutboxMessage.status)
        ).all()
    )
    body: dict = {
        "status": "ok",
        "database": "ok",
        "outbox": {"pending": counts.get(OutboxStatus.PENDING, 0), "failed": counts.get(OutboxStatus.FAILED, 0)},
    }
    healthy = True
    if scheduler_mode == "off":
        body["scheduler"] = {"status": "off"}
    else:
        beat = db.session.get(SchedulerHeartbeat, SCHEDULER_NAME)
        if beat is None:
            body["scheduler"] = {"status": "no heartbeat yet"}
            healthy = False
        else:
            age = now - as_utc(beat.beat_at)
            fresh = age <= max_age
            body["scheduler"] = {
                "status": "ok" if fresh else "stale",
                "last_heartbeat": as_utc(beat.beat_at).isoformat(timespec="seconds"),
                "age_seconds": int(age.total_seconds()),
            }
            healthy = fresh
    db.session.rollback()  # read-only: end the transaction
    if not healthy:
        body["status"] = "error"
    return HealthReport(healthy, body)
