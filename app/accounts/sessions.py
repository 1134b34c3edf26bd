"""Where a login becomes a session: the one function every way of logging in ends in.

Password login, the second factor and single sign-on all finish with `start_session(user, method=...)`, so
session rotation and what the session records about the login are decided in one place.
"""
from __future__ import annotations

from flask import session
from flask_login import login_user

from app.accounts.models import User
from app.core import clock

#: How the user proved who they are, kept in the session (`session["auth_method"]`).
METHOD_PASSWORD = "password"  # noqa: S105 (a method name, not a secret)


def start_session(user: User, *, method: str) -> None:
    """Log `user` in on a fresh session (no fixation: nothing of the anonymous session survives)."""
    session.clear()
    login_user(user)
    session["auth_method"] = method
    session["login_at"] = clock.utcnow().isoformat()
