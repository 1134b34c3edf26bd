"""The production setup: ProductionConfig's refusals, ProxyFix, request ids and JSON logs, gunicorn.conf.py."""

from __future__ import annotations

import json
import logging
import re
import secrets
import string
import subprocess
import sys

import pytest

from app import create_app
from app.core import secret_strength
from app.core.access import public
from app.core.logs import JsonFormatter, json_handler
from config import BASE_DIR, ProductionConfig, TestingConfig
from tests.production_settings import GOOD_SECRET


@pytest.fixture
def production(monkeypatch):
    """A ProductionConfig that passes validation; each test breaks one thing."""
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgresql://kp@db.invalid/kp")
    monkeypatch.setattr(ProductionConfig, "SQLALCHEMY_DATABASE_URI", "postgresql+psycopg://kp@db.invalid/kp")
    monkeypatch.setattr(ProductionConfig, "SMTP_URL", "smtp://mail.invalid:25")
    monkeypatch.setattr(ProductionConfig, "ALLOW_SQLITE", False)
    monkeypatch.setattr(ProductionConfig, "RATELIMIT_STORAGE_URI", "redis://localhost:6379/0")
    monkeypatch.setattr(ProductionConfig, "ALLOW_MEMORY_RATELIMITS", False)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    return ProductionConfig


# --- secrets (docs/security.md "Secrets") ---------------------------------------------------------------


def _example_values(name: str) -> set[str]:
    """Every `NAME=value` (or `NAME: value`) the repository shows as an example, outside the tests."""
    pattern = re.compile(rf"\b{name}\s*[=:]\s*[\"']?([^\s\"'`|)]+)")
    found = set()
    for path in BASE_DIR.rglob("*"):
        if any(part.startswith(".") or part in {"node_modules", "tests"} for part in path.relative_to(BASE_DIR).parts):
            continue
        if path.is_file() and path.suffix in {".example", ".md", ".sh", ".py", ".service", ".conf", ".toml", ".txt"}:
            text = path.read_text(encoding="utf-8", errors="replace")
            found.update(
                value for value in pattern.findall(text) if len(value) >= 8 and not value.startswith(("$", "<", "…"))
            )
    return found


def test_the_env_examples_secret_key_is_refused(production, monkeypatch):
    """The finding: the 83-character placeholder of deploy/kursusportalen.env.example passed the length check."""
    example = (BASE_DIR / "deploy" / "kursusportalen.env.example").read_text()
    placeholder = re.search(r"^SECRET_KEY=(.+)$", example, re.MULTILINE).group(1)
    assert len(placeholder) >= 32
    monkeypatch.setattr(production, "SECRET_KEY", placeholder)
    with pytest.raises(RuntimeError, match="SECRET_KEY.*public.*secrets.token_urlsafe\\(48\\)"):
        production.validate()


def test_every_example_secret_in_the_repository_is_refused(production, monkeypatch, tmp_path):
    """Each SECRET_KEY / OIDC_CLIENT_SECRET example in the repository, also where the files are not installed
    (only the list in app.core.secret_strength then knows them)."""
    examples = _example_values("SECRET_KEY") | _example_values("OIDC_CLIENT_SECRET")
    assert "change-me-to-the-output-of-python3-c-import-secrets-print-secrets.token_urlsafe-48" in examples
    monkeypatch.setattr(production, "OIDC_ISSUER", "https://login.example/tenant/v2.0")
    monkeypatch.setattr(production, "OIDC_CLIENT_ID", "client")
    for value in sorted(examples):
        for name in ("SECRET_KEY", "OIDC_CLIENT_SECRET"):
            monkeypatch.setattr(production, name, value)
            with pytest.raises(RuntimeError, match=name):
                production.validate()
            monkeypatch.setattr(production, name, GOOD_SECRET)
        assert secret_strength.key_problem("SECRET_KEY", value, texts=[]), f"not refused without the docs: {value}"


@pytest.mark.parametrize(
    "key",
    [
        "x" * 40,  # repeated characters
        "ab" * 24,  # a repeated pattern
        "0123456789abcdef" * 3,  # a sequence
        "qwertyuiopasdfghjklzxcvbnm1234567890",  # a keyboard row
        "this-is-the-very-long-and-secret-production-key-of-the-portal",  # words
        "testing-secret-key-not-for-production",  # config.py's testing key
        "Kursusportalen2026!Kursusportalen2026!",
        "4f50ce0181cf0737" * 3,  # 64 random bits, repeated
    ],
)
def test_a_guessable_secret_key_is_refused(production, monkeypatch, key):
    monkeypatch.setattr(production, "SECRET_KEY", key)
    with pytest.raises(RuntimeError, match=r"SECRET_KEY.*secrets.token_urlsafe\(48\)") as refused:
        production.validate()
    assert key not in str(refused.value)  # the refusal never prints the secret


@pytest.mark.parametrize(
    "make",
    [
        lambda: secrets.token_urlsafe(48),  # what the docs say
        lambda: secrets.token_urlsafe(32),
        lambda: secrets.token_hex(32),
        lambda: "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40)),
    ],
)
def test_random_keys_pass(production, monkeypatch, make):
    for _ in range(20):
        monkeypatch.setattr(production, "SECRET_KEY", make())
        production.validate()


