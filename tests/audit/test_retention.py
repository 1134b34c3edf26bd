"""Retention: the job deletes entries older than AUDIT_RETENTION_DAYS and logs that it did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.audit.services import record
from app.extensions import db
from scheduler import jobs
from tests.audit.helpers import entries, only

NOW = datetime(2031, 12, 2, 3, 0, tzinfo=UTC)


def test_entries_past_the_retention_are_deleted_and_the_purge_is_logged(app, coordinator):
    app.config["AUDIT_RETENTION_DAYS"] = 1825
    record("run.cancel", actor=coordinator, now=NOW - timedelta(days=1826))
    record("run.publish", actor=coordinator, now=NOW - timedelta(days=1825, seconds=-60))  # just inside
    record("user.view", actor=coordinator, now=NOW - timedelta(days=3))
    db.session.commit()

    assert jobs.purge_audit_log(NOW) == 1
    assert [e.action for e in entries()] == ["run.publish", "user.view", "audit.purged"]
    purged = only("audit.purged")
    assert purged.actor_id is None
    assert purged.details["count"] == 1 and purged.details["retention_days"] == 1825

    assert jobs.purge_audit_log(NOW) == 0  # twice: nothing more, and no empty "purged" entry
    assert len(entries("audit.purged")) == 1


def test_the_retention_is_configurable_and_now_may_be_in_local_time(app, coordinator):
    app.config["AUDIT_RETENTION_DAYS"] = 30
    local_now = NOW.astimezone(ZoneInfo("Europe/Copenhagen"))
    record("run.cancel", actor=coordinator, now=NOW - timedelta(days=30, minutes=1))
    record("run.publish", actor=coordinator, now=NOW - timedelta(days=30, minutes=-1))
    db.session.commit()
    assert jobs.purge_audit_log(local_now) == 1
    assert [e.action for e in entries()] == ["run.publish", "audit.purged"]


@pytest.mark.parametrize("bad", ["0", "fem år", None, -3])
def test_a_bad_retention_setting_fails_loudly_and_deletes_nothing(app, coordinator, bad):
    app.config["AUDIT_RETENTION_DAYS"] = bad
    record("run.cancel", actor=coordinator, now=NOW - timedelta(days=4000))
    db.session.commit()
    with pytest.raises(RuntimeError, match="AUDIT_RETENTION_DAYS"):
        jobs.purge_audit_log(NOW)
    db.session.rollback()
    assert len(entries()) == 1
