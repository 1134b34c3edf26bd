"""Fixtures for the scheduler tests: apps on a real database that a running scheduler may share (a SQLite
file, or PostgreSQL from TEST_DATABASE_URL in a database of its own), a real SMTP server on loopback
(aiosmtpd, from tests/notifications/conftest.py), `python -m scheduler` processes, and waiting with a
deadline instead of sleeping.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app.core import clock
from app.extensions import db
from app.notifications import compose, outbox
from app.notifications.compose import Recipient
from app.notifications.models import OutboxMessage, OutboxStatus
from config import BASE_DIR
from tests.concurrency.harness import create_schema, database_app, drop_schema, separate_postgres_database
from tests.notifications.conftest import RecordingHandler, SmtpServer, free_port

#: The longest any one wait may take (a scheduler process starts in about a second).
DEADLINE = 20


def wait_until(condition: Callable[[], object], what: str, timeout: float = DEADLINE, interval: float = 0.05):
    """Poll `condition` until it is truthy (returned) or `timeout` seconds pass (AssertionError naming `what`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for: {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------------


@dataclass
class SharedDatabase:
    """A database with a fresh schema, its URL (for DATABASE_URL) and an app on it (context pushed)."""

    url: str
    app: Flask

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgres")


@pytest.fixture
def shared_db(tmp_path) -> Iterator[SharedDatabase]:
    """PostgreSQL `<TEST_DATABASE_URL's database>_sched` (so a scheduler process never meets the other tests'
    tables), or a SQLite file in tmp_path; the schema from db.create_all(), dropped afterwards."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url and url.startswith("postgres"):
        url = separate_postgres_database(url, "_sched")
    else:
        url = f"sqlite:///{tmp_path / 'scheduler.db'}"
    app = database_app(url)
    create_schema(app)
    try:
        with app.app_context():
            yield SharedDatabase(url, app)
            db.session.remove()
    finally:
        drop_schema(app)


@pytest.fixture
def file_app(tmp_path) -> Iterator[Flask]:
    """An app on a SQLite file with the schema, for schedulers running in this process: their job threads
    get connections of their own (the suite's `sqlite://` shares one connection between all threads)."""
    app = database_app(f"sqlite:///{tmp_path / 'jobs.db'}")
    create_schema(app)
    try:
        yield app
    finally:
        drop_schema(app)


def queue_mails(prefix: str, n: int) -> list[str]:
    """Queue `n` notice mails, due now, in one commit; returns their Message-IDs (one per dedupe key)."""
    # The tests' frozen clock: in the past for the scheduler processes (they run on the real clock), so due.
    now = clock.utcnow()
    message_ids = []
    for i in range(1, n + 1):
        key = f"scheduler-test:{prefix}:{i}"
        message_id = outbox.message_id_for(key)
        email = f"deltager{i}@test.dk"
        msg = compose.notice_message(
            Recipient(email=email, name=f"Deltager {i}"),
            f"Besked {prefix} {i}",
            "Hej.",
            stamp=now,
            message_id=message_id,
        )
        assert outbox.enqueue(msg, kind="notice", dedupe_key=key, recipient_email=email, now=now) is not None
        message_ids.append(message_id)
    db.session.commit()
    return message_ids


def outbox_statuses() -> Counter:
    """How many rows have each status (ends its transaction: on SQLite an open one holds the write lock)."""
    db.session.expire_all()
    statuses = Counter(OutboxStatus(s).value for s in db.session.scalars(select(OutboxMessage.status)))
    db.session.close()
    return statuses


def all_sent(n: int) -> bool:
    return outbox_statuses() == Counter({"sent": n})


# --------------------------------------------------------------------------------------------------
# SMTP
# --------------------------------------------------------------------------------------------------


class GateHandler(RecordingHandler):
    """Records mails like RecordingHandler; the `block_at`-th RCPT (counted over all connections) waits
    until `release` is set, so the client is stuck before the message is transmitted."""

    def __init__(self, block_at: int | None = None):
        super().__init__()
        self.block_at = block_at
        self.rcpts = 0
        self.blocked = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd hook)
        self.rcpts += 1
        if self.rcpts == self.block_at:
            self.blocked.set()
            while not self.release.is_set():  # aiosmtpd cancels this when the client's connection drops
                await asyncio.sleep(0.02)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 for scheduler processes (they run outside this test's SMTP guard)."""
    server = SmtpServer(GateHandler(), free_port())
    server.start()
    try:
        yield server
    finally:
        server.handler.release.set()
        server.stop()


def count_by_message_id(server: SmtpServer) -> Counter:
    return Counter(mail.message_id for mail in list(server.received))


# --------------------------------------------------------------------------------------------------
# `python -m scheduler` processes
# --------------------------------------------------------------------------------------------------

#: Environment variables of the developer's shell that must not reach a scheduler process.
_STRIPPED_PREFIXES = (
    "SCHEDULER",
    "TEST_DATABASE_URL",
    "DATABASE_URL",
    "SMTP_URL",
    "MAIL_",
    "KURSUSPORTALEN_",
    "FLASK_",
    "INSTANCE_PATH",
    "SECRET_KEY",
    "LOG_LEVEL",
)


class SchedulerProcess:
    """One `python -m scheduler`, its stdout and stderr in a log file."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"scheduler-{name}.log"
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(  # noqa: S603 - our own fixed command line
                [sys.executable, "-m", "scheduler"], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def active(self) -> bool:
        return f"scheduler is ACTIVE (pid {self.pid})" in self.log

    @property
    def standby(self) -> bool:
        return f"scheduler is STANDBY (pid {self.pid})" in self.log

    @property
    def started(self) -> bool:
        """Firing: it holds the lock and its scheduler runs."""
        return self.active and "scheduler started: jobs" in self.log

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as a crash or the OOM killer."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(DEADLINE)

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; returns the exit status."""
        self.popen.terminate()
        return self.popen.wait(DEADLINE)


@pytest.fixture
def start_scheduler(shared_db, smtp, tmp_path) -> Iterator[Callable[..., SchedulerProcess]]:
    """start_scheduler(name) starts `python -m scheduler` on the shared database, delivering to `smtp`,
    with intervals short enough for a test. Every process is killed (and reaped) afterwards and its log
    printed (pytest shows it when the test fails)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_PREFIXES)}
    base.update(
        KURSUSPORTALEN_CONFIG="development",
        DATABASE_URL=shared_db.url,
        SMTP_URL=smtp.url,
        INSTANCE_PATH=str(tmp_path / "instance"),
        SECRET_KEY="scheduler-test-secret-key-not-for-production",
        SCHEDULER="external",
        SCHEDULER_DELIVERY_SECONDS="0.5",
        SCHEDULER_STANDBY_SECONDS="0.5",
        SCHEDULER_HEARTBEAT_SECONDS="0.5",
        # The other pollers run once at start (on empty tables) and then not again during a test.
        SCHEDULER_RECONCILE_SECONDS="3600",
        SCHEDULER_FOLLOW_UP_SECONDS="3600",
        SCHEDULER_QUEUE_SECONDS="3600",
        PYTHONDONTWRITEBYTECODE="1",
    )
    processes: list[SchedulerProcess] = []

    def start(name: str, **env: str) -> SchedulerProcess:
        process = SchedulerProcess(name, {**base, **env}, tmp_path)
        processes.append(process)
        return process

    try:
        yield start
    finally:
        for process in processes:
            if process.popen.poll() is None:
                process.popen.kill()
            process.popen.wait(DEADLINE)
            print(f"----- scheduler {process.name} (pid {process.pid}, exit {process.popen.returncode}) -----")
            print(process.log)
