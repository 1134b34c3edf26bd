"""The scheduler (APScheduler 3.x, docs/technical-notes.md#scheduler): thin pollers over our own tables.

`build_scheduler(app)` registers the periodic jobs of `scheduler.jobs` with stable ids, each run
inside `app.app_context()` with `now=app.core.clock.now()`:

    send_due_notifications     every SCHEDULER_DELIVERY_SECONDS (30): the outbox
    reconcile_follow_up_jobs   every SCHEDULER_RECONCILE_SECONDS (60): keeps one `follow_up:<run id>` date job
                               per run whose follow-up day awaits confirmation, at the exact time
    confirm_follow_up_days     every SCHEDULER_FOLLOW_UP_SECONDS (600): the safety net behind those date jobs
    queue_reminders            every SCHEDULER_QUEUE_SECONDS (300)
    queue_feedback_requests    every SCHEDULER_QUEUE_SECONDS (300)
    purge_audit_log            every SCHEDULER_AUDIT_RETENTION_SECONDS (86400): audit entries past
                               AUDIT_RETENTION_DAYS
    anonymise_expired_runs     every SCHEDULER_RETENTION_SECONDS (86400): the retention job (app.privacy)
    heartbeat                  every SCHEDULER_HEARTBEAT_SECONDS (10): is the leadership lock still ours?
    record_heartbeat           every SCHEDULER_BEAT_SECONDS (60): the heartbeat row `/healthz` checks

Interval pollers run in UTC and first fire when the scheduler starts (a restart catches up at once).
The job store is APScheduler's MemoryJobStore: the truth is in our tables, and every job (the follow-up
date jobs too) is rebuilt from them when the scheduler starts, so nothing is lost by a restart.

Who may fire: only the holder of the leadership lock (scheduler/leader.py). `python -m scheduler`
(scheduler/__main__.py) is the production process; `SCHEDULER=embedded` runs the same jobs in a thread of
the development server (scheduler/embedded.py).

Logs name job ids, run ids and exception classes only, never exception messages (a database error's
message can carry the statement's parameters: e-mail addresses, names).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

if TYPE_CHECKING:
    from scheduler.leader import LeaderLock

from app.core import clock as _clock

__all__ = [
    "FOLLOW_UP_PREFIX",
    "MODES",
    "PERIODIC_JOB_IDS",
    "FollowUpChanges",
    "JobFailed",
    "Settings",
    "build_scheduler",
    "follow_up_job_id",
    "reconcile_follow_up_jobs",
    "settings",
    "stop_scheduler",
]

logger = logging.getLogger(__name__)

#: SCHEDULER: where the jobs run. "embedded": a thread of `flask run`'s server process (development);
#: "external": a separate `python -m scheduler` (production); "off": nowhere (tests, or by choice).
MODES = ("embedded", "external", "off")

JOB_DELIVERY = "send_due_notifications"
JOB_RECONCILE = "reconcile_follow_up_jobs"
JOB_CONFIRM_FOLLOW_UPS = "confirm_follow_up_days"
JOB_REMINDERS = "queue_reminders"
JOB_FEEDBACK = "queue_feedback_requests"
#: Requests still waiting for the leader when enrolment closes lapse (app.enrolment.approval).
JOB_APPROVAL_EXPIRY = "expire_approval_requests"
JOB_AUDIT_RETENTION = "purge_audit_log"
JOB_RETENTION = "anonymise_expired_runs"
JOB_HEARTBEAT = "heartbeat"
#: The heartbeat row `/healthz` reads (the leadership "heartbeat" above only checks the lock).
JOB_BEAT = "record_heartbeat"
#: The stable ids of the periodic jobs, in registration order.
PERIODIC_JOB_IDS = (
    JOB_DELIVERY,
    JOB_RECONCILE,
    JOB_CONFIRM_FOLLOW_UPS,
    JOB_REMINDERS,
    JOB_FEEDBACK,
    JOB_APPROVAL_EXPIRY,
    JOB_AUDIT_RETENTION,
    JOB_RETENTION,
    JOB_HEARTBEAT,
    JOB_BEAT,
)
#: Exact-time date jobs are `follow_up:<run id>`.
FOLLOW_UP_PREFIX = "follow_up:"


# --------------------------------------------------------------------------------------------------
# Settings (validated when the app is created: app/__init__.py's register_scheduler)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The scheduler's configuration, checked and converted (seconds as floats, the grace time an int)."""

    mode: str
    delivery_seconds: float
    reconcile_seconds: float
    follow_up_seconds: float
    queue_seconds: float
    audit_retention_seconds: float
    retention_seconds: float
    heartbeat_seconds: float
    beat_seconds: float
    standby_seconds: float
    misfire_grace_seconds: int


