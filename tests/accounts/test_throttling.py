"""Login throttling: failed attempts per account (known or unknown email) and per IP address, the friendly
429 page, password-reset requests and password changes; the windows move on without sleeping."""

from __future__ import annotations

import pytest

from app.extensions import limiter
from tests import factories
from tests.accounts.helpers import csrf_token, is_logged_in
from tests.conftest import post_form

GENERIC = "Forkert e-mail eller adgangskode."
TOO_MANY = "For mange forsøg"


class FakeTime:
    """Stands in for the `time` module inside limits' in-memory storage: the limiter's clock."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def time(self) -> float:
        return self.now


@pytest.fixture
def limiter_time(monkeypatch):
    import limits.storage.memory

    fake = FakeTime()
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    return fake


def attempt(client, email, password, ip="10.0.0.1"):
    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"csrf_token": token, "email": email, "password": password}, environ_base={"REMOTE_ADDR": ip}
    )


def fail(client, email, times, ip="10.0.0.1"):
    for _ in range(times):
        response = attempt(client, email, "forkert-adgangskode", ip=ip)
        assert response.status_code == 200
        assert GENERIC in response.get_data(as_text=True)


def test_after_five_failures_even_the_right_password_is_refused(client, staff_member):
    """(On the real clock: the page says how long to wait, which the fake limiter clock would confuse.)"""
    fail(client, staff_member.email, 5)
    response = attempt(client, staff_member.email, factories.PASSWORD)
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert TOO_MANY in html
    assert "Prøv igen om 15 minutter." in html
    assert response.headers["Retry-After"]
    assert not is_logged_in(client)


def test_the_email_is_matched_case_insensitively(client, staff_member, limiter_time):
    fail(client, staff_member.email.upper(), 5)
    assert attempt(client, f"  {staff_member.email} ", factories.PASSWORD).status_code == 429


def test_other_accounts_are_not_affected(client, staff_member, coordinator, limiter_time):
    fail(client, staff_member.email, 5)
    assert attempt(client, staff_member.email, factories.PASSWORD).status_code == 429
    assert attempt(client, coordinator.email, factories.PASSWORD).status_code == 302


def test_unknown_emails_are_limited_the_same_way(client, limiter_time):
    """A limit that applied to real accounts only would tell an attacker which addresses exist."""
    fail(client, "findes.ikke@test.dk", 5)
    assert attempt(client, "findes.ikke@test.dk", "hvad-som-helst").status_code == 429


def test_the_limit_moves_on_after_the_window(client, staff_member, limiter_time):
    fail(client, staff_member.email, 5)
    assert attempt(client, staff_member.email, factories.PASSWORD).status_code == 429
    limiter_time.now += 14 * 60
    assert attempt(client, staff_member.email, factories.PASSWORD).status_code == 429
    limiter_time.now += 61
    assert attempt(client, staff_member.email, factories.PASSWORD).status_code == 302


def test_a_reset_of_the_storage_lifts_the_limit(client, staff_member, limiter_time):
    fail(client, staff_member.email, 5)
    assert attempt(client, staff_member.email, factories.PASSWORD).status_code == 429
    limiter.reset()
    assert attempt(client, staff_member.email, factories.PASSWORD).status_code == 302


def test_successful_logins_do_not_count(client, staff_member, limiter_time):
    for _ in range(8):
        assert attempt(client, staff_member.email, factories.PASSWORD).status_code == 302
        client.get("/")  # (a new login replaces the session each time)
    fail(client, staff_member.email, 4)
    assert attempt(client, staff_member.email, factories.PASSWORD).status_code == 302


def test_refused_attempts_do_not_extend_the_lock(client, staff_member, limiter_time):
    fail(client, staff_member.email, 5)
    for _ in range(10):
        assert attempt(client, staff_member.email, "forkert-adgangskode").status_code == 429
    limiter_time.now += 15 * 60 + 1
    assert attempt(client, staff_member.email, factories.PASSWORD).status_code == 302


def test_twenty_failures_from_one_address_block_that_address(client, app, limiter_time):
    users = [factories.make_user(email=f"person{i}@test.dk") for i in range(5)]
    for i in range(20):
        fail(client, users[i % 5].email if i < 4 else f"gaet{i}@test.dk", 1, ip="10.9.9.9")
    assert attempt(client, users[4].email, factories.PASSWORD, ip="10.9.9.9").status_code == 429
    assert attempt(client, users[4].email, factories.PASSWORD, ip="10.1.1.1").status_code == 302


def test_the_limits_come_from_the_config(client, app, staff_member, limiter_time):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "2 per 1 minute"
    fail(client, staff_member.email, 2)
    assert attempt(client, staff_member.email, factories.PASSWORD).status_code == 429
    limiter_time.now += 61
    assert attempt(client, staff_member.email, factories.PASSWORD).status_code == 302


def test_the_429_page_is_in_english_for_english_users(client, staff_member, limiter_time):
    fail(client, staff_member.email, 5)
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        data={"csrf_token": token, "email": staff_member.email, "password": "x"},
        headers={"Accept-Language": "en"},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert response.status_code == 429
    assert '<html lang="en">' in response.get_data(as_text=True)


def test_the_login_page_itself_is_never_limited(client, staff_member, limiter_time):
    fail(client, staff_member.email, 5)
    assert client.get("/login").status_code == 200


def test_password_reset_requests_are_limited_per_email(client, staff_member, limiter_time):
    for _ in range(3):
        response = post_form(client, "/password/forgot", {"email": staff_member.email})
        assert response.status_code == 200
    response = post_form(client, "/password/forgot", {"email": staff_member.email})
    assert response.status_code == 429
    assert TOO_MANY in response.get_data(as_text=True)
    assert post_form(client, "/password/forgot", {"email": "anden@test.dk"}).status_code == 200


def test_password_reset_requests_are_limited_per_address(client, limiter_time):
    for i in range(10):
        assert post_form(client, "/password/forgot", {"email": f"p{i}@test.dk"}).status_code == 200
    assert post_form(client, "/password/forgot", {"email": "p99@test.dk"}).status_code == 429


def test_wrong_current_passwords_on_the_account_page_are_limited(client, login_as, staff_member, limiter_time):
    login_as(staff_member)
    data = {
        "current_password": "forkert-adgangskode",
        "new_password": "blå hest under broen",
        "confirm": "blå hest under broen",
    }
    for _ in range(5):
        response = post_form(client, "/account/password", data, form_url="/account")
        assert response.status_code == 400
    data["current_password"] = factories.PASSWORD
    assert post_form(client, "/account/password", data, form_url="/account").status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_limited(monkeypatch, limiter_time):
    """PROXY_COUNT=1: the client address comes from X-Forwarded-For, so one client's failures
    don't lock out everybody behind the same proxy."""
    from app import create_app
    from app.extensions import db
    from config import TestingConfig
    from tests.databases import private_database_url

    class BehindProxy(TestingConfig):
        PROXY_COUNT = 1
        LOGIN_LIMIT_PER_IP = "3 per 5 minutes"
        #: Its own database: the suite's schema lives for the whole session.
        SQLALCHEMY_DATABASE_URI = private_database_url("_proxy")

    proxied = create_app(BehindProxy)
    with proxied.app_context():
        db.create_all()
        try:
            user = factories.make_user(email="bag.proxy@test.dk")
            client = proxied.test_client()

            def post(ip, email, password):
                token = csrf_token(client, "/login")
                return client.post(
                    "/login",
                    data={"csrf_token": token, "email": email, "password": password},
                    headers={"X-Forwarded-For": ip},
                )

            for i in range(3):
                assert post("192.0.2.7", f"x{i}@test.dk", "forkert").status_code == 200
            assert post("192.0.2.7", user.email, factories.PASSWORD).status_code == 429
            assert post("198.51.100.1", user.email, factories.PASSWORD).status_code == 302
        finally:
            db.session.remove()
            db.drop_all()
            db.engine.dispose()  # this app's own pool: no connection left for the garbage collector


