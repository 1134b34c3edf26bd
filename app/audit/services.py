"""Writing the audit log: `record()` inside the caller's transaction; rows can't be changed afterwards."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.audit.models import AuditEntry
from app.core.clock import utcnow
from app.extensions import db


class AuditLogIsAppendOnly(RuntimeError):
    """Raised at flush when code tries to change or delete an audit entry."""


def record(
    action: str,
    *,
    actor: User | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    subject: User | int | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Add one audit entry to the current transaction (flushed and committed with the action it logs).

    `action` is "<object>.<verb>" (e.g. "run.cancel", "user.view", "participants.export"); `subject` is the
    person whose personal data the action touched. `details` must hold no passwords, tokens or free text
    of a participant's.
    """
    subject_id = subject.id if isinstance(subject, User) else subject
    entry = AuditEntry(
        occurred_at=now or utcnow(),
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        subject_id=subject_id,
        ip_address=request.remote_addr if has_request_context() else None,
        details=details or {},
    )
    db.session.add(entry)
    return entry


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_audit_entries(session: Session, _flush_context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly(f"audit entry {obj.id} can't be changed or deleted")