_SECONDS_KEYS = {
    "delivery_seconds": "SCHEDULER_DELIVERY_SECONDS",
    "reconcile_seconds": "SCHEDULER_RECONCILE_SECONDS",
    "follow_up_seconds": "SCHEDULER_FOLLOW_UP_SECONDS",
    "queue_seconds": "SCHEDULER_QUEUE_SECONDS",
    "audit_retention_seconds": "SCHEDULER_AUDIT_RETENTION_SECONDS",
    "retention_seconds": "SCHEDULER_RETENTION_SECONDS",
    "heartbeat_seconds": "SCHEDULER_HEARTBEAT_SECONDS",
    "beat_seconds": "SCHEDULER_BEAT_SECONDS",
    "standby_seconds": "SCHEDULER_STANDBY_SECONDS",
}
_DEFAULT_SECONDS = {
    "SCHEDULER_DELIVERY_SECONDS": 30,
    "SCHEDULER_RECONCILE_SECONDS": 60,
    "SCHEDULER_FOLLOW_UP_SECONDS": 600,
    "SCHEDULER_QUEUE_SECONDS": 300,
    "SCHEDULER_AUDIT_RETENTION_SECONDS": 86400,
    "SCHEDULER_RETENTION_SECONDS": 86400,
    "SCHEDULER_HEARTBEAT_SECONDS": 10,
    "SCHEDULER_BEAT_SECONDS": 60,
    "SCHEDULER_STANDBY_SECONDS": 10,
    "SCHEDULER_MISFIRE_GRACE_SECONDS": 300,
}


def _seconds(config: Mapping, key: str) -> float:
    raw = config.get(key, _DEFAULT_SECONDS[key])
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = float("nan")
    if not (0 < value < 7 * 24 * 3600):  # also refuses NaN
        raise RuntimeError(f"{key} must be a number of seconds above 0 (and below a week), not {raw!r}")
    return value


def settings(config: Mapping) -> Settings:
    """The scheduler settings from an app's config; raises RuntimeError naming the key on a bad value."""
    raw_mode = config.get("SCHEDULER", "off")
    mode = str(raw_mode).strip().lower()
    if mode not in MODES:
        raise RuntimeError(f"SCHEDULER must be one of {', '.join(MODES)}, not {raw_mode!r}")
    values = {name: _seconds(config, key) for name, key in _SECONDS_KEYS.items()}
    grace = _seconds(config, "SCHEDULER_MISFIRE_GRACE_SECONDS")
    return Settings(mode=mode, misfire_grace_seconds=max(1, round(grace)), **values)


# --------------------------------------------------------------------------------------------------
# Running one job
# --------------------------------------------------------------------------------------------------


class JobFailed(Exception):
    """What a failed job raises to APScheduler instead of the original exception, so that neither
    APScheduler's log line nor the EVENT_JOB_ERROR listener sees the original message."""

    def __init__(self, job_id: str, error_class: str):
        super().__init__(f"job {job_id} failed with {error_class} (traceback in the log line before)")
        self.job_id = job_id
        self.error_class = error_class


