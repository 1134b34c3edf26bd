"""Secrets that travel in a URL never reach a log line (ASVS 5.0 V14, V16): the password-reset and invitation
links, the personal calendar feed and single sign-on's code/state are logged with `[redacted]` instead, by the
application (app/core/logs.py) and by gunicorn's access and error logs (gunicorn.conf.py's logger_class)."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config as GunicornConfig

from app.accounts.signin import tokens
from app.calendar import feeds
from app.core.logs import REDACTED, GunicornLogger, json_handler, redact_secrets
from config import BASE_DIR
from tests import factories


@pytest.fixture
def secret_urls(app):
    """Each secret-carrying URL of the app, with a real secret: {name: (url, secret)}."""
    forgetful = factories.make_user(email="glemsom@test.dk")
    invitee = factories.make_user(email="inviteret@test.dk", password=None)
    feed_owner = factories.make_user(email="abonnent@test.dk")
    reset, invitation, feed = (
        tokens.make_reset_token(forgetful),
        tokens.make_invitation_token(invitee),
        feeds.ensure_token(feed_owner),
    )
    return {
        "reset": (f"/password/reset/{reset}", reset),
        "invitation": (f"/invitation/{invitation}", invitation),
        "feed": (f"/calendar/{feed}.ics", feed),
    }


@pytest.fixture
def app_log(app):
    """Everything the app logs while the test runs, as text lines and as the production JSON handler writes it."""
    text, lines = io.StringIO(), io.StringIO()
    plain = logging.StreamHandler(text)
    plain.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    production = json_handler()
    production.setStream(lines)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(plain)
    root.addHandler(production)
    try:
        yield lambda: text.getvalue() + lines.getvalue()
    finally:
        root.removeHandler(plain)
        root.removeHandler(production)
        root.setLevel(level)


def test_redact_secrets_keeps_the_path_and_drops_the_secret():
    assert redact_secrets("/password/reset/eyJ1Ijo0fQ.aBc.dEf") == "/password/reset/[redacted]"
    assert (
        redact_secrets('"GET /invitation/eyJ1Ijo0fQ.aBc HTTP/1.1" 200') == '"GET /invitation/[redacted] HTTP/1.1" 200'
    )
    assert redact_secrets("/calendar/Abc_def-123456789012345678.ics?x=1") == "/calendar/[redacted].ics?x=1"
    assert (
        redact_secrets("/login/sso/callback?code=c0de&state=st4te")
        == "/login/sso/callback?code=[redacted]&state=[redacted]"
    )
    for harmless in ("/calendar/closed-days", "/runs/12.ics", "/me/calendar-token", "/login?next=/runs"):
        assert redact_secrets(harmless) == harmless


def test_requests_to_secret_urls_log_no_secret(app, client, app_log, secret_urls):
    for url, _secret in secret_urls.values():
        client.get(url)
        client.get(url + "?utm=1")
    logged = app_log()
    for url, secret in secret_urls.values():
        assert secret not in logged, url


def test_a_failing_request_logs_the_path_without_its_secret(app, client, app_log, secret_urls, monkeypatch):
    """Flask logs "Exception on <path> [GET]" with the traceback: the secret is in both (here the exception's
    message names the URL too, as an error about a request may)."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the 500 page, and the error logged

    def broken(token, *args, **kwargs):
        from flask import request

        raise RuntimeError(f"lookup failed for {request.url}")

    from app.accounts import views as account_views
    from app.calendar import views as calendar_views

    monkeypatch.setattr(account_views.tokens, "user_for_reset_token", broken)
    monkeypatch.setattr(account_views.tokens, "user_for_invitation_token", broken)
    monkeypatch.setattr(calendar_views.feeds, "user_by_token", broken)
    for url, _secret in secret_urls.values():
        assert client.get(url).status_code == 500
    logged = app_log()
    for name, (_url, secret) in secret_urls.items():
        assert secret not in logged, name
    assert "Exception on /password/reset/[redacted] [GET]" in logged
    assert "Exception on /invitation/[redacted] [GET]" in logged
    assert "Exception on /calendar/[redacted].ics [GET]" in logged
    assert f"lookup failed for http://localhost/invitation/{REDACTED}" in logged  # the traceback's text too
    entries = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert {e["message"] for e in entries} >= {"Exception on /invitation/[redacted] [GET]"}
    assert all(e.get("request_id") for e in entries if e["message"].startswith("Exception on"))


