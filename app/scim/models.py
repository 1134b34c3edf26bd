"""ScimUser: a user as the directory provisioned them; ScimValueMapping: a job title or department the directory
sent, and the staff role or unit the coordinator mapped it to."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import StaffRole, Unit, User, enum_column
from app.core.clock import utcnow
from app.extensions import Model
from app.integrations.models import IntegrationClient


class ScimUser(Model):
    """The SCIM side of a provisioned user: the resource as the directory last sent it (only the attributes this
    service offers, app/scim/resources.py), and the keys it is found by. The user row holds what the app uses
    (name, e-mail address, active, staff role, unit), derived from it on every change.

    A DELETE removes this row; the user stays, deactivated, with their history."""

    __tablename__ = "scim_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The SCIM `id` (a random UUID: user ids are not enumerable through SCIM).
    scim_id: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), unique=True)
    #: The client that created it (audit entries name the client of every call).
    client_id: Mapped[int | None] = mapped_column(ForeignKey("integration_clients.id", ondelete="RESTRICT"), index=True)
    #: userName as compared (case-insensitive, RFC 7643 §4.1.1): NFC and lower-cased; unique.
    user_name_key: Mapped[str] = mapped_column(String(254), unique=True)
    #: externalId as sent (case-exact); in Entra ID the user's objectId when mapped so (docs/integrations.md).
    external_id: Mapped[str | None] = mapped_column(String(255), index=True)
    #: The directory's job title and department as sent (mapped through scim_value_mappings).
    title: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    #: The enterprise extension's employeeNumber as sent; the read API finds completions by it (app.api).
    employee_number: Mapped[str | None] = mapped_column(String(64), index=True)
    #: The SCIM id of the person's manager (enterprise extension), kept for later use by leaders' pages.
    manager_ref: Mapped[str | None] = mapped_column(String(255), index=True)
    #: The resource as last sent, minus id and meta (`active` is shown from the user row).
    resource: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Raised on every change: the resource's version (ETag).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    user: Mapped[User] = relationship()
    client: Mapped[IntegrationClient | None] = relationship()

    def __repr__(self) -> str:
        return f"<ScimUser {self.id} user {self.user_id}>"


class MappingKind(enum.StrEnum):
    TITLE = "title"
    DEPARTMENT = "department"


class ScimValueMapping(Model):
    """A job title (→ staff role) or department (→ unit) the directory has sent. A value seen for the first time is
    added without a target: its users get no staff role (or unit) until the coordinator maps it; the app never
    guesses. Mapping it sets the role (unit) of every provisioned user with that value."""

    __tablename__ = "scim_value_mappings"
    __table_args__ = (UniqueConstraint("kind", "value_key", name="uq_scim_value_mappings_kind_value_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[MappingKind] = mapped_column(enum_column(MappingKind, "scim_mapping_kind"))
    #: The value as compared: whitespace collapsed, case-folded.
    value_key: Mapped[str] = mapped_column(String(200))
    #: The value as first sent, for the page.
    value: Mapped[str] = mapped_column(String(200))
    staff_role_id: Mapped[int | None] = mapped_column(ForeignKey("staff_roles.id", ondelete="SET NULL"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    staff_role: Mapped[StaffRole | None] = relationship()
    unit: Mapped[Unit | None] = relationship()

    def __repr__(self) -> str:
        return f"<ScimValueMapping {self.id} {self.kind}>"
