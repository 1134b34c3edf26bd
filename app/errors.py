"""Error pages: 400 (incl. CSRF), 403, 404, 405, 413, 429, 500, 503 (Busy, a lock not granted; the database
unavailable) - translated, never a stack trace.

The database unavailable (refused or dropped connections, a full pool, PostgreSQL shutting down): every page
answers 503 with `Retry-After` and errors/unavailable.html, a page that needs nothing from the database - the
user is not loaded (Flask-Login's current user is set to anonymous for the rest of the request) and the page
does not extend base.html (its header reads the user and the menus). The language comes from the language
cookie or Accept-Language. Any other error page that fails on the database while it is being rendered falls
back to the same page, so no request ends with gunicorn's bare "Internal Server Error".
"""

from __future__ import annotations

import logging
import time

from flask import Flask, flash, g, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.api.problems import is_api_request, problem, problem_for_http_error
from app.core.exceptions import Busy
from app.extensions import db, login_manager
from app.integrations.auth import ClientRefused

logger = logging.getLogger(__name__)

#: Seconds a client is asked to wait (`Retry-After`) when the database does not answer: a restart's length.
DATABASE_RETRY_AFTER_SECONDS = 30


def init_app(app: Flask) -> None:
    def render(code: int, err=None, **context):
        if is_api_request():  # the read API answers problem+json (RFC 9457), never an HTML page
            return problem_for_http_error(err) if err is not None and hasattr(err, "code") else problem(code)
        try:
            return render_template(f"errors/{code}.html", **context), code
        except SQLAlchemyError as err:  # the page's header needed the database, which has gone
            _rollback()
            return database_unavailable(err)

    @app.errorhandler(CSRFError)
    def csrf_error(_err):
        return render(400, csrf=True)

    @app.errorhandler(400)
    def bad_request(_err):
        return render(400)

    @app.errorhandler(403)
    def forbidden(_err):
        return render(403)

    @app.errorhandler(404)
    def not_found(err):
        return render(404, err)

    @app.errorhandler(405)
    def method_not_allowed(err):
        return render(405, err)

    @app.errorhandler(413)
    def too_large(_err):
        return render(413)

    @app.errorhandler(429)
    def too_many_requests(err):
        """A rate limit (app.accounts.signin.throttling): say how long to wait; Flask-Limiter adds Retry-After."""
        db.session.rollback()
        if is_api_request():
            return problem_for_http_error(err)
        return render_template("errors/429.html", retry_minutes=_retry_minutes()), 429

    @app.errorhandler(ClientRefused)
    def client_refused(err: ClientRefused):
        """A bearer-token call refused by app.integrations.auth on a blueprint that renders no body of its own."""
        return err.detail, err.status, {**err.headers, "Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(Busy)
    def busy(err: Busy):
        """A service could not have its lock in time (app.core.transaction.refused lets Busy through): nothing
        was changed; say so and ask to try again."""
        db.session.rollback()
        flash(err.message, "error")
        return render(503)

    @app.errorhandler(OperationalError)
    def database_busy(err):
        """A lock not granted in time (PostgreSQL lock_timeout, SQLite busy): ask to try again. Any other
        operational error means the database is not there (refused, dropped, shutting down)."""
        _rollback()
        code = getattr(err.orig, "sqlstate", None)
        if code == "55P03" or "database is locked" in str(err.orig):
            return render(503)
        return database_unavailable(err)

    @app.errorhandler(DBAPIError)
    def database_error(err: DBAPIError):
        """A dropped connection reported as another DBAPI error (psycopg's InterfaceError "the connection is
        closed"); anything else is a bug, answered by the 500 page."""
        _rollback()
        if err.connection_invalidated or isinstance(err, InterfaceError):
            return database_unavailable(err)
        raise err

    @app.errorhandler(PoolTimeout)
    def pool_exhausted(err):
        """Every pooled connection stayed in use for pool_timeout seconds: the database is overwhelmed."""
        _rollback()
        return database_unavailable(err)

    @app.errorhandler(500)
    def server_error(_err):
        _rollback()
        return render(500)


def database_unavailable(err: Exception):
    """503 with Retry-After and errors/unavailable.html, rendered without touching the database."""
    orig = getattr(err, "orig", None) or err
    reason = (str(orig).strip().splitlines() or [""])[0]  # the driver's reason, never SQLAlchemy's SQL and values
    logger.error("database unavailable: %s: %s", type(orig).__name__, reason)
    if is_api_request():
        return problem(503, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
    g._login_user = login_manager.anonymous_user()  # Flask-Login: current_user is anonymous, never loaded
    page = render_template("errors/unavailable.html")
    return page, 503, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}


def _rollback() -> None:
    """End the session's transaction; on a connection that is already gone that can fail too."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        db.session.close()


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
