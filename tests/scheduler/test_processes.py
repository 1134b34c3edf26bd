"""`python -m scheduler` for real: processes on one database (PostgreSQL in the TEST_DATABASE_URL pass,
a SQLite file otherwise), delivering the outbox to an aiosmtpd server on loopback.

- Two schedulers: only one is active, every queued mail arrives exactly once; SIGKILL the active one and
  the standby takes over within seconds and delivers what is queued after the kill.
- Killed while sending (the server holds the 3rd mail's RCPT, so that mail was not transmitted) and
  restarted: every mail arrives exactly once, nothing is lost. (In general delivery is at-least-once: a
  crash between the server's final 250 and our commit sends that mail again; see app/notifications/outbox.py.
  This test kills before the message is transmitted, where exactly once does hold.)
- An active scheduler that loses its lock (PostgreSQL: its session is terminated; SQLite: its lock file
  removed) stops firing and exits 75, and the standby takes over.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from app.extensions import db
from scheduler.__main__ import EXIT_LOST_LEADERSHIP
from scheduler.leader import LOCK_KEY, lock_path
from tests.scheduler.conftest import all_sent, count_by_message_id, queue_mails, wait_until

pytestmark = pytest.mark.concurrency

#: A standby tries every 0.5 s here; taking over must not take longer than this.
TAKEOVER = 10


def decided(*processes) -> bool:
    return all(p.started or p.standby for p in processes)


def assert_each_once(server, message_ids: list[str]) -> None:
    counts = count_by_message_id(server)
    assert counts == {message_id: 1 for message_id in message_ids}, counts


def test_two_schedulers_one_fires_and_the_standby_takes_over_when_it_is_killed(start_scheduler, smtp):
    a, b = start_scheduler("a"), start_scheduler("b")
    wait_until(lambda: decided(a, b), "both schedulers are active or standby")
    assert [a.active, b.active].count(True) == 1, "exactly one is active"
    active, standby = (a, b) if a.active else (b, a)
    assert standby.standby and "scheduler started" not in standby.log

    before = queue_mails("before", 5)
    wait_until(lambda: all_sent(5), "the 5 mails are sent")
    assert_each_once(smtp, before)
    assert not standby.active, "the standby stayed standby"

    active.kill()
    killed_at = time.monotonic()
    after = queue_mails("after", 3)

    wait_until(lambda: standby.started, "the standby takes over", timeout=TAKEOVER)
    assert time.monotonic() - killed_at < TAKEOVER
    wait_until(lambda: all_sent(8), "the 3 mails queued after the kill are sent")
    assert_each_once(smtp, before + after)

    assert standby.stop() == 0, "SIGTERM stops it cleanly"
    assert "SIGTERM received" in standby.log and "scheduler stopped" in standby.log


def test_killed_while_sending_and_restarted_every_mail_arrives_exactly_once(start_scheduler, smtp):
    smtp.handler.block_at = 3  # the server holds the 3rd RCPT: that mail's data is not sent yet
    message_ids = queue_mails("batch", 6)
    first = start_scheduler("first")

    assert smtp.handler.blocked.wait(20), "the scheduler got to the 3rd mail"
    assert len(smtp.received) == 2
    first.kill()  # in the middle of the 3rd mail, its row claimed in an open transaction
    smtp.handler.release.set()

    second = start_scheduler("second")
    wait_until(lambda: all_sent(6), "all 6 mails are sent after the restart")
    assert_each_once(smtp, message_ids)
    assert second.started


def test_a_scheduler_that_loses_its_lock_exits_75_and_the_standby_takes_over(start_scheduler, smtp, shared_db):
    a, b = start_scheduler("a"), start_scheduler("b")
    wait_until(lambda: decided(a, b), "both schedulers are active or standby")
    active, standby = (a, b) if a.active else (b, a)

    if shared_db.is_postgres:  # the lock's session ends (a database restart, a network cut)
        terminated = db.session.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"high": LOCK_KEY >> 32, "low": LOCK_KEY & 0xFFFFFFFF},
        )
        db.session.commit()
        assert terminated == 1
    else:  # the lock file is removed
        lock_path(shared_db.app).unlink()

    assert active.popen.wait(TAKEOVER) == EXIT_LOST_LEADERSHIP
    assert "SCHEDULER LOST ITS LEADERSHIP LOCK" in active.log
    wait_until(lambda: standby.started, "the standby takes over", timeout=TAKEOVER)

    message_ids = queue_mails("after", 2)
    wait_until(lambda: all_sent(2), "the standby delivers")
    assert_each_once(smtp, message_ids)
