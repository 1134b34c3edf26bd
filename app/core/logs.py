"""Logging: a request id on every request and, in production, one JSON object a line.

The request id comes from the proxy's `X-Request-ID` (nginx sets it to `$request_id`, see deploy/) when it
looks like one, otherwise it is made here; it is sent back in the response's `X-Request-ID` header, put in
every log record made while the request runs, and gunicorn's access log writes it too (gunicorn.conf.py),
so one id ties the proxy's, gunicorn's and the application's lines together.

Personal data stays out of the logs: records carry the user's id, never a name or an email, and the
access log writes the path without the query string (a search for a person's name lives there).
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id() -> str | None:
    """The current request's id, or None outside a request."""
    if not has_request_context():
        return None
    rid = getattr(g, "request_id", None)
    if rid is None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        rid = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_id = rid
    return rid


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `user_id` (None when unknown) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        user = getattr(g, "_login_user", None) if has_request_context() else None  # loaded by Flask-Login
        record.user_id = getattr(user, "id", None)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, pid, request id, user id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key in ("request_id", "user_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def json_handler() -> logging.Handler:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler._kursusportalen = True  # type: ignore[attr-defined]
    return handler


def init_app(app: Flask) -> None:
    """Give every request an id (echoed in the response) and, with LOG_FORMAT=json, log JSON lines."""

    @app.before_request
    def _assign_request_id() -> None:
        request_id()

    @app.after_request
    def _echo_request_id(response):
        response.headers[REQUEST_ID_HEADER] = request_id()
        return response

    if app.config.get("LOG_FORMAT") == "json":
        root = logging.getLogger()
        root.handlers = [h for h in root.handlers if getattr(h, "_kursusportalen", False)] or [json_handler()]
        root.setLevel(app.config.get("LOG_LEVEL", os.environ.get("LOG_LEVEL", "INFO")))
        app.logger.removeHandler(default_handler)  # records reach the root's JSON handler instead
