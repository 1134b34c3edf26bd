"""Where a login becomes a session, and where a session ends: the one place for both.

Password login, the invitation, the second factor and single sign-on all finish with
`start_session(user, method=...)`, so session rotation and what the session records about the login are
decided here. The session is Flask's signed cookie; what the server needs to end it early is one number
per user, `users.session_version`, copied into the session at login and compared on every request
(`enforce_session_rules`, a before_request hook). Raising it (`end_all_sessions`) ends every session of
that user at once, on every device: logging out (and "log out everywhere", which says so on the account
page), a password change or reset, deactivation, anonymisation.

Each request also checks two timestamps kept in the session:
- idle: no request for SESSION_IDLE_MINUTES (60) ends the session;
- absolute: SESSION_MAX_HOURS (12) after the login the session ends, however active.
An ended session is cleared and the user meets the login page with a flash saying why.

Logging out raises the version too (app.accounts.signin.credentials.log_out), so a copy of the cookie taken
before dies with the logout: the signed cookie alone could not do that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, flash, request, session
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import update

from app.accounts.models import User
from app.core import clock
from app.extensions import db

#: How the user proved who they are, kept in the session (`session["auth_method"]`).
METHOD_PASSWORD = "password"  # noqa: S105 (a method name, not a secret)
METHOD_INVITATION = "invitation"

#: Session keys (short: they travel in every request's cookie).
VERSION_KEY = "sv"
LOGIN_AT_KEY = "login_at"
SEEN_AT_KEY = "seen_at"
#: The idle timestamp is written at most this often, so the cookie doesn't change on every request.
SEEN_RESOLUTION = timedelta(seconds=60)


def start_session(user: User, *, method: str) -> None:
    """Log `user` in on a fresh session (no fixation: nothing of the anonymous session survives)."""
    session.clear()
    login_user(user)
    now = clock.utcnow()
    session["auth_method"] = method
    session[LOGIN_AT_KEY] = now.isoformat()
    session[SEEN_AT_KEY] = now.isoformat()
    session[VERSION_KEY] = user.session_version or 0


def end_session() -> None:
    """Log out this browser only: the session cookie is emptied (other sessions of the user go on)."""
    logout_user()
    session.clear()


def end_all_sessions(user: User) -> None:
    """End every session of `user`, on every device, from their next request on (flushes, no commit).

    The version is raised with an UPDATE in SQL, so two of these at once both count.
    """
    db.session.execute(update(User).where(User.id == user.id).values(session_version=User.session_version + 1))
    db.session.refresh(user, ["session_version"])


def keep_current_session(user: User) -> None:
    """After `end_all_sessions(user)` by the user themselves: keep *this* session alive (password change)."""
    session[VERSION_KEY] = user.session_version


def _parse(value) -> datetime | None:
    try:
        return clock.as_utc(datetime.fromisoformat(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _why_ended(user, now: datetime) -> str | None:
    """Why this request's session may not go on, as the flash message; None if it may."""
    if not user.is_authenticated or session.get(VERSION_KEY) != user.session_version:
        return _("Du er blevet logget af. Log ind igen for at fortsætte.")
    login_at, seen_at = _parse(session.get(LOGIN_AT_KEY)), _parse(session.get(SEEN_AT_KEY))
    if login_at is None or seen_at is None:
        return _("Du er blevet logget af. Log ind igen for at fortsætte.")
    hours = current_app.config["SESSION_MAX_HOURS"]
    if now - login_at >= timedelta(hours=hours):
        return _(
            "Du er blevet logget af, fordi du har været logget ind i %(hours)s timer. Log ind igen for at fortsætte.",
            hours=hours,
        )
    minutes = current_app.config["SESSION_IDLE_MINUTES"]
    if now - seen_at >= timedelta(minutes=minutes):
        return _(
            "Du er blevet logget af, fordi du ikke har brugt Kursusportalen i %(minutes)s minutter. "
            "Log ind igen for at fortsætte.",
            minutes=minutes,
        )
    return None


def enforce_session_rules() -> None:
    """before_request hook: end a revoked, idle or too old session; otherwise note the user was here."""
    if request.endpoint == "static" or "_user_id" not in session:
        return
    user = current_user._get_current_object()  # loads the user (Flask-Login's user_loader)
    now = clock.utcnow()
    reason = _why_ended(user, now)
    if reason is not None:
        end_session()
        flash(reason, "info")
        return
    seen_at = _parse(session.get(SEEN_AT_KEY))
    if seen_at is None or now - seen_at >= SEEN_RESOLUTION:
        session[SEEN_AT_KEY] = now.isoformat()
