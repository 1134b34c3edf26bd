"""Logging: a request id on every request and, in production, one JSON object a line.

The request id comes from the proxy's `X-Request-ID` (nginx sets it to `$request_id`, see deploy/) when it
looks like one, otherwise it is made here; it is sent back in the response's `X-Request-ID` header, put in
every log record made while the request runs, and gunicorn's access log writes it too (gunicorn.conf.py),
so one id ties the proxy's, gunicorn's and the application's lines together.

Personal data stays out of the logs: records carry the user's id, never a name or an email, and the
access log writes the path without the query string (a search for a person's name lives there).

Secrets that travel in a URL never reach a log line (ASVS 5.0 V14, V16): the password-reset and
invitation links (`/password/reset/<token>`, `/invitation/<token>`), the personal calendar feed
(`/calendar/<token>.ics`) and single sign-on's `code`/`state` query parameters are written with the secret
replaced by `[redacted]` (`redact_secrets`). `SecretRedactingFilter` does it for the application's records
(the JSON handler, Flask's own logger, whose "Exception on <path>" names the path, and the development
server's request lines); `GunicornLogger` (gunicorn.conf.py's `logger_class`) for gunicorn's access and
error logs.
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
from gunicorn.glogging import Logger as _GunicornBaseLogger  # type: ignore[import-untyped]
from gunicorn.glogging import SafeAtoms

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

#: What a secret in a logged URL is replaced with.
REDACTED = "[redacted]"
#: The routes whose path carries a secret (app/accounts/views.py, app/calendar/views.py): the secret is the
#: segment after the prefix (up to the next "/", "?", "#", quote or space; a feed's ".ics" is kept).
_SECRET_IN_PATH = re.compile(
    r"(?P<prefix>/password/reset/|/invitation/)[^/?#\s\"']+"
    r"|(?P<feed>/calendar/)[^/?#\s\"']+?(?P<suffix>\.ics)(?=[?#\s\"']|$)"
)
#: Query parameters that carry a secret: the identity provider's authorization code and state (single
#: sign-on's callback), and any `token`.
_SECRET_IN_QUERY = re.compile(r"(?P<name>[?&](?:code|state|token)=)[^&#\s\"']+", re.IGNORECASE)


def redact_secrets(text: str) -> str:
    """`text` with every URL secret (see the module docstring) replaced by `[redacted]`."""
    if "/" not in text and "=" not in text:
        return text
    text = _SECRET_IN_PATH.sub(_redacted_path, text)
    return _SECRET_IN_QUERY.sub(lambda m: m.group("name") + REDACTED, text)


def _redacted_path(match: re.Match) -> str:
    if match.group("prefix"):
        return match.group("prefix") + REDACTED
    return match.group("feed") + REDACTED + match.group("suffix")


class SecretRedactingFilter(logging.Filter):
    """Replaces URL secrets in a record's message and traceback (`redact_secrets`); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: the handler reports it, as without this filter
            return True
        redacted = redact_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text)
        return True


def _add_filter_once(target: logging.Logger | logging.Handler) -> None:
    if not any(isinstance(f, SecretRedactingFilter) for f in target.filters):
        target.addFilter(SecretRedactingFilter())


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
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def json_handler() -> logging.Handler:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(SecretRedactingFilter())
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

    # Flask's own logger names the path of a request that raised ("Exception on /invitation/<token> [GET]"),
    # and the development server logs each request line: both without URL secrets, in every LOG_FORMAT.
    _add_filter_once(app.logger)
    _add_filter_once(logging.getLogger("werkzeug"))

    if app.config.get("LOG_FORMAT") == "json":
        root = logging.getLogger()
        root.handlers = [h for h in root.handlers if getattr(h, "_kursusportalen", False)] or [json_handler()]
        root.setLevel(app.config.get("LOG_LEVEL", os.environ.get("LOG_LEVEL", "INFO")))
        app.logger.removeHandler(default_handler)  # records reach the root's JSON handler instead


class _JsonAtoms(SafeAtoms):
    """gunicorn's access-log values with URL secrets redacted and each string escaped for the JSON string it
    is written into. gunicorn's own SafeAtoms escapes only the double quote: a backslash before it, or a line
    break (PATH_INFO is URL-decoded), would still end the string or the line and forge a field or an entry."""

    def __init__(self, atoms: dict) -> None:
        dict.__init__(self)
        for key, value in atoms.items():
            self[key] = _json_string_content(redact_secrets(value)) if isinstance(value, str) else value


class GunicornLogger(_GunicornBaseLogger):
    """gunicorn's logger (gunicorn.conf.py `logger_class`): URL secrets redacted from the access log and the
    error log ("Error handling request /invitation/<token>"), and the access log's values JSON-escaped."""

    atoms_wrapper_class = _JsonAtoms

    def setup(self, cfg) -> None:
        super().setup(cfg)
        _add_filter_once(self.error_log)
        _add_filter_once(self.access_log)


def _json_string_content(value: str) -> str:
    """`value` escaped to sit between the quotes of a JSON string."""
    return json.dumps(value, ensure_ascii=False)[1:-1]
