"""Error pages: 400 (incl. CSRF), 403, 404, 405, 413, 500 - translated, never a stack trace."""
from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError

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
