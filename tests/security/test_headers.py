"""app.core.security: the security headers on every kind of response, Cache-Control per kind, HSTS only in
production, the CSP overridable, and the cookies' attributes in production."""

from __future__ import annotations

from datetime import date

import pytest

from app import create_app
from app.core.access import public
from app.extensions import db
from config import DEFAULT_CONTENT_SECURITY_POLICY, ProductionConfig
from tests import factories
from tests.conftest import IsolatedClient, csrf_token_from, post_form
from tests.databases import private_database_url
from tests.production_settings import GOOD_SECRET, single_process

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
}


def directives(csp: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in csp.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def assert_security_headers(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name
    csp = directives(response.headers["Content-Security-Policy"])
    for name, value in CSP_DIRECTIVES.items():
        assert csp.get(name) == value, name
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]


@pytest.fixture
def run(app, fic_provider):
    return factories.make_course_run(
        provider=fic_provider, days=(date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))
    )


@pytest.mark.parametrize(
    "url, status",
    [
        ("/login", 200),
        ("/accessibility-statement", 200),
        ("/healthz", 200),
        ("/static/css/app.css", 200),
        ("/static/js/app.js", 200),
        ("/no-such-page", 404),
        ("/runs", 302),  # anonymous: to the login
    ],
)
def test_every_anonymous_response_carries_the_headers(client, url, status):
    response = client.get(url)
    response.close()
    assert response.status_code == status
    assert_security_headers(response)
    assert "Strict-Transport-Security" not in response.headers  # not outside production


def test_a_refused_csrf_post_and_a_405_carry_them_too(client):
    response = client.post("/login", data={"email": "a@b.dk", "password": "x"})
    assert response.status_code == 400
    assert_security_headers(response)
    response = client.delete("/login")
    assert response.status_code == 405
    assert_security_headers(response)


@pytest.mark.own_app  # adds a route: needs an app that has served no request yet
def test_a_500_error_page_carries_them_and_is_not_stored(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @public
    def broken():
        raise RuntimeError("boom")

    app.add_url_rule("/test-broken", "test_broken", broken)
    response = app.test_client().get("/test-broken")
    assert response.status_code == 500
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_a_403_page_for_a_logged_in_user_carries_them(client, login_as, staff_member):
    login_as(staff_member)
    response = client.get("/settings")
    assert response.status_code == 403
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("who", ["coordinator", "staff_member", "provider_user"])
def test_logged_in_pages_are_never_stored(request, client, login_as, who, run):
    user = login_as(request.getfixturevalue(who))
    own_pages = ["/me/courses"] if user.is_staff else [f"/runs/{run.id}"]
    for url in ("/runs", "/accessibility-statement", *own_pages):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
        assert_security_headers(response)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
def test_participant_lists_keep_their_own_no_store(client, login_as, coordinator, run, fmt):
    login_as(coordinator)
    response = client.get(f"/runs/{run.id}/participants.{fmt}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store, private"
    assert_security_headers(response)


def test_the_calendar_feed_keeps_private_revalidated_caching(client, login_as, staff_member):
    login_as(staff_member)
    post_form(client, "/me/calendar-token", {}, form_url="/me/courses")
    db.session.refresh(staff_member)
    response = client.get(f"/calendar/{staff_member.calendar_token}.ics")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private"
    assert_security_headers(response)


def test_static_files_keep_werkzeugs_caching(client):
    response = client.get("/static/css/app.css")
    response.close()
    assert "no-store" not in response.headers.get("Cache-Control", "")


@pytest.mark.own_app  # adds a route: needs an app that has served no request yet
def test_a_view_may_set_its_own_header_values(app):
    @public
    def framed():
        from flask import make_response

        response = make_response("ok")
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    app.add_url_rule("/test-framed", "test_framed", framed)
    response = app.test_client().get("/test-framed")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


class _Production(ProductionConfig):
    """Production settings on the test database."""

    SECRET_KEY = GOOD_SECRET
    ALLOW_SQLITE = True  # the SQLite pass of the tests; production refuses SQLite otherwise
    SMTP_URL = "smtp://mail.invalid:25"  # required in production; nothing is sent in these tests
    LOG_FORMAT = "text"  # JSON logging would rewire the root logger for every later test
    SCHEDULER = "off"
    TESTING = True


@pytest.fixture
def production_client(monkeypatch):
    # A database of its own (the suite's schema lives for the whole session); validate() asks for DATABASE_URL.
    url = private_database_url("_production")
    monkeypatch.setenv("DATABASE_URL", url)
    config = type("ProductionHere", (_Production,), {"SQLALCHEMY_DATABASE_URI": url})
    single_process(monkeypatch, config)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.drop_all()
        db.create_all()
        yield app.test_client()
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_production_sends_hsts_for_a_year_on_every_response(production_client):
    for url in ("/login", "/static/css/app.css", "/no-such-page"):
        response = production_client.get(url, base_url="https://kursus.example")
        response.close()
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains", url
        assert_security_headers(response)


def test_hsts_follows_the_setting(app):
    app.config["HSTS_SECONDS"] = 600
    response = app.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=600; includeSubDomains"


def test_the_csp_can_be_replaced_by_configuration(app):
    assert app.config["CONTENT_SECURITY_POLICY"] == DEFAULT_CONTENT_SECURITY_POLICY
    app.config["CONTENT_SECURITY_POLICY"] = "default-src 'none'"
    assert app.test_client().get("/login").headers["Content-Security-Policy"] == "default-src 'none'"


def set_cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_production_cookies_are_secure_httponly_and_lax(production_client):
    client = production_client
    user = factories.make_user(access_level="staff", email="sikker@test.dk")
    page = client.get("/login", base_url="https://kursus.example")
    https = {"base_url": "https://kursus.example", "headers": {"Referer": "https://kursus.example/"}}  # CSRF SSL check
    response = client.post(
        "/login",
        **https,
        data={
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            "email": user.email,
            "password": factories.PASSWORD,
        },
    )
    assert response.status_code == 302
    session_cookie = set_cookies(response)["__Host-session"]  # the prefix: tests/security/test_host_cookies.py
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax"):
        assert attribute in session_cookie
    page = client.get("/runs", base_url="https://kursus.example")
    response = client.post(
        "/language",
        **https,
        data={"csrf_token": csrf_token_from(page.get_data(as_text=True)), "lang": "en", "next": "/runs"},
    )
    lang_cookie = set_cookies(response)["lang"]
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax"):
        assert attribute in lang_cookie


def test_remember_cookie_settings(app):
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert ProductionConfig.REMEMBER_COOKIE_SECURE is True
    assert ProductionConfig.SESSION_COOKIE_SECURE is True


def test_the_language_switch_never_redirects_to_another_site(client):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    for target in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        response = client.post("/language", data={"csrf_token": token, "lang": "da", "next": target})
        assert response.status_code == 302
        assert response.location == "/", target
