"""Production's session and remember-me cookies carry the `__Host-` prefix (ASVS 5.0 V3, cookie setup): a
browser accepts such a cookie only with Secure, Path=/ and no Domain, so a subdomain or a plain-HTTP page of the
same host cannot plant or overwrite it (config.py, ProductionConfig)."""

from __future__ import annotations

from flask import session

from app.extensions import login_manager
from tests import factories
from tests.conftest import csrf_token_from
from tests.security.test_headers import production_client, set_cookies  # noqa: F401 (fixture)

HTTPS = {"base_url": "https://kursus.example", "headers": {"Referer": "https://kursus.example/"}}  # CSRF's SSL check


def _attributes(set_cookie: str) -> dict[str, str]:
    """The attributes of one Set-Cookie header, lower-cased names: {"secure": "", "path": "/", ...}."""
    attributes = {}
    for part in set_cookie.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        attributes[name.lower()] = value
    return attributes


def assert_host_prefixed(set_cookie: str) -> None:
    name = set_cookie.split("=", 1)[0]
    attributes = _attributes(set_cookie)
    assert name.startswith("__Host-"), set_cookie
    assert "secure" in attributes and attributes.get("path") == "/" and "domain" not in attributes, set_cookie
    assert "httponly" in attributes and attributes.get("samesite") == "Lax", set_cookie


def test_the_production_session_cookie_is_host_prefixed(production_client):  # noqa: F811
    client = production_client
    user = factories.make_user(access_level="staff", email="vaert@test.dk")
    page = client.get("/login", base_url=HTTPS["base_url"])
    assert_host_prefixed(set_cookies(page)["__Host-session"])  # the anonymous session (CSRF token) too
    response = client.post(
        "/login",
        **HTTPS,
        data={
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            "email": user.email,
            "password": factories.PASSWORD,
        },
    )
    assert response.status_code == 302
    cookies = set_cookies(response)
    assert "session" not in cookies
    assert_host_prefixed(cookies["__Host-session"])
    # The browser sends it back, and the session holds.
    assert client.get("/me/courses", base_url=HTTPS["base_url"]).status_code == 200


def test_the_production_remember_cookie_would_be_host_prefixed(production_client):  # noqa: F811
    """The login form offers no "remember me"; should it ever, Flask-Login's cookie has the prefix as well."""
    app = production_client.application
    with app.test_request_context("/", base_url=HTTPS["base_url"]):
        session["_user_id"], session["_remember"] = "1", "set"  # what login_user(remember=True) leaves
        response = app.make_response("ok")
        login_manager._update_remember_cookie(response)
        assert_host_prefixed(set_cookies(response)["__Host-remember_token"])


def test_development_and_tests_keep_plain_names(app):
    """`__Host-` needs HTTPS: `flask run` on http://127.0.0.1 keeps the unprefixed names."""
    assert app.config["SESSION_COOKIE_NAME"] == "session"
