"""IntegrationClient: a program allowed to call /scim/v2 or /api/v1 with a bearer token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.core.clock import utcnow
from app.extensions import Model


class IntegrationClient(Model):
    """One calling program (e.g. "Entra ID provisioning", "HR-systemet") with its scopes and token.

    The token itself is never stored: `token_hash` is the SHA-256 of it (the token is 256 random bits, so a
    plain hash is enough: nobody can guess their way back), shown once at creation or rotation. A revoked
    client stays as history (audit entries point at it); its token is refused.
    """

    __tablename__ = "integration_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: Space-separated scopes from app.integrations.services.SCOPES, e.g. "runs:read participants:read".
    scopes: Mapped[str] = mapped_column(String(200))
    #: hex SHA-256 of the current bearer token; unique, looked up on every call.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The token's first characters (e.g. "kp_Ab3d"), shown so the coordinator can tell tokens apart.
    token_hint: Mapped[str] = mapped_column(String(12))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: When the current token was made (creation or the latest rotation).
    token_created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Updated at most once a minute (app.integrations.auth), so a busy client writes little.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    created_by: Mapped[User | None] = relationship()

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def __repr__(self) -> str:
        return f"<IntegrationClient {self.id} {self.name!r}>"
