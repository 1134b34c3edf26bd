"""The leadership lock: a flock'ed file (SQLite) and a PostgreSQL session advisory lock, each taken for real
twice in this process (two open files / two sessions conflict just as two processes do)."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from config import TestingConfig, _database_url
from scheduler import leader
from scheduler.leader import LOCK_KEY, FileLock, PostgresAdvisoryLock, lock_for, lock_path, wait_for_leadership
from tests.scheduler.conftest import wait_until


@pytest.fixture
def locks():
    """Every lock made by the test is released afterwards."""
    made = []

    def keep(lock):
        made.append(lock)
        return lock

    yield keep
    for lock in made:
        lock.release()


# --- SQLite: a lock file ----------------------------------------------------------------------------------


def test_only_one_file_lock_at_a_time_and_the_next_one_takes_over(tmp_path, locks):
    path = tmp_path / "instance" / "kursusportalen.db.scheduler.lock"
    first, second = locks(FileLock(path)), locks(FileLock(path))

    assert first.try_acquire()
    assert first.try_acquire()  # holding it already
    assert not second.try_acquire()
    assert first.is_held() and not second.is_held()
    assert path.read_text() == f"{os.getpid()}\n"  # for people: who holds it

    first.release()
    assert not first.is_held()
    assert second.try_acquire() and second.is_held()
    assert path.exists()  # never deleted: a new file of the same name would be a second lock


def test_a_removed_or_replaced_lock_file_is_no_longer_held(tmp_path, locks):
    path = tmp_path / "scheduler.lock"
    lock = locks(FileLock(path))
    assert lock.try_acquire()

    path.unlink()
    assert not lock.is_held()

    path.write_text("someone else's\n")
    assert not lock.is_held()


def app_with(**config):
    from app import create_app

    return create_app(type("LockConfig", (TestingConfig,), config))


def test_the_lock_file_lies_next_to_the_database_file_or_in_the_instance_folder(tmp_path):
    file_app = app_with(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'kp.db'}")
    assert lock_path(file_app) == tmp_path / "kp.db.scheduler.lock"
    assert isinstance(lock_for(file_app), FileLock)

    memory_app = app_with(SQLALCHEMY_DATABASE_URI="sqlite://")
    assert lock_path(memory_app) == Path(memory_app.instance_path) / "scheduler.lock"

    # Flask-SQLAlchemy reads a relative SQLite path relative to the instance folder.
    relative_app = app_with(SQLALCHEMY_DATABASE_URI="sqlite:///kp.db")
    assert lock_path(relative_app) == Path(relative_app.instance_path) / "kp.db.scheduler.lock"

    configured = app_with(SQLALCHEMY_DATABASE_URI="sqlite://", SCHEDULER_LOCK_FILE=str(tmp_path / "x.lock"))
    assert lock_path(configured) == tmp_path / "x.lock"


def test_postgresql_gets_the_advisory_lock():
    lock = lock_for(app_with(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/kp_lock_test"))
    try:
        assert isinstance(lock, PostgresAdvisoryLock)
        assert lock.description == f"PostgreSQL advisory lock {LOCK_KEY} in database kp_lock_test"
    finally:
        lock.release()


# --- PostgreSQL: a session advisory lock ------------------------------------------------------------------


postgres_only = pytest.mark.postgres_only(reason="a PostgreSQL advisory lock, taken by two sessions")


@postgres_only
def test_only_one_advisory_lock_at_a_time_and_the_next_one_takes_over(locks):
    url = _database_url(os.environ["TEST_DATABASE_URL"])
    first, second = locks(PostgresAdvisoryLock(url)), locks(PostgresAdvisoryLock(url))

    assert first.try_acquire()
    assert first.try_acquire()
    assert not second.try_acquire()
    assert first.is_held() and not second.is_held()

    first.release()
    assert not first.is_held()
    assert second.try_acquire() and second.is_held()


@postgres_only
def test_an_advisory_lock_whose_session_ended_is_no_longer_held_and_is_free_for_the_next(locks):
    url = _database_url(os.environ["TEST_DATABASE_URL"])
    lock, standby = locks(PostgresAdvisoryLock(url)), locks(PostgresAdvisoryLock(url))
    assert lock.try_acquire()
    assert not standby.try_acquire()

    admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            holder = conn.scalar(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"high": LOCK_KEY >> 32, "low": LOCK_KEY & 0xFFFFFFFF},
            )
            assert holder == lock.backend_pid()
            name = conn.scalar(text("SELECT application_name FROM pg_stat_activity WHERE pid = :pid"), {"pid": holder})
            assert name == leader.APPLICATION_NAME
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder})
    finally:
        admin.dispose()

    assert not lock.is_held()
    assert standby.try_acquire()


def test_an_unreachable_database_is_standby_not_a_crash(caplog, locks):
    lock = locks(PostgresAdvisoryLock("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", connect_timeout=2))
    assert not lock.try_acquire()
    assert not lock.is_held()
    assert "PostgreSQL not reachable (OperationalError)" in caplog.text


# --- waiting ----------------------------------------------------------------------------------------------


def counted_tries(lock) -> list[bool]:
    """Record the outcome of each of `lock`'s try_acquire() calls (the list grows as the standby tries)."""
    tries: list[bool] = []
    try_acquire = lock.try_acquire

    def counted() -> bool:
        got = try_acquire()
        tries.append(got)
        return got

    lock.try_acquire = counted
    return tries


def test_a_standby_says_so_once_and_takes_over_when_the_holder_lets_go(tmp_path, caplog, locks):
    caplog.set_level(logging.INFO, logger="scheduler")
    holder, standby = locks(FileLock(tmp_path / "l.lock")), locks(FileLock(tmp_path / "l.lock"))
    assert holder.try_acquire()
    tries = counted_tries(standby)
    stop = threading.Event()
    result = []
    thread = threading.Thread(target=lambda: result.append(wait_for_leadership(standby, 0.05, stop)))
    thread.start()
    try:
        wait_until(lambda: len(tries) >= 6, "six tries while the holder holds it")  # counted, not slept through
        assert not result
        holder.release()
        thread.join(5)
    finally:
        stop.set()
        thread.join(5)
    assert result == [True]
    assert standby.is_held()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("is STANDBY" in m for m in messages) == 1
    assert sum("is ACTIVE" in m for m in messages) == 1


def test_a_standby_that_cannot_reach_the_database_does_not_claim_another_scheduler_holds_the_lock(caplog, locks):
    caplog.set_level(logging.INFO, logger="scheduler")
    lock = locks(PostgresAdvisoryLock("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", connect_timeout=2))
    stop = threading.Event()
    waiter = threading.Thread(target=lambda: wait_for_leadership(lock, 0.05, stop))
    waiter.start()
    try:
        # two refused tries against a closed port, counted (not slept through)
        wait_until(lambda: sum("not reachable" in r.getMessage() for r in caplog.records) >= 2, "two refused tries")
    finally:
        stop.set()
        waiter.join(10)
    messages = [r.getMessage() for r in caplog.records]
    assert lock.unreachable
    assert any("PostgreSQL not reachable" in m for m in messages)
    assert not any("another scheduler holds" in m for m in messages)


def test_waiting_ends_without_the_lock_when_asked_to_stop(tmp_path, locks):
    holder, standby = locks(FileLock(tmp_path / "l.lock")), locks(FileLock(tmp_path / "l.lock"))
    assert holder.try_acquire()
    stop = threading.Event()
    stop.set()
    assert wait_for_leadership(standby, 10, stop) is False
    assert not standby.is_held()
