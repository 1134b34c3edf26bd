"""Signed, time-limited links: the password reset and the invitation to set a first password.

Both are itsdangerous URL-safe timed tokens signed with SECRET_KEY, each kind with its own salt (a reset
token is no invitation). Nothing is stored for them; what makes a used or replaced link stop working is
a fingerprint of the user's state, signed into the token and compared when it comes back:

- reset: a fingerprint of the current password hash. Setting a password (by this link or otherwise)
  changes the hash, so the link works once;
- invitation: the time of the latest invitation (users.invitation_sent_at). A new invitation replaces
  the old link; setting the password (password_hash no longer None) ends it too.

Time comes from app.core.clock, so tests move the clock instead of sleeping.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from app.accounts.models import User
from app.core import clock
from app.extensions import db

RESET_SALT = "kursusportalen.password-reset"
INVITATION_SALT = "kursusportalen.account-invitation"


class TokenProblem(enum.StrEnum):
    INVALID = "invalid"  # tampered, truncated, another kind's token, unknown user
    EXPIRED = "expired"  # older than its lifetime
    USED = "used"  # already used, replaced by a newer one, or the account can't use it (inactive)


class TokenRefused(Exception):
    def __init__(self, problem: TokenProblem):
        super().__init__(problem.value)
        self.problem = problem


class _ClockSigner(TimestampSigner):
    """TimestampSigner on the application's clock seam (app.core.clock.utcnow)."""

    def get_timestamp(self) -> int:
        return int(clock.utcnow().timestamp())


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt, signer=_ClockSigner)


def _password_fingerprint(user: User) -> str:
    return hashlib.sha256((user.password_hash or "-").encode("utf-8")).hexdigest()[:20]


def _invitation_fingerprint(user: User) -> str:
    sent_at = clock.as_utc(user.invitation_sent_at)
    return str(int(sent_at.timestamp())) if sent_at is not None else "-"


def _load(token: str, salt: str, max_age: int) -> dict:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenRefused(TokenProblem.EXPIRED) from None
    except BadSignature:
        raise TokenRefused(TokenProblem.INVALID) from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("f"), str):
        raise TokenRefused(TokenProblem.INVALID)
    return data


def _user(data: dict) -> User:
    user_id = data["u"]
    user = db.session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None:
        raise TokenRefused(TokenProblem.INVALID)
    return user


# --- password reset -------------------------------------------------------------------------------------


def reset_max_age() -> int:
    return int(current_app.config["PASSWORD_RESET_HOURS"]) * 3600


def make_reset_token(user: User) -> str:
    return _serializer(RESET_SALT).dumps({"u": user.id, "f": _password_fingerprint(user)})


def user_for_reset_token(token: str) -> User:
    """The active user this reset link is for. :raises TokenRefused: invalid, expired or used."""
    data = _load(token, RESET_SALT, reset_max_age())
    user = _user(data)
    if data["f"] != _password_fingerprint(user) or not user.active:
        raise TokenRefused(TokenProblem.USED)
    return user


# --- invitation ---------------------------------------------------------------------------------------


def invitation_max_age() -> int:
    return int(current_app.config["INVITATION_DAYS"]) * 86400


def invitation_stamp(now: datetime) -> datetime:
    """What `users.invitation_sent_at` records for an invitation sent at `now` (whole seconds, UTC)."""
    return clock.as_utc(now).replace(microsecond=0)


def make_invitation_token(user: User) -> str:
    return _serializer(INVITATION_SALT).dumps({"u": user.id, "f": _invitation_fingerprint(user)})


def user_for_invitation_token(token: str) -> User:
    """The active user without a password this invitation is for. :raises TokenRefused: as for resets."""
    data = _load(token, INVITATION_SALT, invitation_max_age())
    user = _user(data)
    if user.password_hash is not None or not user.active or data["f"] != _invitation_fingerprint(user):
        raise TokenRefused(TokenProblem.USED)
    return user