def _post_json(client, url, payload, ip="10.0.0.1"):
    """A scripted client: the CSRF token in the X-CSRFToken header (which CSRFProtect accepts), the fields as JSON."""
    token = csrf_token(client, url)
    return client.post(url, json=payload, headers={"X-CSRFToken": token}, environ_base={"REMOTE_ADDR": ip})


def test_a_json_body_does_not_get_round_the_account_lock(client, staff_member, limiter_time):
    """The limits key on the form body; Flask-WTF would also read a JSON body, which the limiter never counted:
    after five failures the right password in JSON logged in. The login reads a form body only."""
    fail(client, staff_member.email, 5)
    response = _post_json(client, "/login", {"email": staff_member.email, "password": factories.PASSWORD})
    assert response.status_code != 302
    assert not is_logged_in(client)


def test_a_json_body_is_not_a_login_attempt(client, staff_member, limiter_time):
    for _ in range(6):  # nothing is looked up, nothing counted
        response = _post_json(client, "/login", {"email": staff_member.email, "password": "forkert-adgangskode"})
        assert response.status_code == 200 and GENERIC not in response.get_data(as_text=True)
    response = _post_json(client, "/login", {"email": staff_member.email, "password": factories.PASSWORD})
    assert response.status_code == 200 and not is_logged_in(client)
    assert attempt(client, staff_member.email, factories.PASSWORD).status_code == 302  # the form body works


def test_a_json_body_does_not_get_round_the_reset_limit(client, staff_member, limiter_time):
    for _ in range(3):
        response = post_form(client, "/password/forgot", {"email": staff_member.email})
        assert "Tjek din e-mail" in response.get_data(as_text=True)
    response = _post_json(client, "/password/forgot", {"email": staff_member.email})
    assert "Tjek din e-mail" not in response.get_data(as_text=True)
