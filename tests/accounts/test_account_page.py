"""The account page: who you are, changing your password (current one required, policy applied, other
sessions ended, this one kept), log out everywhere; linked from the header for every access level."""

from __future__ import annotations

import pytest

from app.accounts.models import User
from app.extensions import db
from tests import factories
from tests.accounts.helpers import audit_actions, csrf_token, is_logged_in, mail_text, outbox_rows
from tests.conftest import post_action, post_form

NEW = "blå hest under broen"


def change(client, current=factories.PASSWORD, new=NEW, confirm=None):
    data = {"current_password": current, "new_password": new, "confirm": confirm or new}
    return post_form(client, "/account/password", data, form_url="/account")


@pytest.mark.parametrize("who", ["coordinator", "staff_member", "provider_user"])
def test_every_access_level_has_the_page_and_the_header_link(request, client, login_as, who):
    user = request.getfixturevalue(who)
    login_as(user)
    response = client.get("/account")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert user.name in html and user.email in html
    assert 'href="/account"' in html
    assert 'action="/account/logout-everywhere"' in html


def test_the_page_shows_role_unit_and_provider(client, login_as, provider_user):
    login_as(provider_user)
    html = client.get("/account").get_data(as_text=True)
    assert "Udbyder" in html and "Familien i Centrum" in html


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get("/account")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_changing_the_password_keeps_this_session_and_ends_the_others(app, client, login_as, staff_member):
    login_as(staff_member)
    other = app.test_client()
    post_form(other, "/login", {"email": staff_member.email, "password": factories.PASSWORD})
    response = change(client)
    assert response.status_code == 302 and response.location == "/account"
    assert "Din adgangskode er skiftet" in client.get("/account").get_data(as_text=True)
    assert is_logged_in(client)
    assert not is_logged_in(other)
    user = db.session.get(User, staff_member.id)
    assert user.check_password(NEW) and not user.check_password(factories.PASSWORD)
    assert [e.action for e in audit_actions("auth.password_changed")] == ["auth.password_changed"]
    notice = outbox_rows("password_changed")
    assert [row.recipient_email for row in notice] == [staff_member.email]
    assert notice[0].subject == "Din adgangskode er skiftet"
    assert "/password/forgot" in mail_text(notice[0])


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("forkert-adgangskode", NEW, NEW, "Den nuværende adgangskode er forkert."),
        (factories.PASSWORD, "kort", "kort", "Adgangskoden skal være på mindst 12 tegn."),
        (factories.PASSWORD, "password1234", "password1234", "Adgangskoden er for let at gætte."),
        (factories.PASSWORD, NEW, NEW + "x", "De to adgangskoder er ikke ens."),
        (factories.PASSWORD, factories.PASSWORD, factories.PASSWORD, "skal være en anden end den nuværende"),
        ("", NEW, NEW, "Skriv din nuværende adgangskode."),
    ],
)
def test_bad_input_is_shown_at_the_field_and_nothing_changes(
    client, login_as, staff_member, current, new, confirm, message
):
    login_as(staff_member)
    old_hash, old_version = staff_member.password_hash, staff_member.session_version
    response = change(client, current, new, confirm)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    user = db.session.get(User, staff_member.id)
    assert (user.password_hash, user.session_version) == (old_hash, old_version)
    assert outbox_rows("password_changed") == []
    assert is_logged_in(client)


def test_the_forms_need_csrf(client, login_as, staff_member):
    login_as(staff_member)
    response = client.post(
        "/account/password",
        data={
            "current_password": factories.PASSWORD,
            "new_password": NEW,
            "confirm": NEW,
        },
    )
    assert response.status_code == 400
    assert client.post("/account/logout-everywhere").status_code == 400
    assert is_logged_in(client)


def test_the_pages_are_get_safe(client, login_as, staff_member):
    login_as(staff_member)
    assert client.get("/account/logout-everywhere").status_code == 405
    assert client.get("/logout").status_code == 405
    assert is_logged_in(client)


def test_log_out_everywhere_from_the_page(client, login_as, coordinator):
    login_as(coordinator)
    response = post_action(client, "/account/logout-everywhere", from_url="/account")
    assert response.location == "/login"
    assert "Du er logget af alle steder" in client.get("/login").get_data(as_text=True)
    assert db.session.get(User, coordinator.id).session_version == 1


def test_logout_still_works_and_is_audited(client, login_as, staff_member):
    login_as(staff_member)
    token = csrf_token(client, "/account")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not is_logged_in(client)
    assert audit_actions("auth.logout")[0].actor_id == staff_member.id
