"""Login and logout: one generic failure message, inactive users refused, no open redirect, POST-only logout."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests import factories
from tests.accounts.helpers import is_logged_in
from tests.conftest import post_form

GENERIC = "Forkert e-mail eller adgangskode."


def login(client, email, password, url="/login"):
    return post_form(client, url, {"email": email, "password": password}, form_url="/login")


def test_login_redirects_home_and_the_user_is_logged_in(client, staff_member):
    response = login(client, "sara@test.dk", factories.PASSWORD)
    assert response.status_code == 302
    assert response.location == "/"
    assert is_logged_in(client)


def test_login_ignores_case_in_the_email(client, staff_member):
    response = login(client, "Sara@Test.DK", factories.PASSWORD)
    assert response.status_code == 302


def test_emails_are_stored_normalised_so_the_login_can_use_the_unique_index(client):
    """However an account got its email, it is stored stripped and lower-cased (Danish letters too), and the
    login finds it by `email = ?`, the unique index, whatever case is typed."""
    user = factories.make_user(email="  Ærø.Hansen@Test.DK ")
    assert user.email == "ærø.hansen@test.dk"
    user.email = "ÅSE@test.dk"
    db.session.commit()
    assert db.session.get(type(user), user.id).email == "åse@test.dk"
    assert login(client, "Åse@Test.dk", factories.PASSWORD).status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_message(client, staff_member):
    wrong_password = login(client, "sara@test.dk", "not-the-password").get_data(as_text=True)
    unknown_email = login(client, "nobody@test.dk", "not-the-password").get_data(as_text=True)
    assert GENERIC in wrong_password
    assert GENERIC in unknown_email
    assert "findes ikke" not in unknown_email
    assert not is_logged_in(client)


def test_inactive_user_cannot_log_in(client):
    factories.make_user(email="inaktiv@test.dk", active=False)
    response = login(client, "inaktiv@test.dk", factories.PASSWORD)
    assert response.status_code == 200
    assert GENERIC in response.get_data(as_text=True)
    assert not is_logged_in(client)


def test_user_without_password_cannot_log_in(client):
    factories.make_user(email="importeret@test.dk", password=None)
    response = login(client, "importeret@test.dk", "any-password-at-all")
    assert GENERIC in response.get_data(as_text=True)


def test_deactivated_user_is_logged_out_on_next_request(client, staff_member):
    login(client, "sara@test.dk", factories.PASSWORD)
    staff_member.active = False
    db.session.commit()
    assert not is_logged_in(client)


def test_empty_form_shows_messages_at_the_fields(client):
    response = post_form(client, "/login", {"email": "", "password": ""})
    html = response.get_data(as_text=True)
    assert "Skriv din e-mailadresse." in html
    assert "Skriv din adgangskode." in html


def test_local_next_is_followed(client, coordinator):
    response = login(client, coordinator.email, factories.PASSWORD, url="/login?next=/users")
    assert response.location == "/users"


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example", "//evil.example/users", "/\\evil.example", "javascript:x"]
)
def test_foreign_next_is_ignored(client, staff_member, target):
    response = post_form(
        client,
        "/login",
        {"email": "sara@test.dk", "password": factories.PASSWORD},
        form_url="/login",
        query_string={"next": target},
    )
    assert response.status_code == 302
    assert response.location == "/"


def test_login_without_csrf_is_400(client, staff_member):
    response = client.post("/login", data={"email": "sara@test.dk", "password": factories.PASSWORD})
    assert response.status_code == 400


def test_logout_needs_post(client, login_as, staff_member):
    login_as(staff_member)
    assert client.get("/logout").status_code == 405


def test_logout_without_csrf_is_400_and_keeps_the_session(client, login_as, staff_member):
    login_as(staff_member)
    assert client.post("/logout").status_code == 400
    assert is_logged_in(client)


def test_logout_ends_the_session(client, login_as, staff_member):
    login_as(staff_member)
    response = post_form(client, "/logout", form_url="/accessibility-statement")
    assert response.status_code == 302
    assert response.location == "/login"
    assert "Du er logget af." in client.get("/login").get_data(as_text=True)
    after = client.get("/runs")
    assert after.status_code == 302
    assert after.location.startswith("/login")
