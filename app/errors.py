"""Error pages: 400 (incl. CSRF), 403, 404, 405, 413, 429, 500, 503 (Busy, a lock not granted) - translated,
never a stack trace."""

from __future__ import annotations

import time

from flask import Flask, flash, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError

from app.core.exceptions import Busy
from app.extensions import db


def init_app(app: Flask) -> None:
    def render(code: int):
        return render_template(f"errors/{code}.html"), code

    @app.errorhandler(CSRFError)
    def csrf_error(_err):
        return render_template("errors/400.html", csrf=True), 400

    @app.errorhandler(400)
    def bad_request(_err):
        return render(400)

    @app.errorhandler(403)
    def forbidden(_err):
        return render(403)

    @app.errorhandler(404)
    def not_found(_err):
        return render(404)

    @app.errorhandler(405)
    def method_not_allowed(_err):
        return render(405)

    @app.errorhandler(413)
    def too_large(_err):
        return render(413)

    @app.errorhandler(429)
    def too_many_requests(err):
        """A rate limit (app.accounts.throttling): say how long to wait; Flask-Limiter adds Retry-After."""
        db.session.rollback()
        return render_template("errors/429.html", retry_minutes=_retry_minutes()), 429

    @app.errorhandler(Busy)
    def busy(err: Busy):
        """A service could not have its lock in time (app.core.transaction.refused lets Busy through): nothing
        was changed; say so and ask to try again."""
        db.session.rollback()
        flash(err.message, "error")
        return render(503)

    @app.errorhandler(OperationalError)
    def database_busy(err):
        """A lock not granted in time (PostgreSQL lock_timeout, SQLite busy): ask to try again."""
        db.session.rollback()
        code = getattr(err.orig, "sqlstate", None)
        if code == "55P03" or "database is locked" in str(err.orig):
            return render(503)
        raise err

    @app.errorhandler(500)
    def server_error(_err):
        db.session.rollback()
        return render(500)


def _retry_minutes() -> int | None:
    """Whole minutes until the breached limit lets the next attempt through (None if unknown)."""
    from app.extensions import limiter

    current = limiter.current_limit
    if current is None:
        return None
    try:
        seconds = current.reset_at - time.time()
    except Exception:  # the storage went away: the page still shows, without the number
        return None
    return max(1, round(seconds / 60))  # reset_at is rounded up to the next second