class _JobRunner:
    """Runs the jobs.py functions for one scheduler: leadership first, then app context and `now`."""

    def __init__(self, app: Flask, clock: Callable[[], datetime], leadership: _Leadership):
        self.app = app
        self.clock = clock
        self.leadership = leadership
        self._running = 0
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def _busy(self):
        with self._idle:
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float | None) -> bool:
        """Wait until no job of this scheduler runs (False if `timeout` seconds passed first)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)

    def run(self, job_id: str, function_name: str, *args):
        with self._busy():
            return self._run(job_id, function_name, *args)

    def _run(self, job_id: str, function_name: str, *args):
        # Looked up at every run, so the jobs module is the one seam (and can be replaced in a test).
        from scheduler import jobs

        if not self.leadership.still_ours(job_id):
            return None
        started = time.monotonic()
        try:
            with self.app.app_context():
                result = getattr(jobs, function_name)(*args, now=self.clock())
        except Exception as error:
            # The class and where it happened, never the message (it may hold personal data).
            logger.error(
                "job %s failed with %s after %.1f s; it runs again at its next time. Traceback:\n%s",
                job_id,
                type(error).__name__,
                time.monotonic() - started,
                "".join(traceback.format_tb(error.__traceback__)).rstrip(),
            )
            raise JobFailed(job_id, type(error).__name__) from None
        logger.debug("job %s done in %.2f s", job_id, time.monotonic() - started)
        return result

    def poller(self, job_id: str) -> Callable[[], object]:
        def job():
            return self.run(job_id, job_id)

        job.__name__ = job.__qualname__ = job_id  # APScheduler's log lines name the job by it
        return job

    def follow_up(self, run_id: int):
        """The `follow_up:<run id>` date job."""
        return self.run(follow_up_job_id(run_id), "confirm_follow_up", run_id)

    def reconcile(self, scheduler: BaseScheduler) -> None:
        """The periodic job: read the due times (in an app context) and align the date jobs with them."""
        with self._busy():
            due = self._run(JOB_RECONCILE, "follow_up_due_times")
            if due is not None and scheduler.state != STATE_STOPPED:
                reconcile_follow_up_jobs(scheduler, due)


@dataclass
class _Leadership:
    """The lock this scheduler fires under (None: not guarded, e.g. in a test), and what to do once it is
    lost: pause the scheduler at once (no job starts any more), then `on_lost` (exit, or go back to standby)."""

    leader: LeaderLock | None
    on_lost: Callable[[], None] | None
    scheduler: BaseScheduler | None = None
    lost: bool = field(default=False)

    def still_ours(self, job_id: str) -> bool:
        if self.lost:
            return False
        if self.leader is None or self.leader.is_held():
            return True
        self.lose(job_id)
        return False

    def lose(self, job_id: str) -> None:
        if self.lost:
            return
        self.lost = True
        logger.critical(
            "SCHEDULER LOST ITS LEADERSHIP LOCK (%s), noticed by job %s: no job fires here any more",
            getattr(self.leader, "description", "?"),
            job_id,
        )
        if self.scheduler is not None:
            with contextlib.suppress(SchedulerNotRunningError):
                self.scheduler.pause()
        if self.on_lost is not None:
            self.on_lost()

    def heartbeat(self) -> bool:
        ok = self.still_ours(JOB_HEARTBEAT)
        if ok:
            logger.debug("heartbeat: %s", "lock held" if self.leader is not None else "no lock in use")
        return ok


class _DropJobFailedRecords(logging.Filter):
    """APScheduler logs every job exception with its traceback ("Job ... raised an exception"); for a
    JobFailed that is a third line about what the runner and the listener already said."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], JobFailed))


_DROP_JOB_FAILED = _DropJobFailedRecords()


def _log_job_event(event: JobExecutionEvent | JobSubmissionEvent) -> None:
    """Loud log lines for what must not go unnoticed (ids and exception classes only)."""
    # A missed or failed run is a JobExecutionEvent (scheduled_run_time); a skipped one, because the last
    # run still runs, is a JobSubmissionEvent (scheduled_run_times, a list).
    due = getattr(event, "scheduled_run_time", None)
    if due is None:
        due = next(iter(getattr(event, "scheduled_run_times", None) or ()), None)
    when = due.isoformat() if due else "?"
    if event.code == EVENT_JOB_MISSED:
        logger.error("SCHEDULER JOB MISSED: %s was due at %s and is more than its grace time late", event.job_id, when)
    elif event.code == EVENT_JOB_ERROR:
        error_class = getattr(event.exception, "error_class", None) or type(event.exception).__name__
        logger.error("SCHEDULER JOB FAILED: %s (due at %s) raised %s", event.job_id, when, error_class)
    elif event.code == EVENT_JOB_MAX_INSTANCES:
        logger.warning("SCHEDULER JOB SKIPPED: %s (due at %s) still runs from its last time", event.job_id, when)


# --------------------------------------------------------------------------------------------------
# Building the scheduler
# --------------------------------------------------------------------------------------------------