def test_oidc_client_secret_is_checked_like_a_key(production, monkeypatch):
    monkeypatch.setattr(production, "OIDC_ISSUER", "https://login.example/tenant/v2.0")
    monkeypatch.setattr(production, "OIDC_CLIENT_ID", "client")
    for weak in ("secret", "client-secret-" * 3, "y" * 40):
        monkeypatch.setattr(production, "OIDC_CLIENT_SECRET", weak)
        with pytest.raises(RuntimeError, match="OIDC_CLIENT_SECRET.*identity provider"):
            production.validate()
    # What identity providers issue: e.g. Entra ID's 40 characters, Keycloak's 32 letters and digits.
    alphabet = string.ascii_letters + string.digits
    for issued in (
        "".join(secrets.choice(alphabet + "~._-") for _ in range(40)),
        "".join(secrets.choice(alphabet) for _ in range(32)),
    ):
        monkeypatch.setattr(production, "OIDC_CLIENT_SECRET", issued)
        production.validate()


def test_a_documented_password_in_the_database_or_smtp_url_is_refused(production, monkeypatch, tmp_path):
    docs = [
        "DATABASE_URL=postgresql://kursusportalen:kursus-db-password@localhost/kursusportalen\n"
        "SMTP_URL=smtp://portal:relay-password@mailrelay.example.dk:587?starttls=true\n"
    ]
    monkeypatch.setattr(secret_strength, "public_texts", lambda root: docs)
    monkeypatch.setenv("DATABASE_URL", "postgresql://kursusportalen:kursus-db-password@db.invalid/kp")
    with pytest.raises(RuntimeError, match="password in DATABASE_URL") as refused:
        production.validate()
    assert "kursus-db-password" not in str(refused.value)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://kursusportalen:{secrets.token_urlsafe(24)}@db.invalid/kp")
    production.validate()
    monkeypatch.setattr(production, "SMTP_URL", "smtp://portal:relay-password@mail.invalid:587")
    with pytest.raises(RuntimeError, match="password in SMTP_URL"):
        production.validate()
    monkeypatch.setattr(production, "SMTP_URL", "smtp://mail.invalid:25")
    monkeypatch.setattr(production, "RATELIMIT_STORAGE_URI", "redis://:relay-password@redis.invalid:6379/0")
    with pytest.raises(RuntimeError, match="password in RATELIMIT_STORAGE_URI"):
        production.validate()


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


def test_production_hashes_passwords_and_the_unknown_address_stand_in_with_scrypt(monkeypatch):
    """Only TestingConfig makes hashing cheap; the method is a class attribute, not an environment setting."""
    from flask import Flask

    from app.accounts.models import hash_password

    monkeypatch.setenv("PASSWORD_HASH_METHOD", "pbkdf2:sha256:1")
    assert ProductionConfig.PASSWORD_HASH_METHOD == "scrypt"
    bare = Flask(__name__)
    bare.config.from_object(ProductionConfig)
    with bare.app_context():
        assert hash_password("x").startswith("scrypt:")


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


# --- rate-limit counters (docs/security.md "Login throttling") ------------------------------------------


def test_production_refuses_per_process_rate_limit_counters(production, monkeypatch):
    """memory:// keeps the counters in each gunicorn worker: with 4 workers, 20 wrong passwords instead of 5."""
    monkeypatch.setattr(production, "RATELIMIT_STORAGE_URI", "memory://")
    with pytest.raises(RuntimeError, match="RATELIMIT_STORAGE_URI.*redis://"):
        production.validate()
    monkeypatch.setattr(production, "ALLOW_MEMORY_RATELIMITS", True)  # the trial's escape hatch ...
    with pytest.raises(RuntimeError, match="WEB_CONCURRENCY=1"):
        production.validate()  # ... holds only with one worker
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    production.validate()


def test_production_refuses_unknown_rate_limit_storage_and_throttling_off(production, monkeypatch):
    monkeypatch.setattr(production, "RATELIMIT_STORAGE_URI", "memcached://localhost:11211")
    with pytest.raises(RuntimeError, match="redis://"):
        production.validate()
    monkeypatch.setattr(production, "RATELIMIT_STORAGE_URI", "redis://localhost:6379/0")
    monkeypatch.setattr(production, "RATELIMIT_ENABLED", False)
    with pytest.raises(RuntimeError, match="RATELIMIT_ENABLED"):
        production.validate()


def test_redis_counters_have_short_timeouts_and_a_fallback():
    """A dead Redis must not hang a login: half-second socket timeouts, then each worker counts alone."""
    code = (
        "import config, json; c = config.Config;"
        " print(json.dumps([c.RATELIMIT_STORAGE_OPTIONS, c.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED]))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={"PATH": "/usr/bin:/bin", "RATELIMIT_STORAGE_URI": "redis://localhost:6379/0"},
        capture_output=True,
        text=True,
        check=True,
    )
    options, fallback = json.loads(result.stdout)
    assert options == {"socket_connect_timeout": 0.5, "socket_timeout": 0.5} and fallback is True
