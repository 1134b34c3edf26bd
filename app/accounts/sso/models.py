"""Single sign-on identities: which login at an OpenID Connect provider is which user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.core.clock import utcnow
from app.extensions import Model


class UserIdentity(Model):
    """A login at an OpenID Connect provider bound to a user: (issuer, subject) -> user, for good.

    `subject` is "<tid>:<oid>" for Microsoft Entra ID (both claims present) and the `sub` claim otherwise;
    never the email. One identity per user and issuer, so a second IdP account can't be linked to the same user.
    """

    __tablename__ = "user_identities"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_user_identities_issuer_subject"),
        UniqueConstraint("user_id", "issuer", name="uq_user_identities_user_issuer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<UserIdentity {self.id} user={self.user_id}>"
