"""Shared fixtures: one app and one schema per test session (SQLite in memory, or TEST_DATABASE_URL), each test
in a transaction that is rolled back afterwards, the test client with CSRF on, and helpers that log in and post
forms as a browser would. docs/architecture.md ("Tests: isolation") says when a test needs `committing` instead.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import smtplib
import threading
from unittest import mock

import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from tests.databases import prepare_worker_database_url

prepare_worker_database_url()  # before config.py reads TEST_DATABASE_URL: each xdist worker has its own database

from app import create_app  # noqa: E402
from app.extensions import db, limiter  # noqa: E402
from app.health import services as health_services  # noqa: E402
from config import TestingConfig  # noqa: E402
from tests import factories  # noqa: E402
from tests.databases import create_schema, drop_schema, ensure_database, truncate_all  # noqa: E402

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def pytest_report_header(config):
    url = os.environ.get("TEST_DATABASE_URL", "sqlite:// (in memory)")
    return f"database: {url.split('@')[-1]}"


class IsolatedClient(FlaskClient):
    """A test client whose every request starts with an empty `g`.

    The `app` fixture keeps one app context (and so one database session) pushed for the whole test,
    and Flask reuses a pushed app context for requests: without this, per-request caches kept on `g`
    (Flask-Login's current user, Flask-Babel's locale) would leak from one request into the next.
    """

    def open(self, *args, **kwargs):
        vars(g._get_current_object()).clear()
        return super().open(*args, **kwargs)


class SecondConnection(AssertionError):
    """An isolated test opened a second database connection (another thread, or a connection beside the
    session's): inside the rolled-back transaction it would silently share the test's connection."""


@contextlib.contextmanager
def isolated(app: Flask):
    """Everything the test does to the database happens in one outer transaction, rolled back at the end.

    SQLAlchemy's "Joining a Session into an External Transaction" recipe: the test's one connection has its
    outer transaction begun; sessions are bound to that connection and join it with `create_savepoint`, and
    `Connection.begin()` (what `engine.begin()` calls) becomes a SAVEPOINT, so the code's own commit, rollback
    and begin_nested work as in production without ending the outer transaction. Flask-SQLAlchemy's sessions
    choose their engine in `Session.get_bind` (a `bind=` argument is ignored), so that is where the connection
    is handed over. On SQLite the savepoints need app.core.db's BEGIN IMMEDIATE recipe (sqlite3 in legacy
    mode never BEGINs before a SAVEPOINT); create_app installs it.

    Only the test's thread may use the database, and `engine.connect()` only while no savepoint is open:
    anything else would silently share the test's connection, so it raises SecondConnection (mark the test
    `committing`).
    """
    engine = db.engine
    owner = threading.get_ident()

    def check_thread() -> None:
        if threading.get_ident() != owner:
            raise SecondConnection(
                "a thread other than the test's used the database inside an isolated test: "
                "mark the test @pytest.mark.committing (docs/architecture.md, Tests: isolation)"
            )

    def get_bind(session, *args, **kwargs):
        check_thread()
        return conn

    def connect():
        check_thread()
        if conn.in_nested_transaction():
            raise SecondConnection(
                "engine.connect() while the test's connection is in use (a session's transaction is open): "
                "in production a second connection, here the same one: mark the test @pytest.mark.committing"
            )
        return conn

    session_class = db.session.session_factory.class_
    with contextlib.ExitStack() as stack:
        conn = stack.enter_context(engine.connect())
        trans = conn.begin()
        stack.callback(trans.rollback)
        stack.enter_context(
            mock.patch.dict(db.session.session_factory.kw, {"join_transaction_mode": "create_savepoint"})
        )
        stack.enter_context(mock.patch.object(session_class, "get_bind", get_bind))
        stack.enter_context(mock.patch.object(conn, "close", lambda: None))
        stack.enter_context(mock.patch.object(engine, "connect", connect))
        stack.enter_context(mock.patch.object(conn, "begin", conn.begin_nested))
        yield


@pytest.fixture(scope="session")
def session_app():
    """The one app of the session, its schema created once. Tests take it through `app`."""
    ensure_database(TestingConfig.SQLALCHEMY_DATABASE_URI, lock_timeout="60s")
    app = create_app(TestingConfig)
    app.test_client_class = IsolatedClient
    create_schema(app)
    yield app
    drop_schema(app)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(request, session_app):
    """The app with an app context pushed for the whole test, and a clean database.

    By default the test runs in a transaction that is rolled back (`isolated`). A test marked `committing`
    commits for real (other connections, threads and processes see its rows) and every table is emptied
    afterwards. A test marked `own_app` gets a newly built app (for tests that register routes), isolated.
    Config, instance path, the rate limiter's counters and the heartbeat's start time are reset per test.
    """
    own_app = request.node.get_closest_marker("own_app") is not None
    committing = request.node.get_closest_marker("committing") is not None
    app = session_app
    if own_app:
        app = create_app(TestingConfig)
        app.test_client_class = IsolatedClient
        if app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite://":
            create_schema(app)  # its own, new in-memory database
    config = copy.deepcopy(dict(app.config))
    instance_path = app.instance_path
    limiter.reset()
    try:
        # The process's scheduler start time (record_heartbeat) is per process: per test here.
        with mock.patch.dict(health_services._STARTED_AT, clear=True), app.app_context():
            if committing:
                try:
                    yield app
                finally:
                    db.session.remove()
                    truncate_all(app)
            else:
                with isolated(app):
                    yield app
                    db.session.remove()
    finally:
        app.config.clear()
        app.config.update(config)
        app.instance_path = instance_path
        limiter.reset()
        if own_app:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(autouse=True)
def no_smtp(monkeypatch):
    """No test may open a real SMTP connection unless it asks for the local test server."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to open an SMTP connection")

    monkeypatch.setattr(smtplib.SMTP, "connect", refuse)


