"""Reading the audit log back in tests."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEntry, AuditEntrySubject
from app.extensions import db


def entries(action_prefix: str = "") -> list[AuditEntry]:
    """The entries (of `action_prefix`), oldest first; the logins the tests make ("auth.*", written by
    app.accounts.signin.credentials) only when asked for by that prefix."""
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if action_prefix:
        stmt = stmt.where(AuditEntry.action.startswith(action_prefix))
    if not action_prefix.startswith("auth"):
        stmt = stmt.where(AuditEntry.action.not_like("auth.%"))
    return list(db.session.scalars(stmt))


def actions(action_prefix: str = "") -> list[str]:
    return [e.action for e in entries(action_prefix)]


def only(action: str) -> AuditEntry:
    found = [e for e in entries() if e.action == action]
    assert len(found) == 1, f"expected one {action} entry, found {[e.action for e in entries()]}"
    return found[0]


def shown_by(entry: AuditEntry) -> set[int]:
    """The ids of the persons a read entry names as shown (audit_entry_subjects)."""
    return set(db.session.scalars(select(AuditEntrySubject.user_id).where(AuditEntrySubject.entry_id == entry.id)))
