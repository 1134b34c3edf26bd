"""Login throttling: failed attempts per account (known or unknown email) and IP address, per account from all
addresses, and per IP address; the friendly 429 page and the way out through a password reset; password-reset
requests and password changes. The windows move on without sleeping."""

from __future__ import annotations

import pytest
from limits import parse

from app.extensions import limiter
from tests import factories
from tests.accounts.helpers import csrf_token, is_logged_in, link_in, outbox_rows
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


def test_the_limits_come_from_the_config(client, app, staff_member, limiter_time):
    app.config["LOGIN_LIMIT_PER_ACCOUNT_AND_IP"] = "2 per 1 minute"
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
        assert "Tjek din indbakke" in response.get_data(as_text=True)
    response = _post_json(client, "/password/forgot", {"email": staff_member.email})
    assert "Tjek din indbakke" not in response.get_data(as_text=True)


# --- issue 20: no lock-out of a named colleague, no lock-out of a town hall ------------------------------

ATTACKER = "203.0.113.66"
VICTIM = "198.51.100.10"
TOWN_HALL = "192.0.2.1"
NEW_PASSWORD = "blå hest under broen"
ACCOUNT_LOCKED = "Der har været for mange forkerte forsøg på at logge ind med denne e-mailadresse."
ADDRESS_LOCKED = "Der har været for mange forkerte forsøg på at logge ind fra den netværksadresse"


def limit_of(app, name):
    return parse(app.config[name])


def spread_failures(client, email, total, per_address):
    """`total` failed logins for `email`, `per_address` from each of as many addresses (a botnet)."""
    for n in range(total):
        fail(client, email, 1, ip=f"10.20.{n // per_address}.1")


def reset_password(client, user, ip, password=NEW_PASSWORD):
    """The owner asks for the link, opens it from the mail and chooses a new password, all from `ip`."""
    asked = post_form(client, "/password/forgot", {"email": user.email}, environ_base={"REMOTE_ADDR": ip})
    assert asked.status_code == 200 and "Tjek din indbakke" in asked.get_data(as_text=True)
    link = link_in(outbox_rows("password_reset")[-1], "/password/reset/")
    chosen = post_form(client, link, {"password": password, "confirm": password}, environ_base={"REMOTE_ADDR": ip})
    assert chosen.status_code == 302


