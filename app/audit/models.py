"""AuditEntry: one line of the audit log, only ever added by the application; AuditEntrySubject: the persons
a read entry showed (who saw whom)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.core.clock import utcnow
from app.extensions import Model
from app.integrations.models import IntegrationClient


class AuditEntry(Model):
    """Who (`actor`) did what (`action`, e.g. "run.cancel", "user.view") to which object, touching whose
    personal data (`subject`), when and from where.

    The application only inserts rows (an update or delete fails at flush, see app.audit.services). Two
    sanctioned exceptions, both bulk statements in app.audit.services: the retention job deletes whole rows past
    AUDIT_RETENTION_DAYS, and anonymising a person scrubs the texts in `details` that name them. Users are never
    deleted (they are deactivated or anonymised), so the foreign keys need no cascade.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    #: None for the system (scheduler jobs, CLI) and for anonymous requests (a failed login, a reset link).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(Integer)
    #: The person whose personal data the action touched (for the right of access and the DPO's search).
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    #: The integration client (a program calling /scim/v2 or /api/v1 with a bearer token) that did it; the actor
    #: is then None. Set by `record()` from the request (app.integrations.auth.require_client).
    client_id: Mapped[int | None] = mapped_column(ForeignKey("integration_clients.id", ondelete="RESTRICT"), index=True)
    #: The client's address as the proxy reports it; None outside a request.
    ip_address: Mapped[str | None] = mapped_column(String(45))
    #: What changed or was asked for, e.g. {"fields": ["location"]} or {"q": "jensen"}; never passwords or tokens.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    subject: Mapped[User | None] = relationship(foreign_keys=[subject_id])
    client: Mapped[IntegrationClient | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action}>"


class AuditEntrySubject(Model):
    """One person a read entry (`record_read`) showed: a participant list names many, a user's page one.

    "Who saw person X?" is one indexed lookup (`ix_audit_entry_subjects_user_id`) joined to its entries,
    whatever the size of the lists that showed them (app.audit.queries.reads_of). Inserted with the entry in
    one bulk INSERT, never changed; the retention job's DELETE of an entry takes its rows with it (CASCADE).
    """

    __tablename__ = "audit_entry_subjects"
    __table_args__ = (Index("ix_audit_entry_subjects_user_id", "user_id", "entry_id"),)

    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_entries.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True)

    def __repr__(self) -> str:
        return f"<AuditEntrySubject {self.entry_id} {self.user_id}>"
