"""`python -m scheduler`: the scheduler process (production: exactly one beside the gunicorn web processes,
which run with SCHEDULER=external).

Builds the app with `create_app()` (configuration from KURSUSPORTALEN_CONFIG, as wsgi.py), waits until it
holds the leadership lock (scheduler/leader.py; standby until then, so a second copy started by mistake
or during a rollout only waits), then runs a BlockingScheduler with the jobs of `build_scheduler()`.
Logs go to stderr (LOG_LEVEL, default INFO).

Exit status: 0 after SIGTERM/SIGINT (running jobs may finish, for at most STOP_TIMEOUT seconds, else 1;
a second signal exits at once); 75 (EX_TEMPFAIL) when the leadership lock was lost while active. Run it
under systemd with `Restart=on-failure` (or `always`): the restarted process waits as standby until it
holds the lock again.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

#: Exit status after losing the leadership lock; systemd's Restart=on-failure starts us again.
EXIT_LOST_LEADERSHIP = 75
#: Exit status when the configuration or database is unfit to run (EX_CONFIG); systemd doesn't restart it
#: (RestartPreventExitStatus in deploy/kursusportalen-scheduler.service).
EXIT_CONFIG = 78
#: Seconds a stop waits for running jobs (below systemd's default TimeoutStopSec of 90 s).
STOP_TIMEOUT = 60

logger = logging.getLogger("scheduler")


def _configure_logging() -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="%(asctime)s %(levelname)s [pid %(process)d] %(name)s: %(message)s",
    )
    # "Running job ... executed successfully" twice a minute per job, "Adding job tentatively", Alembic's
    # plugin set-up: noise. Misses and errors stay; the scheduler logs its own start, jobs and stop.
    for name in ("apscheduler.executors", "apscheduler.scheduler", "alembic"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def _exit_lost_leadership() -> None:
    """Called in the job thread that noticed the lost lock, after the scheduler was paused. Exit at once,
    non-zero, without waiting for running jobs (their connections may be as dead as the lock's): systemd
    restarts the process, which then waits as standby until it holds the lock again."""
    logger.critical(
        "exiting with status %d: the leadership lock is lost (systemd restarts us as standby)", EXIT_LOST_LEADERSHIP
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_LOST_LEADERSHIP)


def main() -> int:
    _configure_logging()
    from apscheduler.schedulers.blocking import BlockingScheduler

    from app import create_app
    from app.demo import DemoAccountsInProduction, refuse_demo_accounts
    from scheduler import build_scheduler, settings, stop_scheduler
    from scheduler.leader import lock_for, wait_for_leadership

    app = create_app(os.environ.get("KURSUSPORTALEN_CONFIG"))
    try:
        refuse_demo_accounts(app)
    except DemoAccountsInProduction as refusal:
        logger.critical("%s", refusal)
        return EXIT_CONFIG
    config = settings(app.config)
    lock = lock_for(app)
    stop = threading.Event()
    running: list = []  # the scheduler, once built

    def shut_down(scheduler) -> None:
        # In a thread of its own, not in the signal handler (that runs inside the main thread's scheduler
        # loop). Waits until start() has started, then stops it: start() returns in the main thread, which
        # waits for the running jobs (stop_scheduler, not APScheduler's deadlock-prone shutdown(wait=True)).
        deadline = time.monotonic() + 10
        while not scheduler.running and time.monotonic() < deadline:
            time.sleep(0.05)
        stop_scheduler(scheduler, wait=False)

    first_signal: list[float] = []

    def on_signal(signum, _frame) -> None:
        if stop.is_set():
            # A second signal a moment later (Ctrl+C again) forces the exit. One right after the first is
            # the same stop repeated (`timeout` signals the child and then its whole process group).
            if time.monotonic() - first_signal[0] > 1:
                logger.warning("second %s: exiting without waiting for running jobs", signal.Signals(signum).name)
                os._exit(1)
            return
        first_signal.append(time.monotonic())
        logger.info("%s received: stopping after the running jobs", signal.Signals(signum).name)
        stop.set()
        if running:
            threading.Thread(target=shut_down, args=(running[0],), name="scheduler-shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        if not wait_for_leadership(lock, config.standby_seconds, stop):
            logger.info("scheduler stopped while standby")
            return 0
        scheduler = build_scheduler(app, BlockingScheduler, leader=lock, on_lost_leadership=_exit_lost_leadership)
        running.append(scheduler)
        if stop.is_set():
            return 0
        logger.info(
            "scheduler started: jobs %s (delivery every %g s)",
            ", ".join(job.id for job in scheduler.get_jobs()),
            config.delivery_seconds,
        )
        scheduler.start()  # blocks until shut down
        if not stop_scheduler(scheduler, wait=True, timeout=STOP_TIMEOUT):
            logger.warning("jobs still running after %d s; exiting anyway", STOP_TIMEOUT)
            logger.info("scheduler stopped")
            for handler in logging.getLogger().handlers:
                handler.flush()
            lock.release()
            os._exit(1)
        logger.info("scheduler stopped")
        return 0
    finally:
        lock.release()


if __name__ == "__main__":
    sys.exit(main())
