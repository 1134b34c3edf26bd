"""Leadership: however many schedulers are started, only the holder of one lock fires jobs.

- PostgreSQL: a session-level `pg_try_advisory_lock(LOCK_KEY)` taken on a dedicated connection (its own
  engine, no pool, autocommit) that is held for the life of the process. The server releases the lock when
  that session ends, also when the process is killed (the kernel closes its socket) or the host vanishes
  (TCP keepalives and `tcp_user_timeout` end the session within about half a minute). Advisory locks are
  per database, so two installations on one server don't see each other. `pg_stat_activity` shows the
  holder as application_name `kursusportalen-scheduler`.
- SQLite: `fcntl.flock(LOCK_EX | LOCK_NB)` on a lock file next to the database file (`<db file>.scheduler.lock`;
  the instance folder for an in-memory database; SCHEDULER_LOCK_FILE overrides both). The kernel drops the
  lock when the process dies. The file is never deleted (deleting it would let a second process lock a new
  file of the same name); it holds the holder's pid, for people.

A process that does not get the lock is a standby: `wait_for_leadership()` logs that once and tries again
every SCHEDULER_STANDBY_SECONDS, so it takes over when the holder dies. The holder checks `is_held()` before
every job and at every heartbeat; when the lock is gone (the lock connection broke, or the lock file was
removed or replaced) it stops firing at once. A lock lost that way may already have been taken by a standby,
so two schedulers can overlap until the old one's next check (at most one heartbeat): harmless, because
every job is idempotent (outbox rows are claimed with SKIP LOCKED / SQLite's write lock, mails have dedupe
keys), but the reason the check is frequent.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

__all__ = ["LOCK_KEY", "FileLock", "LeaderLock", "PostgresAdvisoryLock", "lock_for", "lock_path", "wait_for_leadership"]

logger = logging.getLogger(__name__)

#: The advisory lock's key: "KP_SCHED" as eight ASCII bytes (a positive bigint; any constant would do, as
#: long as nothing else in the database uses it).
LOCK_KEY = int.from_bytes(b"KP_SCHED", "big")
APPLICATION_NAME = "kursusportalen-scheduler"


class LeaderLock(Protocol):
    """One process's claim to be the scheduler that fires."""

    #: For log lines: what the lock is (no credentials).
    description: str

    #: Whether the last `try_acquire()` failed because the database (or lock file) could not be reached,
    #: as opposed to finding the lock held by another scheduler.
    unreachable: bool

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it (True also when this object holds it already); never blocks
        for long and never raises for an unreachable database (False, logged, `unreachable` set)."""

    def is_held(self) -> bool:
        """Whether this object still holds the lock (checks the connection or the file)."""

    def release(self) -> None:
        """Give the lock up (never raises)."""


class PostgresAdvisoryLock:
    """A session-level advisory lock on a connection of its own."""

    def __init__(self, url: str, key: int = LOCK_KEY, *, connect_timeout: int = 10):
        self.key = key
        parsed = make_url(url)
        self.description = f"PostgreSQL advisory lock {key} in database {parsed.database}"
        self._engine = create_engine(
            parsed,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",  # never "idle in transaction" while holding the lock for days
            connect_args={
                "connect_timeout": connect_timeout,
                "application_name": APPLICATION_NAME,
                # Notice a dead server or network within about half a minute, instead of TCP's ~15 minutes.
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
                "tcp_user_timeout": 30_000,
            },
        )
        self._conn: Connection | None = None
        self._held = False
        self.unreachable = False
        self._mutex = threading.Lock()  # the heartbeat and the jobs check from several threads

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._held:
                return True
            try:
                if self._conn is None:
                    self._conn = self._engine.connect()
                got: bool = self._conn.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
                ).scalar_one()
            except SQLAlchemyError as error:
                logger.warning("scheduler lock: PostgreSQL not reachable (%s); trying again", type(error).__name__)
                self.unreachable = True
                self._discard()
                return False
            self.unreachable = False
            self._held = bool(got)
            return self._held

    def is_held(self) -> bool:
        with self._mutex:
            if not self._held or self._conn is None:
                return False
            try:
                held: bool = self._conn.execute(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND pid = pg_backend_pid() AND classid::bigint = :high AND objid::bigint = :low"
                        " AND objsubid = 1)"
                    ),
                    {"high": (self.key >> 32) & 0xFFFFFFFF, "low": self.key & 0xFFFFFFFF},
                ).scalar_one()
            except SQLAlchemyError as error:
                logger.error("scheduler lock: the lock connection failed (%s)", type(error).__name__)
                held = False
            if not held:
                self._held = False
                self._discard()
            return bool(held)

    def release(self) -> None:
        with self._mutex:
            if self._held and self._conn is not None:
                # Closing the session below releases it anyway, if this fails.
                with contextlib.suppress(SQLAlchemyError):
                    self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self._held = False
            self._discard()
            self._engine.dispose()

    def backend_pid(self) -> int | None:
        """The server process id of the lock's session (for tests and for people reading pg_stat_activity)."""
        with self._mutex:
            if self._conn is None:
                return None
            return self._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # A broken connection may fail to close; it is gone either way.
            with contextlib.suppress(Exception):
                conn.close()


