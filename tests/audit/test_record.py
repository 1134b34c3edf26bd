"""The audit log's write side: entries land with the action's transaction and can't be changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.audit.models import AuditEntry
from app.audit.services import AuditLogIsAppendOnly, record
from app.extensions import db


def test_record_stores_actor_subject_object_and_details(app, coordinator, staff_member):
    at = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    record(
        "user.view",
        actor=coordinator,
        subject=staff_member,
        object_type="user",
        object_id=staff_member.id,
        details={"page": "profile"},
        now=at,
    )
    db.session.commit()
    entry = db.session.scalars(db.select(AuditEntry)).one()
    assert (entry.actor_id, entry.subject_id, entry.action) == (coordinator.id, staff_member.id, "user.view")
    assert (entry.object_type, entry.object_id, entry.details) == ("user", staff_member.id, {"page": "profile"})
    assert entry.ip_address is None  # outside a request


def test_record_is_rolled_back_with_the_action(app, coordinator):
    record("run.cancel", actor=coordinator, object_type="run", object_id=1)
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(AuditEntry.id))) == 0


def test_entries_cannot_be_changed_or_deleted(app, coordinator):
    entry = record("run.cancel", actor=coordinator, object_type="run", object_id=1)
    db.session.commit()
    entry.action = "run.create"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, entry.id))
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(AuditEntry, entry.id).action == "run.cancel"
