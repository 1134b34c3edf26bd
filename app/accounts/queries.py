"""Read-only account lookups shared by the account services and the credential use cases."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.models import User, normalise_email
from app.extensions import db

__all__ = ["get_user_by_email"]


def get_user_by_email(email: str) -> User | None:
    """The user with this e-mail address (compared normalised, on the unique index), or None."""
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))
