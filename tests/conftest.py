"""Shared fixtures: a fresh schema per test (SQLite in memory, or TEST_DATABASE_URL), the test
client with CSRF on, and helpers that log in and post forms as a browser would."""

from __future__ import annotations

import os
import re
import smtplib

import pytest
from flask import g
from flask.testing import FlaskClient

from app import create_app
from app.extensions import db
from config import TestingConfig
from tests import factories

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


@pytest.fixture
def app():
    app = create_app(TestingConfig)
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.drop_all()  # a previous crashed run on PostgreSQL may have left tables behind
        db.create_all()
        yield app
        db.session.rollback()
        db.session.remove()
        if db.engine.dialect.name == "sqlite":
            # SQLite drops row by row and would refuse self-references (a unit and its sub-units).
            # The pragma is a no-op inside a transaction, so it goes to the (single, static) DBAPI connection.
            raw = db.engine.raw_connection()
            raw.driver_connection.execute("PRAGMA foreign_keys=OFF")
            raw.close()
        db.drop_all()
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
