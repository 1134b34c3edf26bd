"""Throttling of logins, password-reset requests and password changes (Flask-Limiter).

Each limit is checked before the view runs; a breached one answers 429 (errors/429.html) before the
password is even looked at, so after LOGIN_LIMIT_PER_ACCOUNT failures the right password is refused too,
until the window has moved on. What *counts* differs:

- login: only failed attempts count (`count_failure()` from the view), per IP address and per email
  address - known or unknown alike, so the limit tells nobody whether an account exists;
- password-reset requests: every request counts, per IP and per email address;
- password change on the account page: wrong current passwords count, per user.

Counter keys hold a hash of the email address, not the address (the storage may be a shared Redis).
"""

from __future__ import annotations

import hashlib

from flask import current_app, g, request
from flask_limiter.util import get_remote_address
from flask_login import current_user

from app.extensions import limiter

_FAILED = "_throttle_failed"


def count_failure() -> None:
    """Make this request count against the limits that count failures only."""
    setattr(g, _FAILED, True)


def _failed(_response) -> bool:
    return bool(getattr(g, _FAILED, False))


def _email_key() -> str:
    """The submitted email address, normalised and hashed ("-" when none was typed)."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    return "email:" + hashlib.sha256(email.encode("utf-8")).hexdigest()[:32] if email else "email:-"


def _user_key() -> str:
    return f"user:{current_user.get_id() or '-'}"


def _config(name: str):
    return lambda: current_app.config[name]


def limit_logins(view):
    """Login POST: LOGIN_LIMIT_PER_IP failures per IP, LOGIN_LIMIT_PER_ACCOUNT failures per email."""
    view = limiter.limit(
        _config("LOGIN_LIMIT_PER_ACCOUNT"),
        key_func=_email_key,
        methods=["POST"],
        deduct_when=_failed,
        scope="login-account",
    )(view)
    return limiter.limit(
        _config("LOGIN_LIMIT_PER_IP"),
        key_func=get_remote_address,
        methods=["POST"],
        deduct_when=_failed,
        scope="login-ip",
    )(view)


def limit_reset_requests(view):
    """Password-reset request POST: every request counts, per IP and per email address."""
    view = limiter.limit(
        _config("PASSWORD_RESET_LIMIT_PER_ACCOUNT"), key_func=_email_key, methods=["POST"], scope="reset-account"
    )(view)
    return limiter.limit(
        _config("PASSWORD_RESET_LIMIT_PER_IP"), key_func=get_remote_address, methods=["POST"], scope="reset-ip"
    )(view)


def limit_password_changes(view):
    """Account page password change POST: wrong current passwords per user."""
    return limiter.limit(
        _config("PASSWORD_CHANGE_LIMIT"),
        key_func=_user_key,
        methods=["POST"],
        deduct_when=_failed,
        scope="password-change",
    )(view)