def csrf_token_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def post_form(client, url: str, data: dict | None = None, *, form_url: str | None = None, **kwargs):
    """GET the form page (form_url, default url), read its CSRF token and POST `data` to `url`."""
    page = client.get(form_url or url)
    assert page.status_code == 200, f"GET {form_url or url} answered {page.status_code}"
    payload = {"csrf_token": csrf_token_from(page.get_data(as_text=True))}
    payload.update(data or {})
    return client.post(url, data=payload, **kwargs)


def post_action(client, url: str, data: dict | None = None, *, from_url: str, **kwargs):
    """POST a one-button action form found on `from_url`."""
    return post_form(client, url, data, form_url=from_url, **kwargs)


@pytest.fixture
def login_as(client):
    """login_as(user) logs the test client in through the real login form."""

    def login(user, password: str = factories.PASSWORD):
        response = post_form(client, "/login", {"email": user.email, "password": password})
        assert response.status_code == 302, "login failed"
        return user

    return login


@pytest.fixture
def coordinator(app):
    return factories.make_user(access_level="coordinator", name="Karin Koordinator", email="koordinator@test.dk")


@pytest.fixture
def staff_member(app):
    return factories.make_user(access_level="staff", name="Sara Sagsbehandler", email="sara@test.dk")


@pytest.fixture
def fic_provider(app):
    return factories.make_provider(name="Familien i Centrum")


@pytest.fixture
def provider_user(app, fic_provider):
    return factories.make_user(access_level="provider", provider=fic_provider, email="fic@test.dk", name="Frida FIC")


# --- the clock ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _session_clock():
    """The frozen clock, in app.core.clock from the start of the session: module- and session-scoped fixtures
    (the access matrix's world, signed links, logins) are built at FROZEN_AT too."""
    from app.core import clock as seam
    from tests.clock import FrozenClock

    frozen = FrozenClock()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(seam, "source", frozen)
        yield frozen


@pytest.fixture(autouse=True)
def _frozen_clock(_session_clock, monkeypatch):
    """Every test starts at tests/clock.py's FROZEN_AT, not on the real clock (see `clock`), and leaves the
    clock there for the next test or fixture, whatever it moved."""
    from app.core import clock as seam
    from tests.clock import FROZEN_AT

    _session_clock.set(FROZEN_AT)
    monkeypatch.setattr(seam, "source", _session_clock)
    yield _session_clock
    _session_clock.set(FROZEN_AT)


@pytest.fixture
def clock(_frozen_clock):
    """The test's clock behind app.core.clock: `clock.set(...)`, `clock.advance(days=1)`, `clock.today()`."""
    return _frozen_clock


# --- PostgreSQL-only tests ---------------------------------------------------------------------------


def on_postgresql() -> bool:
    return (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgres")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """`@pytest.mark.postgres_only(reason=...)`: skipped on SQLite, before any fixture, with the reason given
    (what the test needs that SQLite has not); it runs in the TEST_DATABASE_URL pass of `make test`."""
    marker = item.get_closest_marker("postgres_only")
    if marker is not None and not on_postgresql():
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else None)
        assert reason, f"{item.nodeid}: postgres_only needs a reason"
        pytest.skip(f"PostgreSQL only: {reason} (runs with TEST_DATABASE_URL)")


@pytest.fixture(scope="session", autouse=True)
def _real_clock_moved():
    """KP_REAL_CLOCK=2030-06-01 runs the suite with the *real* clock moved there (time-machine: datetime.now,
    date.today, time.time), to show that no test depends on the day it runs: only app.core.clock tells time."""
    moved_to = os.environ.get("KP_REAL_CLOCK")
    if not moved_to:
        yield None
        return
    import time_machine

    with time_machine.travel(moved_to, tick=True) as traveller:
        yield traveller
