"""Browser tests: Playwright for Python driving Debian's Chromium against the live application on loopback.

Every test here is marked `browser`. `make test` runs them when /usr/bin/chromium (and node_modules' axe-core)
is present and skips them with the reason otherwise; with CI=true a missing browser fails the run instead.

One live server (with the demo data of a fixed day) and one browser serve the whole package; each test gets
its own browser context (cookies, viewport, language). Tests that change data use their own run or person,
so their order does not matter.
"""

from __future__ import annotations

import os
import re
import smtplib
from zoneinfo import ZoneInfo

import pytest

from tests.browser.harness import (
    AXE_JS,
    CHROMIUM,
    CSP_VIOLATION_RECORDER,
    LiveServer,
    chromium_available,
    launch_chromium,
)
from tests.clock import FROZEN_AT
from tests.notifications.conftest import _REAL_CONNECT, LOOPBACK, RecordingHandler, SmtpServer, free_port

#: The demo data is built around today, as `make run` does. The live server runs in this process, so its views
#: read the tests' frozen clock (app.core.clock; tests/clock.py): the current programme's runs lie after it.
TODAY = FROZEN_AT.astimezone(ZoneInfo("Europe/Copenhagen")).date()
DEMO_PASSWORD = "kursus-demo-2008"  # noqa: S105 (app.demo.DEMO_PASSWORD, documented demo login)
COORDINATOR = "koordinator@demo.test"
STAFF = "medarbejder@demo.test"
PROVIDER = "fic@demo.test"
OTHER_PROVIDER = "vilde@demo.test"
#: A staff member who leads Socialcenter Amager (app.demo.DEMO_LEADER): the competence overview.
LEADER = "leder@demo.test"


def pytest_collection_modifyitems(config, items):
    browser_items = [item for item in items if "tests/browser/" in item.nodeid.replace(os.sep, "/")]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    if not browser_items or chromium_available():
        return
    missing = CHROMIUM if not os.path.exists(CHROMIUM) else str(AXE_JS)
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(
            f"CI=true makes the browser tests mandatory, but {missing} is missing "
            "(apt-get install chromium; npm ci for axe-core)."
        )
    skip = pytest.mark.skip(
        reason=f"browser tests need {missing} (apt-get install chromium; npm ci); CI=true makes them mandatory"
    )
    for item in browser_items:
        item.add_marker(skip)


@pytest.fixture
def no_smtp(monkeypatch):
    """Overrides the suite's refusal: the live server may deliver to the loopback SMTP server, nowhere else."""

    def loopback_only(self, host="localhost", port=0, source_address=None):
        if host != LOOPBACK:
            raise AssertionError(f"a browser test tried to reach SMTP at {host}")
        return _REAL_CONNECT(self, host, port, source_address)

    monkeypatch.setattr(smtplib.SMTP, "connect", loopback_only)


@pytest.fixture(scope="package")
def smtp():
    """A real SMTP server (aiosmtpd) on loopback that the live server's outbox delivers to."""
    server = SmtpServer(RecordingHandler(), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def live(tmp_path_factory, smtp):
    server = LiveServer(tmp_path_factory.mktemp("live"), TODAY, smtp_url=smtp.url).start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def profile_languages_restored(request):
    """Switching the language while logged in stores it on the account's profile, where it outranks the browser's
    Accept-Language; the demo accounts are shared by every test of the package, so each test gets back the
    profiles' languages it found (a test choosing Danish as coordinator made a later English test read Danish)."""
    if "live" not in request.fixturenames:
        yield
        return
    from sqlalchemy import select, update

    from app.accounts.models import User
    from app.extensions import db

    live = request.getfixturevalue("live")
    with live.app.app_context():
        before = dict(db.session.execute(select(User.id, User.locale)).all())
        db.session.remove()
    yield
    with live.app.app_context():
        for user_id, locale in db.session.execute(select(User.id, User.locale)).all():
            if user_id in before and before[user_id] != locale:
                db.session.execute(update(User).where(User.id == user_id).values(locale=before[user_id]))
        db.session.commit()
        db.session.remove()


def new_page(chromium, *, language: str = "da", width: int = 1280, height: int = 900, mobile: bool = False):
    """A fresh context (no cookies) whose Accept-Language is `language`."""
    locale = {"da": "da-DK", "en": "en-GB"}[language]
    context = chromium.new_context(
        locale=locale,
        viewport={"width": width, "height": height},
        is_mobile=mobile,
        has_touch=mobile,
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    context.add_init_script(CSP_VIOLATION_RECORDER)
    return context.new_page()


@pytest.fixture
def page(chromium):
    page = new_page(chromium)
    yield page
    page.context.close()


def log_in(page, live, email: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the form, as a person would (mouse or keyboard is the test's business elsewhere)."""
    page.goto(live.url("/login"))
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"^(?!.*/login)"))
