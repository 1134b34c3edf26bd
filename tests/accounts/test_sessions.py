"""Sessions: rotated at login, ended server-side through users.session_version (log out everywhere, password
change or reset, deactivation), idle and absolute timeouts on the clock seam, cookie flags."""

from __future__ import annotations

from flask import session

from app import create_app
from app.accounts.models import User
from app.accounts.signin.sessions import VERSION_KEY
from app.extensions import db
from config import ProductionConfig
from tests import factories
from tests.accounts.helpers import audit_actions, is_logged_in
from tests.conftest import post_action, post_form
from tests.production_settings import GOOD_SECRET, single_process

LOGGED_OUT = "Du er blevet logget af. Log ind igen for at fortsætte."


def second_browser(app, user):
    other = app.test_client()
    response = post_form(other, "/login", {"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302
    return other


def test_login_rotates_the_session(client, staff_member):
    client.get("/login")
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
    post_form(client, "/login", {"email": staff_member.email, "password": factories.PASSWORD})
    with client.session_transaction() as after:
        assert "planted" not in after
        assert after[VERSION_KEY] == 0
        assert after["auth_method"] == "password"


def test_login_and_failure_are_audited_without_secrets(client, staff_member):
    post_form(client, "/login", {"email": staff_member.email, "password": "forkert-adgangskode"})
    post_form(client, "/login", {"email": "ukendt@test.dk", "password": "forkert-adgangskode"})
    post_form(client, "/login", {"email": staff_member.email, "password": factories.PASSWORD})
    entries = audit_actions()
    assert [e.action for e in entries] == ["auth.login_failed", "auth.login_failed", "auth.login"]
    known, unknown, ok = entries
    assert known.subject_id == staff_member.id and known.actor_id is None
    assert unknown.subject_id is None and unknown.object_id is None
    assert ok.actor_id == staff_member.id and ok.details == {"method": "password"}
    text = repr([(e.details, e.object_type) for e in entries])
    assert "ukendt@test.dk" not in text and "forkert" not in text


def test_logout_ends_every_session_of_the_user(app, client, login_as, staff_member, coordinator):
    login_as(staff_member)
    other = second_browser(app, staff_member)
    someone_else = second_browser(app, coordinator)
    cookie = client.get_cookie("session").value
    post_action(client, "/logout", from_url="/me/courses")
    assert not is_logged_in(client)
    assert not is_logged_in(other)
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    assert not is_logged_in(thief), "a copy of the cookie dies with the logout"
    assert is_logged_in(someone_else), "other users stay logged in"
    assert [e.action for e in audit_actions()][-1] == "auth.logout"


def test_log_out_everywhere_ends_every_session(app, client, login_as, staff_member):
    login_as(staff_member)
    other = second_browser(app, staff_member)
    response = post_action(client, "/account/logout-everywhere", from_url="/account")
    assert response.status_code == 302 and response.location == "/login"
    assert not is_logged_in(client)
    assert not is_logged_in(other)
    page = other.get("/login").get_data(as_text=True)
    assert LOGGED_OUT in page
    assert "auth.logout_everywhere" in [e.action for e in audit_actions()]
    # logging in again works
    assert is_logged_in(second_browser(app, staff_member))


def test_a_copied_cookie_is_dead_after_log_out_everywhere(app, client, login_as, staff_member):
    login_as(staff_member)
    cookie = client.get_cookie("session").value
    post_action(client, "/account/logout-everywhere", from_url="/account")
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    assert not is_logged_in(thief)


def test_deactivating_a_user_ends_their_sessions(app, client, login_as, coordinator, staff_member):
    victim = second_browser(app, staff_member)
    login_as(coordinator)
    post_form(
        client,
        f"/users/{staff_member.id}/edit",
        {
            "name": staff_member.name,
            "email": staff_member.email,
            "access_level": "staff",
            "staff_role_id": "",
            "unit_id": "",
            "provider_id": "",
            "password": "",
        },
    )
    db.session.refresh(staff_member)
    assert staff_member.active is False
    assert staff_member.session_version == 1
    # reactivated at once: the old session still doesn't come back
    staff_member.active = True
    db.session.commit()
    assert not is_logged_in(victim)
    entry = audit_actions("user.deactivate")[0]
    assert entry.actor_id == coordinator.id and entry.subject_id == staff_member.id


def test_a_coordinator_setting_a_password_ends_the_users_sessions(app, client, login_as, coordinator, staff_member):
    victim = second_browser(app, staff_member)
    login_as(coordinator)
    post_form(
        client,
        f"/users/{staff_member.id}/edit",
        {
            "name": staff_member.name,
            "email": staff_member.email,
            "access_level": "staff",
            "active": "y",
            "staff_role_id": "",
            "unit_id": "",
            "provider_id": "",
            "password": "blå hest under broen",
        },
    )
    assert not is_logged_in(victim)
    assert "auth.password_set" in [e.action for e in audit_actions()]


def test_an_idle_session_ends(client, login_as, staff_member, fake_clock):
    login_as(staff_member)
    fake_clock.advance(minutes=59)
    assert is_logged_in(client)
    fake_clock.advance(minutes=59)  # active a minute ago: the idle clock restarted then
    assert is_logged_in(client)
    fake_clock.advance(minutes=60)
    response = client.get("/me/courses")
    assert response.status_code == 302 and response.location.startswith("/login")
    html = client.get(response.location).get_data(as_text=True)
    assert "Du er blevet logget af, fordi du ikke har brugt Kursusportalen i 60 minutter." in html
    assert not is_logged_in(client)


def test_the_idle_timeout_is_configurable(app, client, login_as, staff_member, fake_clock):
    app.config["SESSION_IDLE_MINUTES"] = 5
    login_as(staff_member)
    fake_clock.advance(minutes=5)
    assert not is_logged_in(client)


def test_a_session_ends_after_the_maximum_hours_however_active(client, login_as, staff_member, fake_clock):
    login_as(staff_member)
    for _ in range(23):
        fake_clock.advance(minutes=30)
        assert is_logged_in(client)
    fake_clock.advance(minutes=30)  # 12 hours after the login
    response = client.get("/me/courses")
    assert response.status_code == 302
    html = client.get("/login").get_data(as_text=True)
    assert "Du er blevet logget af, fordi du har været logget ind i 12 timer." in html


def test_a_session_without_the_stamps_is_not_trusted(client, login_as, staff_member):
    login_as(staff_member)
    with client.session_transaction() as sess:
        del sess["login_at"]
    assert not is_logged_in(client)


def test_public_pages_work_after_a_timeout(client, login_as, staff_member, fake_clock):
    login_as(staff_member)
    fake_clock.advance(hours=2)
    response = client.get("/accessibility-statement")
    assert response.status_code == 200
    assert "Du er blevet logget af" in response.get_data(as_text=True)


def test_the_version_is_raised_in_sql(app, staff_member):
    from app.accounts.signin.sessions import end_all_sessions

    end_all_sessions(staff_member)
    end_all_sessions(staff_member)
    db.session.commit()
    assert db.session.get(User, staff_member.id).session_version == 2


def test_cookie_flags_in_development_and_testing(app, client, staff_member):
    response = post_form(client, "/login", {"email": staff_member.email, "password": factories.PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


def test_production_cookies_are_secure_httponly_and_lax(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", GOOD_SECRET)
    single_process(monkeypatch, ProductionConfig)
    monkeypatch.setattr(ProductionConfig, "SQLALCHEMY_DATABASE_URI", "sqlite://")
    monkeypatch.setattr(ProductionConfig, "ALLOW_SQLITE", True)  # a trial installation's exception
    monkeypatch.setattr(ProductionConfig, "SMTP_URL", "smtp://mail.example:25")
    monkeypatch.setattr(ProductionConfig, "SCHEDULER", "off")
    monkeypatch.setattr(ProductionConfig, "LOG_FORMAT", "text")  # JSON logging would rewire the root logger
    prod = create_app(ProductionConfig)
    for prefix in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
        assert prod.config[f"{prefix}_SECURE"] is True
        assert prod.config[f"{prefix}_HTTPONLY"] is True
        assert prod.config[f"{prefix}_SAMESITE"] == "Lax"
    with prod.test_request_context("/"):
        session["x"] = 1
        response = prod.make_response("ok")
        prod.session_interface.save_session(prod, session, response)
        cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
