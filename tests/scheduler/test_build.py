"""build_scheduler(): the jobs it registers and their options, the exact-time follow-up jobs, the settings,
and what a running scheduler does with failing, late and leaderless jobs.

Registration is checked on a scheduler started paused (`start(paused=True)` computes next run times and
runs nothing); the behaviour of running schedulers on a SQLite file with short intervals, polling with a
deadline.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

import scheduler as sched
from app import create_app
from config import BASE_DIR, TestingConfig
from scheduler import (
    FOLLOW_UP_PREFIX,
    PERIODIC_JOB_IDS,
    FollowUpChanges,
    build_scheduler,
    follow_up_job_id,
    jobs,
    reconcile_follow_up_jobs,
    stop_scheduler,
)
from scheduler.leader import FileLock
from tests.scheduler.conftest import DEADLINE, wait_until

CPH = ZoneInfo("Europe/Copenhagen")


@pytest.fixture
def paused(app):
    """A scheduler from build_scheduler() on the test app, started paused; shut down afterwards."""
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


@pytest.fixture
def running(file_app):
    """running(**config) -> a started scheduler from build_scheduler() on an app on a SQLite file, with the
    given config (e.g. SCHEDULER_DELIVERY_SECONDS=0.2); every one is shut down afterwards."""
    started = []

    def start(leader=None, on_lost_leadership=None, **config):
        file_app.config.update(config)
        scheduler = build_scheduler(file_app, BackgroundScheduler, leader=leader, on_lost_leadership=on_lost_leadership)
        scheduler.start()
        started.append(scheduler)
        return scheduler

    yield start
    for scheduler in started:
        assert stop_scheduler(scheduler, wait=True, timeout=DEADLINE), "jobs still running"


# --- registration ---------------------------------------------------------------------------------------


def test_the_periodic_jobs_have_stable_ids_utc_intervals_and_explicit_options(paused):
    started = datetime.now(UTC)
    jobs_by_id = {job.id: job for job in paused.get_jobs()}

    assert (
        set(jobs_by_id)
        == set(PERIODIC_JOB_IDS)
        == {
            "send_due_notifications",
            "reconcile_follow_up_jobs",
            "confirm_follow_up_days",
            "queue_reminders",
            "queue_feedback_requests",
            "expire_approval_requests",
            "purge_audit_log",
            "anonymise_expired_runs",
            "heartbeat",
            "record_heartbeat",
        }
    )
    assert paused.timezone == UTC
    expected = {
        "send_due_notifications": 30,
        "reconcile_follow_up_jobs": 60,
        "confirm_follow_up_days": 600,
        "queue_reminders": 300,
        "queue_feedback_requests": 300,
        "expire_approval_requests": 300,
        "purge_audit_log": 86400,
        "anonymise_expired_runs": 86400,
        "heartbeat": 10,
        "record_heartbeat": 60,
    }
    for job_id, seconds in expected.items():
        job = jobs_by_id[job_id]
        assert isinstance(job.trigger, IntervalTrigger), job_id
        assert job.trigger.interval == timedelta(seconds=seconds), job_id
        assert job.trigger.timezone == UTC, job_id
        assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 300), job_id
        assert job.name == job_id
        assert job.next_run_time.tzinfo is not None
    # The pollers fire as soon as the scheduler starts (a restart catches up at once); the heartbeat later.
    for job_id in set(expected) - {"heartbeat"}:
        assert jobs_by_id[job_id].next_run_time <= started + timedelta(seconds=1), job_id
    assert jobs_by_id["heartbeat"].next_run_time >= started + timedelta(seconds=9)


def test_intervals_and_grace_time_come_from_the_config(app):
    app.config.update(
        SCHEDULER_DELIVERY_SECONDS="1",
        SCHEDULER_RECONCILE_SECONDS=2,
        SCHEDULER_FOLLOW_UP_SECONDS=3.5,
        SCHEDULER_QUEUE_SECONDS=4,
        SCHEDULER_HEARTBEAT_SECONDS=5,
        SCHEDULER_MISFIRE_GRACE_SECONDS="120",
        SCHEDULER_BEAT_SECONDS=6,
        SCHEDULER_AUDIT_RETENTION_SECONDS=7,
        SCHEDULER_RETENTION_SECONDS=8,
    )
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.start(paused=True)
    try:
        intervals = {job.id: job.trigger.interval.total_seconds() for job in scheduler.get_jobs()}
        graces = {job.misfire_grace_time for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert intervals == {
        "send_due_notifications": 1,
        "reconcile_follow_up_jobs": 2,
        "confirm_follow_up_days": 3.5,
        "queue_reminders": 4,
        "queue_feedback_requests": 4,
        "expire_approval_requests": 4,
        "heartbeat": 5,
        "record_heartbeat": 6,
        "purge_audit_log": 7,
        "anonymise_expired_runs": 8,
    }
    assert graces == {120}


# --- settings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SCHEDULER": "sometimes"}, "SCHEDULER must be one of embedded, external, off, not 'sometimes'"),
        ({"SCHEDULER_DELIVERY_SECONDS": "abc"}, "SCHEDULER_DELIVERY_SECONDS must be a number of seconds"),
        ({"SCHEDULER_STANDBY_SECONDS": "0"}, "SCHEDULER_STANDBY_SECONDS must be a number of seconds above 0"),
        ({"SCHEDULER_HEARTBEAT_SECONDS": -1}, "SCHEDULER_HEARTBEAT_SECONDS"),
        ({"SCHEDULER_QUEUE_SECONDS": "nan"}, "SCHEDULER_QUEUE_SECONDS"),
    ],
)
def test_create_app_refuses_unknown_scheduler_settings(overrides, message):
    config = type("BadSchedulerConfig", (TestingConfig,), overrides)
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(")):
        create_app(config)


def test_scheduler_modes_are_read_case_insensitively():
    assert sched.settings({"SCHEDULER": " External "}).mode == "external"


def test_each_configuration_has_its_scheduler_default_and_the_environment_overrides_it():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER")}
    env["SECRET_KEY"] = "x" * 40
    code = (
        "import config; print(config.DevelopmentConfig.SCHEDULER, config.TestingConfig.SCHEDULER,"
        " config.ProductionConfig.SCHEDULER, config.Config.SCHEDULER_DELIVERY_SECONDS,"
        " config.Config.SCHEDULER_STANDBY_SECONDS)"
    )

    def run(**extra):
        return subprocess.run(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", code],
            cwd=BASE_DIR,
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()

    assert run() == ["embedded", "off", "external", "30", "10"]
    assert run(SCHEDULER="off", SCHEDULER_DELIVERY_SECONDS="5") == ["off", "off", "off", "5", "10"]


# --- follow-up date jobs --------------------------------------------------------------------------------


def follow_up_jobs(scheduler):
    return {job.id: job for job in scheduler.get_jobs() if job.id.startswith(FOLLOW_UP_PREFIX)}


def test_reconcile_adds_one_exact_time_job_per_run(paused):
    due = {7: datetime(2026, 3, 31, 18, 0, tzinfo=CPH), 8: datetime(2026, 4, 2, 16, 30, tzinfo=UTC)}

    changes = reconcile_follow_up_jobs(paused, due)

    assert changes == FollowUpChanges(added=[7, 8])
    jobs_by_id = follow_up_jobs(paused)
    assert set(jobs_by_id) == {"follow_up:7", "follow_up:8"} == {follow_up_job_id(7), follow_up_job_id(8)}
    for run_id, when in due.items():
        job = jobs_by_id[f"follow_up:{run_id}"]
        assert isinstance(job.trigger, DateTrigger)
        assert job.trigger.run_date == when
        assert job.trigger.run_date.tzinfo is not None
        assert job.next_run_time == when and job.next_run_time.tzinfo is not None
        assert job.misfire_grace_time is None  # runs however late the scheduler wakes up
        assert job.args == (run_id,)
    # The periodic jobs are not touched.
    assert set(PERIODIC_JOB_IDS) <= {job.id for job in paused.get_jobs()}


def test_reconcile_moves_changed_times_removes_runs_no_longer_due_and_leaves_the_rest(paused):
    first = datetime(2026, 3, 31, 18, 0, tzinfo=CPH)
    reconcile_follow_up_jobs(paused, {1: first, 2: first, 3: first})
    untouched = follow_up_jobs(paused)["follow_up:1"]

    later = datetime(2026, 4, 1, 18, 0, tzinfo=CPH)
    changes = reconcile_follow_up_jobs(paused, {1: first, 2: later})

    assert changes == FollowUpChanges(moved=[2], removed=[3])
    jobs_by_id = follow_up_jobs(paused)
    assert set(jobs_by_id) == {"follow_up:1", "follow_up:2"}
    assert jobs_by_id["follow_up:2"].next_run_time == later
    assert jobs_by_id["follow_up:1"].next_run_time == first
    assert jobs_by_id["follow_up:1"].trigger is untouched.trigger  # same job, not replaced
    # The same time in another zone is the same instant: nothing to do.
    assert not reconcile_follow_up_jobs(paused, {1: first.astimezone(UTC), 2: later})
    assert reconcile_follow_up_jobs(paused, {}) == FollowUpChanges(removed=[1, 2])
    assert follow_up_jobs(paused) == {}
    assert set(PERIODIC_JOB_IDS) == {job.id for job in paused.get_jobs()}


def test_reconcile_refuses_naive_times(paused):
    with pytest.raises(ValueError, match="run 5 must be a timezone-aware datetime"):
        reconcile_follow_up_jobs(paused, {5: datetime(2026, 3, 31, 18, 0)})
    assert follow_up_jobs(paused) == {}


def test_a_follow_up_job_whose_time_has_passed_runs_at_once(running, monkeypatch):
    # The scheduler's own reconcile job runs once at start (with nothing due in this empty database) and
    # would remove a follow_up:42 added before it finished: wait for it first.
    reconciled = threading.Event()
    original = sched.reconcile_follow_up_jobs

    def reconcile_and_signal(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            reconciled.set()

    monkeypatch.setattr(sched, "reconcile_follow_up_jobs", reconcile_and_signal)
    scheduler = running(SCHEDULER_RECONCILE_SECONDS=3600)
    assert reconciled.wait(DEADLINE), "the start-up reconcile did not run"
    ran = []

    original(scheduler, {42: datetime.now(UTC) - timedelta(hours=6)}, func=ran.append)

    wait_until(lambda: ran == [42], "the late follow-up job ran (misfire_grace_time=None)")
    assert follow_up_jobs(scheduler) == {}  # a date job goes once it ran


def test_the_reconcile_job_keeps_the_date_jobs_and_they_confirm_in_an_app_context(running, monkeypatch):
    """At start the reconcile job reads follow_up_due_times(now) and schedules follow_up:<run id>; one
    past due fires at once and calls confirm_follow_up(run_id, now) with an aware `now` (the jobs.py
    functions are replaced here: they have tests of their own)."""
    from flask import current_app

    soon = datetime.now(UTC) + timedelta(hours=1)
    seen_now, confirmed = [], []

    def due_times(now):
        seen_now.append(now)
        assert current_app.name
        return {1: datetime.now(UTC) - timedelta(minutes=5), 2: soon}

    def confirm(run_id, now):
        assert now.tzinfo is not None and current_app.name
        confirmed.append(run_id)
        return True

    monkeypatch.setattr(jobs, "follow_up_due_times", due_times)
    monkeypatch.setattr(jobs, "confirm_follow_up", confirm)
    scheduler = running()

    wait_until(lambda: confirmed == [1], "follow_up:1 ran")
    assert seen_now and all(now.tzinfo is not None for now in seen_now)
    assert set(follow_up_jobs(scheduler)) == {"follow_up:2"}
    assert follow_up_jobs(scheduler)["follow_up:2"].next_run_time == soon


# --- a running scheduler --------------------------------------------------------------------------------


def test_a_failing_job_is_logged_loudly_without_its_message_and_runs_again(running, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    calls = []

    # Personal data in the exception's message, as a database error's parameters would be (built here, so
    # that the traceback's source line, which is logged, does not show it).
    message = " ".join(["SMTP refused", "sara@test.dk", "(Sara Sagsbehandler)"])

    def broken(now):
        calls.append(now)
        raise RuntimeError(message)

    monkeypatch.setattr(jobs, "send_due_notifications", broken)
    scheduler = running(SCHEDULER_DELIVERY_SECONDS=0.2)

    wait_until(lambda: len(calls) >= 2, "the failing job ran twice")
    wait_until(
        lambda: sum("SCHEDULER JOB FAILED: send_due_notifications" in r.getMessage() for r in caplog.records) >= 2,
        "two loud log lines",
    )
    assert scheduler.running
    assert "sara@test.dk" not in caplog.text and "Sagsbehandler" not in caplog.text
    failed = [r for r in caplog.records if "job send_due_notifications failed with RuntimeError" in r.getMessage()]
    assert failed and failed[0].levelno == logging.ERROR
    assert "in broken" in failed[0].getMessage()  # where it failed (the traceback's frames, not its message)
    # APScheduler's own "raised an exception" record would repeat it: it is filtered.
    assert not [r for r in caplog.records if r.name.startswith("apscheduler") and "raised an exception" in r.message]


def test_a_missed_run_is_logged_loudly(running, caplog):
    scheduler = running(SCHEDULER_DELIVERY_SECONDS=3600)
    scheduler.add_job(
        lambda: None, DateTrigger(datetime.now(UTC) - timedelta(minutes=10)), id="late", misfire_grace_time=1
    )

    record = wait_until(
        lambda: next((r for r in caplog.records if "SCHEDULER JOB MISSED: late" in r.getMessage()), None),
        "the missed-job log line",
    )
    assert record.levelno == logging.ERROR


def test_a_scheduler_that_loses_its_lock_stops_firing_at_once(running, tmp_path, monkeypatch, caplog):
    lock = FileLock(tmp_path / "leader.lock")
    assert lock.try_acquire()
    lost = threading.Event()
    deliveries = []
    monkeypatch.setattr(jobs, "send_due_notifications", lambda now: deliveries.append(now))
    scheduler = running(
        leader=lock, on_lost_leadership=lost.set, SCHEDULER_HEARTBEAT_SECONDS=0.2, SCHEDULER_DELIVERY_SECONDS=0.1
    )
    wait_until(lambda: len(deliveries) >= 2, "deliveries while the lock is held")

    (tmp_path / "leader.lock").unlink()  # someone removed the lock file: another process may lock a new one

    assert lost.wait(5), "the heartbeat noticed"
    assert scheduler.state == STATE_PAUSED
    assert any("LOST ITS LEADERSHIP LOCK" in r.getMessage() and r.levelno == logging.CRITICAL for r in caplog.records)
    count = len(deliveries)
    # Nothing fires any more. Not proven by sleeping (a busy machine may not run the scheduler's thread at
    # all meanwhile) but by waiting until the delivery job is five intervals overdue *and* the scheduler's
    # loop has since looked at its jobs: a scheduler that still fired would have fired in that pass.
    passes: list[datetime] = []
    process_jobs = scheduler._process_jobs

    def counted_pass():
        passes.append(datetime.now(UTC))  # APScheduler's own (real) time, not the app's clock
        return process_jobs()

    scheduler._process_jobs = counted_pass  # the loop looks the method up on every pass
    due = scheduler.get_job("send_due_notifications").next_run_time
    overdue = max(due, datetime.now(UTC)) + timedelta(seconds=5 * 0.1)

    def looked_when_overdue() -> bool:
        scheduler.wakeup()
        return any(when > overdue for when in passes)

    wait_until(looked_when_overdue, "a pass of the scheduler's loop after the delivery job was overdue")
    assert scheduler.get_job("send_due_notifications").next_run_time == due, "the job was not run"
    assert len(deliveries) == count, "nothing fired after the lock was lost"
    lock.release()


def test_a_skipped_run_is_logged_with_its_due_time(caplog):
    """APScheduler reports "still running, skipped" with a JobSubmissionEvent, which has a list of due times
    (scheduled_run_times) and no scheduled_run_time: the listener must not fail on it."""
    from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent

    from scheduler import _log_job_event

    due = datetime(2026, 12, 2, 6, 14, 51, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="scheduler"):
        _log_job_event(JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, "send_due_notifications", "default", [due]))
    assert "SCHEDULER JOB SKIPPED: send_due_notifications (due at 2026-12-02T06:14:51+00:00)" in caplog.text
