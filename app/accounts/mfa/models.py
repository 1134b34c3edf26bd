"""The second factor per user: the TOTP credential and the recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.core.clock import utcnow
from app.extensions import Model


class MfaCredential(Model):
    """A user's TOTP secret, the one pending password login waiting for its second factor, and the count of
    wrong codes that slows down and then locks the second step.

    The secret is stored as it is (base32), not encrypted: encrypting it is out of scope for now, so the
    database and its backups must be protected as the secrets they hold (see docs/authentication.md).
    `confirmed_at` is None while the user is enrolling.
    """

    __tablename__ = "mfa_credentials"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The TOTP time-step (unix time // 30) of the last accepted code: that code, and older ones, never work again.
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: SHA-256 of the random token the browser's session holds while its password login waits for a code.
    #: Kept here, not in the (client-side) session cookie, so a replayed old cookie can't reset the counter.
    pending_token_hash: Mapped[str | None] = mapped_column(String(64))
    pending_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pending_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Wrong codes (TOTP or recovery, at login or on the MFA page) since the last right one: counted per account,
    #: across logins, so a known password does not buy fresh guesses (app.accounts.mfa.services "Limits").
    failed_codes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: No code is checked before this moment (the slowdown after MFA_SLOWDOWN_AFTER wrong codes).
    next_code_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Set when failed_codes reached MFA_LOCK_AFTER: TOTP codes are refused until a recovery code or a
    #: coordinator unlocks the second step.
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When an attempt refused unchecked (too early, or locked) was last audited: at most one entry per wrong
    #: code and per MFA_SLOWDOWN_MAX_SECONDS, however fast the refused attempts come.
    refusal_noted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    def __repr__(self) -> str:
        return f"<MfaCredential user={self.user_id} confirmed={self.confirmed}>"


class MfaRecoveryCode(Model):
    """One single-use recovery code, stored hashed (werkzeug's password hash); shown once when made."""

    __tablename__ = "mfa_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<MfaRecoveryCode {self.id} user={self.user_id} used={self.used_at is not None}>"
