"""SCHEDULER=embedded: when the web process starts the scheduler thread, and what it does then.

The decision is checked under real click contexts of Flask's own `run` command and of other commands; the
thread itself in this process (standby while another holds the lock, then active, back to standby when the
lock goes); and `flask run` for real in a subprocess, with and without the reloader.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
import pytest
from flask.cli import run_command

from app import create_app
from config import BASE_DIR, TestingConfig
from scheduler import PERIODIC_JOB_IDS
from scheduler.embedded import EXTENSION_KEY, embedded_decision, maybe_start_embedded
from scheduler.leader import FileLock, lock_path
from tests.concurrency.harness import create_schema, database_app, drop_schema
from tests.notifications.conftest import free_port
from tests.scheduler.conftest import DEADLINE, wait_until


@contextmanager
def command_context(command: click.Command, **params) -> Iterator[click.Context]:
    """The click context a command's callback runs in (where `flask` loads the app)."""
    ctx = click.Context(command, info_name=command.name)
    ctx.params.update(params)
    with ctx:
        yield ctx


@pytest.fixture
def reloader(monkeypatch):
    """reloader(child: bool, debug: bool = False): the environment werkzeug and `flask --debug` set."""

    def set_env(child: bool, debug: bool = False):
        if child:
            monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
        else:
            monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
        monkeypatch.setenv("FLASK_DEBUG", "1" if debug else "0")

    set_env(child=False)
    return set_env


def app_with(mode: str, **config):
    return create_app(type("EmbeddedConfig", (TestingConfig,), {"SCHEDULER": mode, **config}))


@pytest.fixture
def embedded_app():
    return app_with("embedded")


# --- the decision -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["off", "external"])
def test_off_and_external_never_start_it_even_under_flask_run(mode, reloader):
    app = app_with(mode)
    reloader(child=True)
    with command_context(run_command, reload=True):
        assert embedded_decision(app) == (False, f"SCHEDULER={mode}")
    with command_context(run_command, reload=False):
        assert maybe_start_embedded(app) is None
    assert EXTENSION_KEY not in app.extensions


def test_not_outside_flask_run(embedded_app, reloader):
    """No click context: gunicorn, `python -m scheduler`, scripts, the tests."""
    assert click.get_current_context(silent=True) is None
    assert embedded_decision(embedded_app) == (False, "not under `flask run`")


@pytest.mark.parametrize("command", ["upgrade", "load", "shell", "routes"])
def test_not_under_other_flask_commands(embedded_app, reloader, command):
    reloader(child=True)  # even if the environment looked like the reloader's child
    with command_context(click.Command(command)):
        assert embedded_decision(embedded_app) == (False, "not under `flask run`")


def test_under_flask_run_without_the_reloader(embedded_app, reloader):
    with command_context(run_command, reload=False):
        assert embedded_decision(embedded_app) == (True, "`flask run`")
    with command_context(run_command, reload=None):  # no --reload and no --debug
        assert embedded_decision(embedded_app) == (True, "`flask run`")


def test_with_the_reloader_only_in_its_child(embedded_app, reloader):
    with command_context(run_command, reload=True):
        assert embedded_decision(embedded_app)[0] is False  # the parent only watches files
        reloader(child=True)
        assert embedded_decision(embedded_app) == (True, "`flask run` (reloader child)")


def test_debug_mode_turns_the_reloader_on_by_default(embedded_app, reloader):
    reloader(child=False, debug=True)  # `flask --debug run`
    with command_context(run_command, reload=None):
        assert embedded_decision(embedded_app)[0] is False
        reloader(child=True, debug=True)
        assert embedded_decision(embedded_app)[0] is True


# --- the thread -------------------------------------------------------------------------------------------


@pytest.fixture
def embedded_on_file(tmp_path, reloader, caplog):
    """An app on a SQLite file with SCHEDULER=embedded and quick intervals; the embedded scheduler started by
    maybe_start_embedded() under `flask run` is stopped afterwards."""
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    app = database_app(url)
    app.config.update(
        SCHEDULER="embedded",
        SCHEDULER_STANDBY_SECONDS=0.1,
        SCHEDULER_HEARTBEAT_SECONDS=0.1,
        SCHEDULER_DELIVERY_SECONDS=3600,
        SCHEDULER_RECONCILE_SECONDS=3600,
        SCHEDULER_FOLLOW_UP_SECONDS=3600,
        SCHEDULER_QUEUE_SECONDS=3600,
        MAIL_DIR=str(tmp_path / "mail"),
    )
    create_schema(app)
    caplog.set_level(logging.INFO, logger="scheduler")
    started = []

    def start():
        with command_context(run_command, reload=False):
            runner = maybe_start_embedded(app)
        started.append(runner)
        return runner

    try:
        yield app, start
    finally:
        for runner in started:
            if runner is not None:
                runner.stop()
        drop_schema(app)