class FileLock:
    """An exclusive `flock` on a file; the kernel releases it when the process ends."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.description = f"lock file {self.path}"
        self._fd: int | None = None
        self.unreachable = False
        self._mutex = threading.Lock()

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._fd is not None:
                return True
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as error:
                logger.warning("scheduler lock: cannot open %s (%s); trying again", self.path, type(error).__name__)
                self.unreachable = True
                return False
            self.unreachable = False
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # BlockingIOError: somebody else holds it
                os.close(fd)
                return False
            if not self._is_our_file(fd):  # the file was replaced between open() and flock()
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return True

    def is_held(self) -> bool:
        with self._mutex:
            return self._fd is not None and self._is_our_file(self._fd)

    def release(self) -> None:
        with self._mutex:
            fd, self._fd = self._fd, None
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                finally:
                    os.close(fd)

    def _is_our_file(self, fd: int) -> bool:
        """The path still names the file we locked (not removed, not replaced by a new one)."""
        try:
            on_disk, ours = os.stat(self.path), os.fstat(fd)
        except OSError:
            return False
        return (on_disk.st_dev, on_disk.st_ino) == (ours.st_dev, ours.st_ino)


def lock_path(app: Flask) -> Path:
    """SQLite's lock file: SCHEDULER_LOCK_FILE, else `<database file>.scheduler.lock`, else (in-memory
    database) `scheduler.lock` in the instance folder. A relative database path is relative to the instance
    folder, as Flask-SQLAlchemy reads it."""
    configured = app.config.get("SCHEDULER_LOCK_FILE")
    if configured:
        return Path(configured)
    database = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return Path(app.instance_path) / "scheduler.lock"
    path = Path(database)
    if not path.is_absolute():
        path = Path(app.instance_path) / path
    return path.with_name(f"{path.name}.scheduler.lock")


def lock_for(app: Flask) -> LeaderLock:
    """The leadership lock for the app's database (not yet acquired)."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    backend = make_url(uri).get_backend_name()
    if backend == "postgresql":
        return PostgresAdvisoryLock(uri)
    if backend == "sqlite":
        return FileLock(lock_path(app))
    raise RuntimeError(f"the scheduler's leadership lock supports PostgreSQL and SQLite, not {backend}")


def wait_for_leadership(lock: LeaderLock, standby_seconds: float, stop: threading.Event) -> bool:
    """Block until `lock` is ours (True) or `stop` is set (False). While another scheduler holds it, log
    once that this one is standby, then try again every `standby_seconds`. A database (or lock file) that
    cannot be reached says nothing about another scheduler: the lock logs that itself, and the standby line
    waits until the lock was really found held."""
    announced = False
    while not stop.is_set():
        if lock.try_acquire():
            logger.info("scheduler is ACTIVE (pid %d): holds the %s", os.getpid(), lock.description)
            return True
        if not announced and not getattr(lock, "unreachable", False):
            logger.info(
                "scheduler is STANDBY (pid %d): another scheduler holds the %s; trying again every %g s",
                os.getpid(),
                lock.description,
                standby_seconds,
            )
            announced = True
        stop.wait(standby_seconds)
    return False