def test_the_defaults_keep_one_address_below_the_account_ceiling(app):
    """One address, at the most the per-(account, address) limit lets it fail, must not reach the ceiling for the
    account from all addresses: otherwise anyone could lock a colleague out for everybody from one machine."""
    pair, ceiling = limit_of(app, "LOGIN_LIMIT_PER_ACCOUNT_AND_IP"), limit_of(app, "LOGIN_LIMIT_PER_ACCOUNT")
    most_from_one_address = pair.amount * -(-ceiling.get_expiry() // pair.get_expiry())
    assert most_from_one_address < ceiling.amount
    assert limit_of(app, "LOGIN_LIMIT_PER_IP").amount >= 100  # a town hall's NAT at 8:00 (docs/security.md)


def test_an_attacker_cannot_lock_a_colleague_out_from_elsewhere(client, staff_member, limiter_time):
    fail(client, staff_member.email, 5, ip=ATTACKER)
    refused = attempt(client, staff_member.email, factories.PASSWORD, ip=ATTACKER)
    assert refused.status_code == 429
    assert attempt(client, staff_member.email, factories.PASSWORD, ip=VICTIM).status_code == 302


def test_one_address_at_full_speed_never_locks_the_account_for_others(client, staff_member, limiter_time):
    """Five failures every quarter of an hour, for two hours, from one address: it is held to that pace, and the
    owner logs in from another address all the while."""
    for _ in range(8):
        fail(client, staff_member.email, 5, ip=ATTACKER)
        assert attempt(client, staff_member.email, "forkert-adgangskode", ip=ATTACKER).status_code == 429
        assert attempt(client, staff_member.email, factories.PASSWORD, ip=VICTIM).status_code == 302
        client.get("/")  # (a new login replaces the session each time)
        limiter_time.now += 15 * 60 + 1


def test_guessing_spread_over_many_addresses_is_bounded(client, app, staff_member, limiter_time):
    ceiling = limit_of(app, "LOGIN_LIMIT_PER_ACCOUNT")
    spread_failures(client, staff_member.email, ceiling.amount, per_address=5)
    refused = attempt(client, staff_member.email, factories.PASSWORD, ip="10.99.99.99")  # a fresh address
    assert refused.status_code == 429
    assert ACCOUNT_LOCKED in refused.get_data(as_text=True)
    assert attempt(client, staff_member.email, factories.PASSWORD, ip=VICTIM).status_code == 429
    limiter_time.now += ceiling.get_expiry() + 1
    assert attempt(client, staff_member.email, factories.PASSWORD, ip=VICTIM).status_code == 302


def test_unknown_emails_have_the_same_ceiling(client, app, limiter_time):
    ceiling = limit_of(app, "LOGIN_LIMIT_PER_ACCOUNT")
    spread_failures(client, "findes.ikke@test.dk", ceiling.amount, per_address=5)
    assert attempt(client, "findes.ikke@test.dk", "hvad-som-helst", ip="10.99.99.99").status_code == 429


def test_the_account_lock_page_tells_the_owner_the_way_out(client, staff_member):
    """(On the real clock, for the minutes.) Wait, or a new password through "Glemt adgangskode?"."""
    fail(client, staff_member.email, 5, ip=VICTIM)
    html = attempt(client, staff_member.email, factories.PASSWORD, ip=VICTIM).get_data(as_text=True)
    assert ACCOUNT_LOCKED in html
    assert "Prøv igen om 15 minutter." in html
    assert "vælg en ny adgangskode under »Glemt adgangskode?«" in html
    assert 'href="/password/forgot"' in html


def test_the_account_lock_page_in_english(client, staff_member, limiter_time):
    fail(client, staff_member.email, 5, ip=VICTIM)
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        data={"csrf_token": token, "email": staff_member.email, "password": "x"},
        headers={"Accept-Language": "en"},
        environ_base={"REMOTE_ADDR": VICTIM},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "too many wrong attempts to log in with this email address" in html
    assert "choose a new password under “Forgot your password?”" in html


def test_a_locked_out_owner_gets_in_through_a_password_reset(client, app, staff_member, limiter_time):
    """Locked from everywhere (the ceiling) and from their own address: the reset request is not blocked by
    the login lock, and the new password logs in at once."""
    spread_failures(client, staff_member.email, limit_of(app, "LOGIN_LIMIT_PER_ACCOUNT").amount - 5, per_address=5)
    fail(client, staff_member.email, 5, ip=VICTIM)
    assert attempt(client, staff_member.email, factories.PASSWORD, ip=VICTIM).status_code == 429
    assert attempt(client, staff_member.email, factories.PASSWORD, ip="10.99.99.99").status_code == 429
    reset_password(client, staff_member, VICTIM)
    assert attempt(client, staff_member.email, NEW_PASSWORD, ip=VICTIM).status_code == 302
    assert is_logged_in(client)


def test_a_reset_clears_the_owners_own_typos(client, staff_member, limiter_time):
    fail(client, staff_member.email, 5, ip=VICTIM)
    assert attempt(client, staff_member.email, factories.PASSWORD, ip=VICTIM).status_code == 429
    reset_password(client, staff_member, VICTIM)
    assert attempt(client, staff_member.email, NEW_PASSWORD, ip=VICTIM).status_code == 302


def test_the_owners_reset_does_not_lift_the_attackers_lock(client, staff_member, limiter_time):
    fail(client, staff_member.email, 5, ip=ATTACKER)
    reset_password(client, staff_member, VICTIM)
    assert attempt(client, staff_member.email, NEW_PASSWORD, ip=ATTACKER).status_code == 429
    assert attempt(client, staff_member.email, NEW_PASSWORD, ip=VICTIM).status_code == 302


def test_a_town_hall_behind_one_address_keeps_logging_in(client, app, limiter_time):
    """The municipality's NAT at 8:00: forty people behind one address mistype their password once or twice
    (sixty failures in a few minutes); everybody else there still logs in, and so do they."""
    people = [factories.make_user(email=f"medarbejder{i}@test.dk") for i in range(41)]
    for n, person in enumerate(people[:40]):
        fail(client, person.email, 1 + n % 2, ip=TOWN_HALL)
    assert attempt(client, people[40].email, factories.PASSWORD, ip=TOWN_HALL).status_code == 302
    client.get("/")
    assert attempt(client, people[0].email, factories.PASSWORD, ip=TOWN_HALL).status_code == 302


def test_failures_from_one_address_are_still_bounded(client, app, staff_member, limiter_time):
    """One address trying many accounts (or a town hall gone wrong) is stopped at LOGIN_LIMIT_PER_IP; the page
    says it is the address, where a new password does not help, and other addresses are not affected."""
    per_ip = limit_of(app, "LOGIN_LIMIT_PER_IP")
    for n in range(per_ip.amount):
        fail(client, f"gaet{n}@test.dk", 1, ip=TOWN_HALL)
    refused = attempt(client, staff_member.email, factories.PASSWORD, ip=TOWN_HALL)
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert ADDRESS_LOCKED in html and "En ny adgangskode hjælper ikke her" in html
    assert 'href="/password/forgot"' not in html
    assert attempt(client, staff_member.email, factories.PASSWORD, ip=VICTIM).status_code == 302
    limiter_time.now += per_ip.get_expiry() + 1
    assert attempt(client, staff_member.email, factories.PASSWORD, ip=TOWN_HALL).status_code == 302
