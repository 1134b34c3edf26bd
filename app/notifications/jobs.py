"""The scheduler's jobs: thin pollers over our own tables (docs/technical-notes.md#scheduler).

Each job takes `now` (an aware datetime), runs its own transactions and commits, so it can be called by the
scheduler (`scheduler/`), by a test with an injected clock, or by hand from `flask shell`. What is due is
always read from the database (course days, enrolments, calendar invitations, outbox rows), never from
APScheduler's memory: a restart loses nothing, and running a job twice does nothing the second time
(every mail has a unique dedupe key).
"""

from __future__ import annotations

import logging
from datetime import datetime

from app.notifications import outbox
from app.notifications.outbox import DeliveryReport

logger = logging.getLogger(__name__)

__all__ = [
    "anonymise_expired_runs",
    "confirm_follow_up",
    "confirm_follow_up_days",
    "follow_up_due_times",
    "purge_audit_log",
    "queue_feedback_requests",
    "queue_reminders",
    "record_heartbeat",
    "send_due_notifications",
]


def send_due_notifications(now: datetime) -> DeliveryReport:
    """Deliver the outbox rows that are due (one SMTP connection per batch; retries with back-off)."""
    report = outbox.deliver_due(now)
    if report.sent or report.retried or report.failed:
        logger.info("outbox: %d sent, %d to retry, %d failed", report.sent, report.retried, report.failed)
    return report


def follow_up_due_times(now: datetime) -> dict[int, datetime]:
    """Runs whose follow-up day still awaits confirmation: run id -> when the follow-up job should run
    (the evening of teaching day 2, aware). Read-only; the scheduler keeps one `follow_up:<run id>` date
    job per entry and removes the others."""
    from app.notifications.follow_up import due_times

    return due_times(now)


def confirm_follow_up(run_id: int, now: datetime) -> bool:
    """The `follow_up:<run id>` job: fix the run's follow-up day and invite those present on the teaching
    days (cancel it for those who were not). False when there was nothing to do (already confirmed,
    cancelled, or teaching day 2's evening not reached yet)."""
    from app.notifications.follow_up import confirm

    return confirm(run_id, now)


def confirm_follow_up_days(now: datetime) -> list[int]:
    """The safety net behind the date jobs: confirm every run whose teaching day 2 evening has passed."""
    from app.notifications.follow_up import confirm_all_due

    return confirm_all_due(now)


def queue_reminders(now: datetime) -> int:
    """Queue the reminders that are due (REMINDER_DAYS before each course day) to confirmed participants.
    Returns how many were queued."""
    from app.notifications.reminders import queue_due_reminders

    return queue_due_reminders(now)


def queue_feedback_requests(now: datetime) -> int:
    """Queue the feedback request to each participant present on a follow-up day that has ended."""
    from app.notifications.reminders import queue_due_feedback_requests

    return queue_due_feedback_requests(now)


def record_heartbeat(now: datetime) -> None:
    """Write the scheduler's heartbeat row (each minute), which `/healthz` checks for freshness."""
    from app.health.services import record_heartbeat as write

    write(now)


def purge_audit_log(now: datetime) -> int:
    """Delete audit entries older than AUDIT_RETENTION_DAYS (logged as "audit.purged"). Returns the count."""
    from app.audit.services import purge_expired

    count = purge_expired(now)
    if count:
        logger.info("audit log: %d entries past their retention deleted", count)
    return count


def anonymise_expired_runs(now: datetime):
    """The retention job: anonymise the participants of runs whose last day is more than
    PERSONAL_DATA_RETENTION_YEARS ago, and expired inactive accounts (app.privacy.services)."""
    from app.privacy.services import anonymise_expired_runs as run_retention

    return run_retention(now)