def build_scheduler(
    app: Flask,
    scheduler_cls: type[BaseScheduler] = BlockingScheduler,
    clock: Callable[[], datetime] = _clock.now,
    *,
    leader: LeaderLock | None = None,
    on_lost_leadership: Callable[[], None] | None = None,
) -> BaseScheduler:
    """A scheduler (not started) with every periodic job registered; start it with `.start()`.

    `clock` gives each job its `now` (called inside the app context; aware). `leader` is the lock from
    `scheduler.leader.lock_for(app)`, already acquired: before each job and at every heartbeat the
    scheduler checks the lock is still held, and when it is not, it pauses itself (nothing fires any more)
    and calls `on_lost_leadership()`. Without a leader nothing is checked (tests of registration).
    """
    config = settings(app.config)
    scheduler = scheduler_cls(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=4)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": config.misfire_grace_seconds},
        timezone=UTC,
    )
    leadership = _Leadership(leader, on_lost_leadership, scheduler)
    runner = _JobRunner(app, clock, leadership)
    scheduler.kursusportalen_runner = runner  # reconcile_follow_up_jobs() adds date jobs running through it
    scheduler.add_listener(_log_job_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
    logging.getLogger("apscheduler.executors.default").addFilter(_DROP_JOB_FAILED)  # once: filters are a set

    first_run = datetime.now(UTC)

    def every(job_id: str, seconds: float, func: Callable, *, at_start: bool = True, args=()) -> None:
        scheduler.add_job(
            func,
            IntervalTrigger(seconds=seconds, timezone=UTC),
            args=list(args),
            id=job_id,
            name=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=config.misfire_grace_seconds,
            **({"next_run_time": first_run} if at_start else {}),
        )

    every(JOB_DELIVERY, config.delivery_seconds, runner.poller(JOB_DELIVERY))
    every(JOB_RECONCILE, config.reconcile_seconds, runner.reconcile, args=[scheduler])
    every(JOB_CONFIRM_FOLLOW_UPS, config.follow_up_seconds, runner.poller(JOB_CONFIRM_FOLLOW_UPS))
    every(JOB_REMINDERS, config.queue_seconds, runner.poller(JOB_REMINDERS))
    every(JOB_FEEDBACK, config.queue_seconds, runner.poller(JOB_FEEDBACK))
    every(JOB_APPROVAL_EXPIRY, config.queue_seconds, runner.poller(JOB_APPROVAL_EXPIRY))
    every(JOB_AUDIT_RETENTION, config.audit_retention_seconds, runner.poller(JOB_AUDIT_RETENTION))
    every(JOB_RETENTION, config.retention_seconds, runner.poller(JOB_RETENTION))
    every(JOB_HEARTBEAT, config.heartbeat_seconds, leadership.heartbeat, at_start=False)
    every(JOB_BEAT, config.beat_seconds, runner.poller(JOB_BEAT))
    return scheduler


def stop_scheduler(scheduler: BaseScheduler, wait: bool = True, timeout: float | None = None) -> bool:
    """Shut `scheduler` down (nothing new starts), then, with `wait`, wait for its running jobs (at most
    `timeout` seconds). Returns False if jobs were still running when the time was up.

    Use this, not `scheduler.shutdown(wait=True)`: APScheduler 3.x holds its job-store lock while it waits
    for running jobs, so a running reconcile job (which reads and adds date jobs) would deadlock with it.
    Here the scheduler is shut down without waiting and the jobs are awaited outside that lock.
    """
    with contextlib.suppress(SchedulerNotRunningError):
        scheduler.shutdown(wait=False)
    runner = getattr(scheduler, "kursusportalen_runner", None)
    if not wait or runner is None:
        return True
    return runner.wait_idle(timeout)


# --------------------------------------------------------------------------------------------------
# The exact-time follow-up jobs
# --------------------------------------------------------------------------------------------------


def follow_up_job_id(run_id: int) -> str:
    return f"{FOLLOW_UP_PREFIX}{int(run_id)}"


@dataclass
class FollowUpChanges:
    """What one reconciliation did, by run id."""

    added: list[int] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.moved or self.removed)


def reconcile_follow_up_jobs(
    scheduler: BaseScheduler, due: Mapping[int, datetime], func: Callable[[int], object] | None = None
) -> FollowUpChanges:
    """Make the scheduler's `follow_up:<run id>` date jobs match `due` (run id -> aware datetime, as
    `jobs.follow_up_due_times()` returns it): add the missing ones, replace those whose time changed,
    remove those whose run is no longer in `due`. Jobs already at the right time are left alone.

    Each date job has `misfire_grace_time=None` (it runs however late the scheduler wakes up, e.g. right
    away when its time passed while no scheduler ran) and calls `func(run_id)`; the default is the
    runner of a scheduler made by `build_scheduler()`, which calls `jobs.confirm_follow_up(run_id, now)`.
    Thread-safe (APScheduler locks its job store), so it runs as a job of the same scheduler.
    """
    for run_id, when in due.items():
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"the follow-up time of run {run_id} must be a timezone-aware datetime")
    if func is None:
        func = scheduler.kursusportalen_runner.follow_up
    changes = FollowUpChanges()
    wanted = {follow_up_job_id(run_id): (int(run_id), when) for run_id, when in due.items()}
    for job in scheduler.get_jobs():
        if job.id.startswith(FOLLOW_UP_PREFIX) and job.id not in wanted:
            try:
                scheduler.remove_job(job.id)
            except LookupError:  # it ran (and went) in the meantime
                continue
            changes.removed.append(int(job.id[len(FOLLOW_UP_PREFIX) :]))
    for job_id, (run_id, when) in wanted.items():
        existing = scheduler.get_job(job_id)
        if existing is not None and isinstance(existing.trigger, DateTrigger) and existing.trigger.run_date == when:
            continue
        scheduler.add_job(
            func,
            DateTrigger(run_date=when),
            args=[run_id],
            id=job_id,
            name=job_id,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
        )
        (changes.moved if existing is not None else changes.added).append(run_id)
    if changes:
        logger.info(
            "follow-up jobs: added %s, moved %s, removed %s (run ids)", changes.added, changes.moved, changes.removed
        )
    return changes
