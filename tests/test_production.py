"""The production setup: ProductionConfig's refusals, ProxyFix, request ids and JSON logs, gunicorn.conf.py."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from app import create_app
from app.core.access import public
from app.core.logs import JsonFormatter, json_handler
from config import BASE_DIR, ProductionConfig, TestingConfig

GOOD_SECRET = "x" * 40


@pytest.fixture
def production(monkeypatch):
    """A ProductionConfig that passes validation; each test breaks one thing."""
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgresql://kp@db.invalid/kp")
    monkeypatch.setattr(ProductionConfig, "SQLALCHEMY_DATABASE_URI", "postgresql+psycopg://kp@db.invalid/kp")
    monkeypatch.setattr(ProductionConfig, "SMTP_URL", "smtp://mail.invalid:25")
    monkeypatch.setattr(ProductionConfig, "ALLOW_SQLITE", False)
    return ProductionConfig


def test_production_config_validates_when_complete(production):
    production.validate()  # no exception


def test_production_refuses_sqlite_unless_allowed(production, monkeypatch):
    monkeypatch.setattr(production, "SQLALCHEMY_DATABASE_URI", "sqlite:////var/lib/kp.db")
    with pytest.raises(RuntimeError, match="SQLite"):
        production.validate()
    monkeypatch.setattr(production, "ALLOW_SQLITE", True)
    production.validate()


def test_production_refuses_missing_smtp_url(production, monkeypatch):
    monkeypatch.setattr(production, "SMTP_URL", None)
    with pytest.raises(RuntimeError, match="SMTP_URL"):
        production.validate()


def test_production_refuses_missing_database_url(production, monkeypatch):
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        production.validate()


def test_production_defaults_secure_cookies_json_logs_and_one_proxy():
    assert ProductionConfig.SESSION_COOKIE_SECURE and ProductionConfig.REMEMBER_COOKIE_SECURE
    assert ProductionConfig.SESSION_COOKIE_HTTPONLY and ProductionConfig.SESSION_COOKIE_SAMESITE == "Lax"
    assert ProductionConfig.LOG_FORMAT == "json" and ProductionConfig.PROXY_COUNT == 1


class BehindProxy(TestingConfig):
    PROXY_COUNT = 1


def test_proxy_fix_takes_client_address_and_scheme_from_the_proxy():
    app = create_app(BehindProxy)
    seen = {}

    @app.get("/_probe")
    @public
    def _probe():
        from flask import request, url_for

        seen.update(addr=request.remote_addr, url=url_for("main.healthz", _external=True))
        return "ok"

    app.test_client().get(
        "/_probe",
        headers={"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "kursus.example.dk"},
    )
    assert seen == {"addr": "10.1.2.3", "url": "https://kursus.example.dk/healthz"}


def test_without_proxy_forwarded_headers_are_ignored(client):
    response = client.get("/healthz", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.9.9.9"})
    assert response.status_code == 200
    assert "ProxyFix" not in type(client.application.wsgi_app).__name__  # not wrapped: headers unused


def test_request_id_is_echoed_or_made(client):
    given = client.get("/healthz", headers={"X-Request-ID": "nginx-req-0123456789"})
    assert given.headers["X-Request-ID"] == "nginx-req-0123456789"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id; with spaces"})
    assert made.headers["X-Request-ID"] != "bad id with spaces" and len(made.headers["X-Request-ID"]) == 32
    assert client.get("/healthz").headers["X-Request-ID"] != made.headers["X-Request-ID"]


def test_json_log_line_carries_request_and_user_ids_but_no_personal_data(app, staff_member):
    from flask import g

    handler = json_handler()
    with app.test_request_context("/runs?q=Jensen", headers={"X-Request-ID": "req-abcdef12"}):
        g._login_user = staff_member  # as Flask-Login leaves it once the user is loaded
        record = logging.LogRecord("app", logging.WARNING, __file__, 1, "probe for user %s", (staff_member.id,), None)
        handler.filter(record)
        text = handler.format(record)
    line = json.loads(text)
    assert line["level"] == "WARNING" and line["message"] == f"probe for user {staff_member.id}"
    assert line["request_id"] == "req-abcdef12"
    assert line["user_id"] == staff_member.id
    assert staff_member.email not in text and staff_member.name not in text and "Jensen" not in text


def test_json_formatter_outside_a_request_and_with_an_exception():
    handler = json_handler()
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("job",), sys.exc_info())
    handler.filter(record)
    line = json.loads(handler.format(record))
    assert line["message"] == "failed job" and "request_id" not in line
    assert "ValueError: boom" in line["exception"]


def test_json_logging_replaces_the_root_handlers_once(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [logging.StreamHandler()])
    # create_app sets the root level (INFO) in JSON mode: put it back, or later tests see INFO records of
    # other libraries (an SMTP test server's, which name addresses) and format lazy log arguments.
    level = root.level
    monkeypatch.setattr(root, "setLevel", lambda value: None)
    assert root.level == level

    class JsonLogs(TestingConfig):
        LOG_FORMAT = "json"

    create_app(JsonLogs)
    create_app(JsonLogs)
    assert len(root.handlers) == 1 and isinstance(root.handlers[0].formatter, JsonFormatter)


def test_gunicorn_config_is_valid():
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={"KURSUSPORTALEN_CONFIG": "testing", "PATH": "/usr/bin:/bin", "WEB_CONCURRENCY": "3"},
    )
    assert result.returncode == 0, result.stderr


def test_gunicorn_config_values():
    settings: dict = {}
    exec((BASE_DIR / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 (our own config file)
    assert settings["preload_app"] is True and settings["worker_class"] == "sync"
    assert 3 <= settings["workers"] <= 12 and settings["timeout"] == 60
    assert '"path":"%(U)s"' in settings["access_log_format"]  # no query string in the access log
    assert "%({x-request-id}o)s" in settings["access_log_format"]


def test_gunicorn_worker_freezes_its_warm_objects_once(monkeypatch):
    """After GC_FREEZE_AFTER requests a worker's long-lived objects (compiled templates, caches) are moved
    out of the collector's reach, once; before and after that request nothing is frozen."""
    import gc

    settings: dict = {}
    exec((BASE_DIR / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 (our own config file)
    frozen: list[int] = []

    class Worker:
        nr = 0

    worker = Worker()
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(worker.nr))
    for nr in range(1, 2 * settings["GC_FREEZE_AFTER"] + 1):
        worker.nr = nr  # gunicorn's sync worker counts the request before calling post_request
        settings["post_request"](worker, None, {}, None)
    assert frozen == [settings["GC_FREEZE_AFTER"]] == [100]
