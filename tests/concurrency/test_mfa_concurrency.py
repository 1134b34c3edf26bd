"""The second step's limits under simultaneous guesses (issue 20): many requests of one pending login, and
two logged-in sessions of one user, released at once through the real forms against a real database (a
SQLite file, or PostgreSQL in the TEST_DATABASE_URL pass, where the requests really overlap). However many
arrive together, no more codes are checked than the limit allows: each claims its attempt with a
conditional UPDATE of the account's row, and the next one sees what the one before left."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import func, select

from app.accounts.mfa import services as mfa
from app.accounts.mfa.models import MfaCredential
from app.audit.models import AuditEntry
from app.core import clock
from app.extensions import db
from tests import factories
from tests.concurrency.harness import WAIT, release_together
from tests.conftest import IsolatedClient, csrf_token_from, post_form

pytestmark = pytest.mark.concurrency

GUESSERS = 12


def enrolled_user():
    """A staff member with an authenticator app: (user id, email, the app's secret)."""
    user = factories.make_user("staff", email="totrin@test.dk")
    now = clock.utcnow()
    credential = mfa.start_enrolment(user, now=now)
    secret = credential.secret
    assert mfa.confirm_enrolment(credential, pyotp.TOTP(secret).at(now), now=now, pending=False)
    credential.last_used_step = None
    db.session.commit()
    return user.id, user.email, secret


def wrong(secret: str) -> str:
    return "000000" if pyotp.TOTP(secret).at(clock.utcnow()) != "000000" else "111111"


def main_thread_browser(app):
    """A client for this thread, where the test's app context is pushed: every request with an empty `g`."""
    return IsolatedClient(app, app.response_class, use_cookies=True)


def same_browser(app, client, copies: int) -> list:
    """`copies` test clients holding `client`'s session cookie: one browser's tabs (or a script's threads)."""
    cookie = client.get_cookie("session")
    clients = []
    for _ in range(copies):
        copy = app.test_client()
        copy.set_cookie("session", cookie.value)
        clients.append(copy)
    return clients


def post_together(clients, url: str, data: dict) -> list[int]:
    def task(client):
        def run(barrier):
            barrier.wait(WAIT)
            return client.post(url, data=data).status_code

        return run

    return release_together([task(c) for c in clients])


def checked_codes() -> int:
    return db.session.scalar(select(func.count()).where(AuditEntry.action == "auth.mfa_failed"))


@pytest.mark.parametrize(
    ("limits", "checked", "refused_status"),
    [
        pytest.param({"MFA_SLOWDOWN_AFTER": 10**6, "MFA_LOCK_AFTER": 3}, 3, 403, id="lock"),
        pytest.param({"MFA_SLOWDOWN_AFTER": 2, "MFA_LOCK_AFTER": 10**6}, 2, 429, id="slowdown"),
    ],
)
def test_simultaneous_guesses_of_one_pending_login_stop_at_the_limit(shared_app, limits, checked, refused_status):
    shared_app.config.update(MFA_MAX_ATTEMPTS=10**6, **limits)
    user_id, email, secret = enrolled_user()
    browser = main_thread_browser(shared_app)
    assert post_form(browser, "/login", {"email": email, "password": factories.PASSWORD}).status_code == 302
    token = csrf_token_from(browser.get("/login/mfa").get_data(as_text=True))
    db.session.close()  # on SQLite an open transaction would hold the write lock

    statuses = post_together(
        same_browser(shared_app, browser, GUESSERS), "/login/mfa", {"csrf_token": token, "code": wrong(secret)}
    )

    assert sorted(statuses) == sorted([200] * checked + [refused_status] * (GUESSERS - checked)), statuses
    assert checked_codes() == checked
    assert db.session.get(MfaCredential, user_id).failed_codes == checked


def test_two_sessions_guessing_on_the_account_page_stop_at_the_lock(shared_app):
    """A logged-in user's two sessions (say, a stolen one) try to switch the second factor off with guesses."""
    shared_app.config.update(MFA_SLOWDOWN_AFTER=10**6, MFA_LOCK_AFTER=4)
    user_id, email, secret = enrolled_user()
    sessions = []
    for _ in range(2):
        browser = main_thread_browser(shared_app)
        post_form(browser, "/login", {"email": email, "password": factories.PASSWORD})
        assert post_form(browser, "/login/mfa", {"code": pyotp.TOTP(secret).at(clock.utcnow())}).status_code == 302
        with db.session.begin():  # the next session's login may use the same time-step's code
            db.session.get(MfaCredential, user_id).last_used_step = None
        token = csrf_token_from(browser.get("/account/mfa").get_data(as_text=True))
        sessions.append((browser, token))
    db.session.close()

    clients, tokens = [], []
    for browser, token in sessions:
        for copy in same_browser(shared_app, browser, GUESSERS // 2):
            clients.append(copy)
            tokens.append(token)

    def task(client, token):
        def run(barrier):
            barrier.wait(WAIT)
            return client.post("/account/mfa/disable", data={"csrf_token": token, "code": wrong(secret)}).status_code

        return run

    statuses = release_together([task(c, t) for c, t in zip(clients, tokens, strict=True)])

    assert statuses == [400] * GUESSERS, statuses  # wrong, or refused unchecked: both re-render the form
    assert checked_codes() == 4
    credential = db.session.get(MfaCredential, user_id)
    assert credential.failed_codes == 4 and credential.locked_at is not None
    assert credential.confirmed
