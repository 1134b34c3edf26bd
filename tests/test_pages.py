"""Cross-cutting pages: language choice, error pages, health check, accessibility statement."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from app.extensions import db
from tests.conftest import post_form


def test_danish_is_the_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="da">' in html
    assert "Log ind" in html


def test_accept_language_decides_the_first_visit(client):
    html = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "<h1>Log in</h1>" in html


def test_language_choice_sticks_in_a_cookie(client):
    response = post_form(client, "/language", {"lang": "en", "next": "/login"}, form_url="/login")
    assert response.status_code == 302
    assert response.location == "/login"
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html


def test_language_choice_is_saved_on_the_profile(client, login_as, staff_member):
    login_as(staff_member)
    post_form(client, "/language", {"lang": "en", "next": "/runs"}, form_url="/accessibility-statement")
    db.session.refresh(staff_member)
    assert staff_member.locale == "en"


def test_language_switch_ignores_foreign_redirects_and_unknown_languages(client):
    response = post_form(client, "/language", {"lang": "xx", "next": "//evil.example/"}, form_url="/login")
    assert response.location == "/"
    assert '<html lang="da">' in client.get("/login").get_data(as_text=True)


def test_language_switch_needs_csrf(client):
    assert client.post("/language", data={"lang": "en"}).status_code == 400


def test_unknown_page_is_a_translated_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Siden findes ikke" in response.get_data(as_text=True)


def test_accessibility_statement_is_public_and_linked_from_footer(client):
    assert 'href="/accessibility-statement"' in client.get("/login").get_data(as_text=True)
    assert client.get("/accessibility-statement").status_code == 200


def test_healthz_answers_503_when_the_database_is_down(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unavailable"
