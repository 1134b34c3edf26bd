"""SCHEDULER=embedded: the development server fires the jobs itself, in a daemon thread.

`maybe_start_embedded(app)` is the last step of `create_app()`. It checks the scheduler settings (a bad
value fails the app's creation) and starts the embedded scheduler only when all of these hold:

- SCHEDULER is "embedded" (the development default; "external" and "off" start nothing here);
- the app is being loaded by `flask run` (the current click command is "run"); never under
  `flask db upgrade`, `flask demo load`, `flask shell`, gunicorn, `python -m scheduler` or the tests;
- with the reloader on (`flask run --debug` / `--reload`), only in the reloader's child process (the one
  that serves), not in the parent that only watches files.

The embedded scheduler takes the same leadership lock as `python -m scheduler` (scheduler/leader.py): if an
external scheduler already runs against the same database, this one stays standby and takes over only if
that one stops. If it loses the lock while active, it stops firing and goes back to standby (a web process
cannot exit the way the standalone scheduler does).
"""

from __future__ import annotations

import logging
import os
import sys
import threading

import click
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from flask.helpers import get_debug_flag
from werkzeug.serving import is_running_from_reloader

from scheduler import build_scheduler, settings, stop_scheduler
from scheduler.leader import LeaderLock, lock_for, wait_for_leadership

__all__ = ["EmbeddedScheduler", "embedded_decision", "maybe_start_embedded"]

logger = logging.getLogger(__name__)

#: Where create_app keeps the running embedded scheduler (app.extensions[...]).
EXTENSION_KEY = "kursusportalen.scheduler"


def embedded_decision(app: Flask) -> tuple[bool, str]:
    """Whether this process should run the embedded scheduler now, and why (for the debug log)."""
    mode = settings(app.config).mode
    if mode != "embedded":
        return False, f"SCHEDULER={mode}"
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.command.name != "run":
        return False, "not under `flask run`"
    reload = ctx.params.get("reload")
    if reload is None:  # flask run's own default: the reloader is on in debug mode
        reload = get_debug_flag()
    if reload and not is_running_from_reloader():
        return False, "the reloader's parent process (the child runs the scheduler)"
    return True, "`flask run`" + (" (reloader child)" if reload else "")


def maybe_start_embedded(app: Flask) -> EmbeddedScheduler | None:
    """Validate the scheduler settings and start the embedded scheduler if `embedded_decision()` says so."""
    wanted, reason = embedded_decision(app)
    if not wanted:
        logger.debug("embedded scheduler not started: %s", reason)
        return None
    _show_logs_on_stderr()
    runner = EmbeddedScheduler(app)
    app.extensions[EXTENSION_KEY] = runner
    runner.start()
    logger.info("embedded scheduler starting in the server process (pid %d, %s)", os.getpid(), reason)
    return runner


def _show_logs_on_stderr() -> None:
    """`flask run` configures no logging: without a handler the scheduler's INFO lines (started, standby)
    would be invisible. Add one for our logger only, unless the developer configured logging."""
    ours = logging.getLogger("scheduler")
    if logging.getLogger().handlers or ours.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s in %(name)s: %(message)s"))
    ours.addHandler(handler)
    ours.setLevel(logging.INFO)


class EmbeddedScheduler:
    """A daemon thread: standby until the lock is ours, then a BackgroundScheduler; if the lock is lost,
    the scheduler is shut down and the thread goes back to standby. `stop()` ends it."""

    def __init__(self, app: Flask, lock: LeaderLock | None = None):
        self.app = app
        self.settings = settings(app.config)
        self.lock = lock if lock is not None else lock_for(app)
        self.scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._active = threading.Event()
        self._stop_timeout: float = 30
        self._thread = threading.Thread(target=self._run, name="embedded-scheduler", daemon=True)

    @property
    def active(self) -> bool:
        return self._active.is_set()

    def wait_active(self, timeout: float) -> bool:
        return self._active.wait(timeout)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        """Stop firing, wait for running jobs (at most `timeout` seconds), release the lock."""
        self._stop_timeout = timeout
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout + 5)

    def _lost(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not wait_for_leadership(self.lock, self.settings.standby_seconds, self._stop):
                    break
                self._wake.clear()
                if self._stop.is_set():  # stop() came between: its wake-up was just cleared
                    break
                scheduler = build_scheduler(
                    self.app, BackgroundScheduler, leader=self.lock, on_lost_leadership=self._lost
                )
                self.scheduler = scheduler
                scheduler.start()
                self._active.set()
                logger.info("embedded scheduler started: jobs %s", ", ".join(j.id for j in scheduler.get_jobs()))
                self._wake.wait()  # stop() or the lost lock
                self._active.clear()
                # On stop, let running jobs finish (bounded); after a lost lock, just stop.
                stop_scheduler(scheduler, wait=self._stop.is_set(), timeout=self._stop_timeout)
                self.scheduler = None
                self.lock.release()
                if not self._stop.is_set():
                    logger.warning("embedded scheduler stopped firing (lock lost); back to standby")
        except Exception:  # never take the dev server down; say so loudly
            logger.exception("the embedded scheduler failed and is not running")
        finally:
            self.lock.release()
            logger.info("embedded scheduler stopped")