def test_the_development_servers_request_lines_are_redacted(app, app_log, secret_urls):
    url, secret = secret_urls["feed"]
    # werkzeug's serving.WSGIRequestHandler.log_request, through its logger.
    logging.getLogger("werkzeug").info(
        '127.0.0.1 - - [02/Dec/2026 09:00:00] "%s" %s %s', f"GET {url} HTTP/1.1", 200, "-"
    )
    logged = app_log()
    assert secret not in logged and '"GET /calendar/[redacted].ics HTTP/1.1" 200 -' in logged


# --- gunicorn -------------------------------------------------------------------------------------------


@pytest.fixture
def gunicorn_logger():
    """gunicorn's logger as gunicorn.conf.py configures it, writing into memory: (logger, access, errors)."""
    settings: dict = {}
    exec((BASE_DIR / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 (our own config file)
    cfg = GunicornConfig()
    for name in ("accesslog", "errorlog", "access_log_format", "logger_class", "loglevel"):
        cfg.set(name, settings[name])
    logger = cfg.logger_class(cfg)
    assert isinstance(logger, GunicornLogger)
    access, errors = io.StringIO(), io.StringIO()
    for log, stream in ((logger.access_log, access), (logger.error_log, errors)):
        for handler in log.handlers:
            handler.setStream(stream)
    return logger, access, errors


def _serve(logger, method: str, raw_uri: str, *, request_id: str = "req-0123456789", status: str = "200 OK"):
    """What gunicorn's worker hands the logger after a response."""
    path, _, query = raw_uri.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "RAW_URI": raw_uri,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": f"https://kursus.example.dk{raw_uri}",
    }
    resp = SimpleNamespace(status=status, headers=[("X-Request-ID", request_id)], sent=1234)
    req = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    logger.access(resp, req, environ, timedelta(milliseconds=12))


def test_gunicorns_access_log_keeps_path_and_request_id_without_the_secret(gunicorn_logger, secret_urls):
    logger, access, _errors = gunicorn_logger
    expected = {
        "reset": "/password/reset/[redacted]",
        "invitation": "/invitation/[redacted]",
        "feed": "/calendar/[redacted].ics",
    }
    for name, (url, _secret) in secret_urls.items():
        _serve(logger, "GET", url + "?from=mail", request_id=f"req-{name}-0123456789")
    text = access.getvalue()
    for _url, secret in secret_urls.values():
        assert secret not in text
    entries = [json.loads(line) for line in text.splitlines()]
    assert [(e["path"], e["request_id"]) for e in entries] == [
        (expected[name], f"req-{name}-0123456789") for name in secret_urls
    ]
    assert entries[0]["method"] == "GET" and entries[0]["status"] == 200 and entries[0]["worker"].startswith("<")


def test_gunicorns_error_log_is_redacted_too(gunicorn_logger, secret_urls):
    logger, _access, errors = gunicorn_logger
    url, secret = secret_urls["invitation"]
    try:
        raise OSError(f"broken pipe while answering {url}")
    except OSError:
        logger.exception("Error handling request %s", url + "?code=abc123")  # gunicorn's worker, as it logs
    text = errors.getvalue()
    assert secret not in text and "abc123" not in text
    assert "Error handling request /invitation/[redacted]?code=[redacted]" in text


def test_a_path_cannot_forge_access_log_fields_or_lines(gunicorn_logger):
    logger, access, _errors = gunicorn_logger
    forged = '/x","status":200,"request_id":"forged\n{"path":"/admin'
    _serve(logger, "GET", forged, status="404 NOT FOUND")
    lines = access.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["path"] == forged and entry["status"] == 404 and entry["request_id"] == "req-0123456789"
