"""User, StaffRole and Unit."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    exists,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from app.core.access import AccessLevel
from app.core.db import TimestampMixin
from app.extensions import Model, db

if TYPE_CHECKING:
    from app.providers.models import Provider


def enum_column(enum_cls, name: str):
    """A portable enum: VARCHAR holding the enum's values (not names), no native PG type."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class StaffRole(Model):
    """A job title staff enrol by (sagsbehandler, ungemedarbejder, ...): data, editable."""

    __tablename__ = "staff_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: English label shown in the English UI; falls back to `name`.
    name_en: Mapped[str | None] = mapped_column(String(120))

    def __repr__(self) -> str:
        return f"<StaffRole {self.id} {self.name!r}>"


#: The leaders (nærmeste ledere) of a unit, set by the coordinator on the unit's page. Who leads a unit
#: *in effect* (a leader leads the sub-units that have no leaders of their own) is worked out in one
#: place: app.accounts.directory.leaders.
unit_leaders = Table(
    "unit_leaders",
    db.metadata,
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
    #: Who set it: "coordinator" (on the unit's page) or "directory" (SCIM: the manager of the unit's provisioned
    #: staff, kept in step by app.scim.services.sync_directory_leaders; the coordinator cannot remove those).
    Column("source", String(20), nullable=False, default="coordinator", server_default="coordinator"),
)


class Unit(Model):
    """An organisational unit; hierarchical (a social centre and its child-and-family team)."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent", order_by="Unit.name")

    @property
    def full_name(self) -> str:
        return f"{self.parent.full_name} › {self.name}" if self.parent else self.name

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.name!r}>"


def normalise_email(email: str) -> str:
    """How every email is stored and looked up: stripped and lower-cased by Python (so "Æ" too)."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    """The stored form of a password: salted, with the configured method (PASSWORD_HASH_METHOD: scrypt)."""
    method = current_app.config["PASSWORD_HASH_METHOD"] if has_app_context() else "scrypt"
    return generate_password_hash(password, method=method)


class User(UserMixin, TimestampMixin, Model):
    """Anyone who logs in: a coordinator, a staff member or a provider's user."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("access_level != 'provider' OR provider_id IS NOT NULL", name="provider_user_has_provider"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored normalised (stripped, lower-cased by Python, so "Æ" too): lookups compare with `=` on the
    #: unique index (accounts.services.normalise_email), never `lower(email)`, which no index serves.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    #: None for imported staff who have not set a password yet.
    password_hash: Mapped[str | None] = mapped_column(Text)
    access_level: Mapped[AccessLevel] = mapped_column(enum_column(AccessLevel, "access_level"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    #: "da"/"en" when the user has chosen; None follows the browser.
    locale: Mapped[str | None] = mapped_column(String(5))
    staff_role_id: Mapped[int | None] = mapped_column(ForeignKey("staff_roles.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    #: The secret in the personal calendar feed's address (`/calendar/<token>.ics`); None until the user
    #: asks for the address on "my courses". Regenerating it makes the old address answer 404.
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Copied into the session at login and compared on every request (app.accounts.signin.sessions): raising it
    #: ends every session of this user at once (log out everywhere, password change or reset, deactivation).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: When the latest invitation to set a password was sent (whole seconds, UTC). Only the link of the
    #: latest invitation works; None when none was sent.
    invitation_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When the person's data was removed (app.privacy): a leaver anonymised by a coordinator, or the
    #: placeholder an enrolment of an expired run points to. The row stays (statistics, audit entries).
    anonymised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)

    #: Leads at least one unit (app.accounts.directory.leaders): loaded with the user in the same SELECT, so the
    #: navigation can offer the competence overview without a query of its own on every page.
    is_leader: Mapped[bool] = column_property(
        exists().where(unit_leaders.c.user_id == id).correlate_except(unit_leaders)
    )

    staff_role: Mapped[StaffRole | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
    provider: Mapped[Provider | None] = relationship()

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return normalise_email(value) if value is not None else value

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        if not self.password_hash:
            return False
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def is_anonymised(self) -> bool:
        return self.anonymised_at is not None

    @property
    def is_coordinator(self) -> bool:
        return self.access_level == AccessLevel.COORDINATOR

    @property
    def is_provider(self) -> bool:
        return self.access_level == AccessLevel.PROVIDER

    @property
    def is_staff(self) -> bool:
        return self.access_level == AccessLevel.STAFF

    def __repr__(self) -> str:
        return f"<User {self.id} {self.access_level}>"