def test_under_flask_run_the_thread_fires_the_jobs(embedded_on_file):
    app, start = embedded_on_file
    runner = start()

    assert runner is app.extensions[EXTENSION_KEY]
    assert runner.wait_active(DEADLINE)
    assert {job.id for job in runner.scheduler.get_jobs()} == set(PERIODIC_JOB_IDS)
    assert runner.lock.is_held()

    runner.stop()
    assert not runner.active and runner.scheduler is None
    assert not runner.lock.is_held()


def test_an_external_scheduler_holding_the_lock_keeps_it_standby_until_it_stops(embedded_on_file, caplog):
    app, start = embedded_on_file
    external = FileLock(lock_path(app))  # what `python -m scheduler` on the same database holds
    assert external.try_acquire()
    try:
        runner = start()
        wait_until(lambda: "is STANDBY" in caplog.text, "the embedded scheduler says it is standby")
        assert not runner.active
    finally:
        external.release()

    assert runner.wait_active(DEADLINE), "took over when the external scheduler let go"


def test_a_lost_lock_stops_the_embedded_scheduler_and_it_goes_back_to_standby(embedded_on_file, caplog):
    app, start = embedded_on_file
    runner = start()
    assert runner.wait_active(DEADLINE)
    first = runner.scheduler

    lock_path(app).unlink()  # the lock is gone (the next try locks a fresh file)

    wait_until(lambda: "back to standby" in caplog.text, "the embedded scheduler stopped firing")
    assert not first.running
    wait_until(
        lambda: runner.active and runner.scheduler is not None and runner.scheduler is not first,
        "active again with a new scheduler",
    )


# --- `flask run` for real ---------------------------------------------------------------------------------


@contextmanager
def flask_process(args: list[str], tmp_path, **env: str) -> Iterator[tuple[subprocess.Popen, Callable[[], str]]]:
    """`flask --app wsgi <args>` in its own process group (the reloader has a child); killed afterwards."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEDULER", "FLASK_", "WERKZEUG_"))}
    environment.pop("TEST_DATABASE_URL", None)
    environment.update(
        KURSUSPORTALEN_CONFIG="development",
        INSTANCE_PATH=str(tmp_path / "instance"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'flask.db'}",
        SECRET_KEY="x" * 40,
        SMTP_URL="",
        MAIL_DIR=str(tmp_path / "mail"),
        PYTHONDONTWRITEBYTECODE="1",
        **env,
    )
    log_path = tmp_path / "flask.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own fixed command line
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=BASE_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, lambda: log_path.read_text(errors="replace")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(DEADLINE)
        print(log_path.read_text(errors="replace"))


def test_flask_run_starts_it_and_other_commands_do_not(tmp_path):
    lock = tmp_path / "flask.db.scheduler.lock"
    with flask_process(["routes"], tmp_path) as (process, log):
        assert process.wait(DEADLINE) == 0
        assert "embedded scheduler" not in log()
    assert not lock.exists()

    with flask_process(["run", "--port", str(free_port())], tmp_path) as (process, log):
        wait_until(lambda: "embedded scheduler started: jobs" in log(), "the scheduler started")
        assert "scheduler is ACTIVE" in log()
        assert lock.exists()


def test_flask_run_with_the_reloader_starts_it_once_in_the_child(tmp_path):
    with flask_process(["run", "--debug", "--port", str(free_port())], tmp_path) as (process, log):
        wait_until(lambda: "embedded scheduler started: jobs" in log(), "the scheduler started")
        text = log()
        assert text.count("embedded scheduler starting") == 1
        assert "(reloader child)" in text
        child_pid = int(text.split("scheduler is ACTIVE (pid ")[1].split(")")[0])
        assert child_pid != process.pid  # not the reloader's parent
