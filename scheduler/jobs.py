"""The scheduler's job table: one function per job, each a thin poller over our own tables
(docs/technical-notes.md#scheduler).

The jobs' work lives in its domain (the outbox in app.notifications, reminders in app.enrolment, the
follow-up day in app.courses, retention in app.privacy and app.audit, the heartbeat in app.health); this
module only names it for the scheduler. Each job takes `now` (an aware datetime) and is the owner of its
transactions: it commits what it did (or rolls back) itself, so it can be called by the scheduler
(`scheduler/__init__.py`), by a test with an injected clock, or by hand from `flask shell`. What is due is
always read from the database (course days, enrolments, calendar invitations, outbox rows), never from
APScheduler's memory: a restart loses nothing, and running a job twice does nothing the second time
(every mail has a unique dedupe key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TypeVar

from app.audit.services import purge_expired
from app.courses import follow_up
from app.enrolment import approval, reminders
from app.extensions import db
from app.health import services as health
from app.notifications import outbox
from app.notifications.outbox import DeliveryReport
from app.privacy import services as privacy

logger = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = [
    "anonymise_expired_runs",
    "confirm_follow_up",
    "confirm_follow_up_days",
    "expire_approval_requests",
    "follow_up_due_times",
    "purge_audit_log",
    "queue_feedback_requests",
    "queue_reminders",
    "record_heartbeat",
    "send_due_notifications",
]


def _in_one_transaction(work: Callable[[], T]) -> T:
    """One unit of a job's work in its own transaction: committed when it returns, rolled back when it
    raises. The domain functions the jobs call add and flush; this is where a job's work is committed."""
    try:
        result = work()
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return result


def send_due_notifications(now: datetime) -> DeliveryReport:
    """Deliver the outbox rows that are due, batch after batch while mail is due (MAIL_BATCH_SIZE a batch, one SMTP
    connection per batch, at most MAIL_MAX_BATCHES; retries with back-off). The one job that commits inside the
    domain: after every mail the server accepted, so a crash re-sends at most that mail (the at-least-once protocol
    of app/notifications/outbox.py)."""
    report = outbox.deliver_all_due(now)
    if report.sent or report.retried or report.failed:
        logger.info("outbox: %d sent, %d to retry, %d failed", report.sent, report.retried, report.failed)
    return report


def follow_up_due_times(now: datetime) -> dict[int, datetime]:
    """Runs whose follow-up day still awaits confirmation: run id -> when the follow-up job should run
    (the evening of teaching day 2, aware). Read-only; the scheduler keeps one `follow_up:<run id>` date
    job per entry and removes the others."""
    return _in_one_transaction(lambda: follow_up.due_times(now))


def confirm_follow_up(run_id: int, now: datetime) -> bool:
    """The `follow_up:<run id>` job: fix the run's follow-up day and invite those present on the teaching
    days (cancel it for those who were not). False when there was nothing to do (already confirmed,
    cancelled, or teaching day 2's evening not reached yet)."""
    return _in_one_transaction(lambda: follow_up.confirm(run_id, now))


def confirm_follow_up_days(now: datetime) -> list[int]:
    """The safety net behind the date jobs (and what catches up after the scheduler was down): confirm every
    run whose teaching day 2 evening has passed, each run in its own transaction, so one failing run neither
    undoes nor stops the others (it is retried on the next run). Returns the confirmed run ids."""
    confirmed = []
    for run_id, when in _in_one_transaction(lambda: follow_up.due_times(now)).items():
        if when <= now:
            try:
                if _in_one_transaction(partial(follow_up.confirm, run_id, now)):
                    confirmed.append(run_id)
            except Exception:
                logger.exception("follow-up confirmation of run %s failed; it is retried on the next run", run_id)
    return confirmed


def queue_reminders(now: datetime) -> int:
    """Queue the reminders that are due (REMINDER_DAYS before each course day) to confirmed participants.
    Returns how many were queued."""
    return _in_one_transaction(lambda: reminders.queue_due_reminders(now))


def queue_feedback_requests(now: datetime) -> int:
    """Queue the feedback request to each participant present on a follow-up day that has ended."""
    return _in_one_transaction(lambda: reminders.queue_due_feedback_requests(now))


def expire_approval_requests(now: datetime) -> int:
    """Let the requests still waiting for the leader lapse once their run's enrolment deadline has passed
    (the person and the leader are told). Returns how many lapsed."""
    return _in_one_transaction(lambda: approval.expire_pending(now))


def record_heartbeat(now: datetime) -> None:
    """Write the scheduler's heartbeat row (each minute), which `/healthz` checks for freshness."""
    _in_one_transaction(lambda: health.record_heartbeat(now))


def purge_audit_log(now: datetime) -> int:
    """Delete audit entries older than AUDIT_RETENTION_DAYS (logged as "audit.purged"). Returns the count."""
    count = _in_one_transaction(lambda: purge_expired(now))
    if count:
        logger.info("audit log: %d entries past their retention deleted", count)
    return count


def anonymise_expired_runs(now: datetime):
    """The retention job: anonymise the participants of runs whose last day is more than
    PERSONAL_DATA_RETENTION_YEARS ago, and expired inactive accounts (app.privacy.services). It commits a
    transaction per run itself: a large backlog is worked off in batches that each stay short."""
    return privacy.anonymise_expired_runs(now)
