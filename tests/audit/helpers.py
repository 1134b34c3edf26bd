"""Reading the audit log back in tests."""
from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db


def entries(action_prefix: str = "") -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if action_prefix:
        stmt = stmt.where(AuditEntry.action.startswith(action_prefix))
    return list(db.session.scalars(stmt))


def actions(action_prefix: str = "") -> list[str]:
    return [e.action for e in entries(action_prefix)]


def only(action: str) -> AuditEntry:
    found = [e for e in entries() if e.action == action]
    assert len(found) == 1, f"expected one {action} entry, found {[e.action for e in entries()]}"
    return found[0]
