"""Staff roles (stillingsbetegnelser): list with usage, create, rename, delete only when unused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.models import StaffRole
from app.extensions import db
from tests import factories
from tests.accounts.helpers import csrf_token
from tests.conftest import post_form


def role_count() -> int:
    return db.session.scalar(select(func.count()).select_from(StaffRole))


def test_list_shows_names_english_names_and_user_counts(as_coordinator):
    role = factories.make_staff_role("Sagsbehandler", name_en="Caseworker")
    factories.make_staff_role("Hjemmevejleder")
    for _ in range(3):
        factories.make_user(staff_role=role)
    html = as_coordinator.get("/staff-roles").get_data(as_text=True)
    assert "Sagsbehandler" in html and "Caseworker" in html and "Hjemmevejleder" in html
    assert "<td>3</td>" in html
    assert html.index("Hjemmevejleder") < html.index("Sagsbehandler")  # alphabetical


def test_empty_list_says_what_to_do(as_coordinator):
    html = as_coordinator.get("/staff-roles").get_data(as_text=True)
    assert "Der er ingen stillingsbetegnelser endnu" in html
    assert 'href="/staff-roles/new"' in html


def test_settings_links_to_staff_roles(as_coordinator):
    assert 'href="/staff-roles"' in as_coordinator.get("/settings").get_data(as_text=True)


def test_create(as_coordinator):
    response = post_form(as_coordinator, "/staff-roles/new", {"name": "  Ungemedarbejder ", "name_en": "Youth worker"})
    assert response.status_code == 302
    role = db.session.scalar(select(StaffRole))
    assert (role.name, role.name_en) == ("Ungemedarbejder", "Youth worker")
    assert "Stillingsbetegnelsen Ungemedarbejder er oprettet." in as_coordinator.get(response.location).get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Skriv stillingsbetegnelsens navn."),
        ("   ", "Skriv stillingsbetegnelsens navn."),
        ("x" * 121, "Skriv højst 120 tegn."),
        ("sagsbehandler", "Der findes allerede en stillingsbetegnelse med det navn."),
    ],
)
def test_create_bad_input_shows_message_at_field(as_coordinator, name, message):
    factories.make_staff_role("Sagsbehandler")
    response = post_form(as_coordinator, "/staff-roles/new", {"name": name})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html
    assert 'class="form-error-message" id="name-error"' in html
    assert role_count() == 1


def test_edit(as_coordinator):
    role = factories.make_staff_role("Socialrådgiver")
    response = post_form(as_coordinator, f"/staff-roles/{role.id}/edit", {"name": "Skolesocialrådgiver", "name_en": ""})
    assert response.status_code == 302
    db.session.refresh(role)
    assert role.name == "Skolesocialrådgiver"
    assert role.name_en is None


def test_edit_keeping_own_name_is_allowed_but_taking_anothers_is_not(as_coordinator):
    role = factories.make_staff_role("Sagsbehandler")
    other = factories.make_staff_role("Hjemmevejleder")
    assert post_form(as_coordinator, f"/staff-roles/{role.id}/edit", {"name": "Sagsbehandler"}).status_code == 302
    response = post_form(as_coordinator, f"/staff-roles/{other.id}/edit", {"name": "SAGSBEHANDLER"})
    assert "Der findes allerede en stillingsbetegnelse med det navn." in response.get_data(as_text=True)
    db.session.refresh(other)
    assert other.name == "Hjemmevejleder"


def test_unknown_role_is_404(as_coordinator):
    assert as_coordinator.get("/staff-roles/999/edit").status_code == 404
    assert post_form(as_coordinator, "/staff-roles/999/delete", form_url="/staff-roles").status_code == 404


def test_delete_unused(as_coordinator):
    role = factories.make_staff_role("Forældet")
    response = post_form(as_coordinator, f"/staff-roles/{role.id}/delete", form_url="/staff-roles")
    assert response.status_code == 302
    assert role_count() == 0
    assert "Stillingsbetegnelsen Forældet er slettet." in as_coordinator.get("/staff-roles").get_data(as_text=True)


def test_delete_refused_while_a_user_holds_it(as_coordinator):
    role = factories.make_staff_role("Sagsbehandler")
    factories.make_user(staff_role=role)
    response = post_form(as_coordinator, f"/staff-roles/{role.id}/delete", form_url="/staff-roles")
    assert response.status_code == 302
    html = as_coordinator.get("/staff-roles").get_data(as_text=True)
    assert "kan ikke slettes" in html and "brugere: 1, kursusforløb: 0" in html
    assert role_count() == 1


def test_delete_refused_while_a_course_run_is_open_to_it(as_coordinator):
    role = factories.make_staff_role("Hjemmevejleder")
    factories.make_course_run(eligible_roles=[role])
    post_form(as_coordinator, f"/staff-roles/{role.id}/delete", form_url="/staff-roles")
    html = as_coordinator.get("/staff-roles").get_data(as_text=True)
    assert "kan ikke slettes" in html and "brugere: 0, kursusforløb: 1" in html
    assert role_count() == 1


def test_posts_without_csrf_are_400(as_coordinator):
    role = factories.make_staff_role()
    assert as_coordinator.post("/staff-roles/new", data={"name": "X"}).status_code == 400
    assert as_coordinator.post(f"/staff-roles/{role.id}/edit", data={"name": "X"}).status_code == 400
    assert as_coordinator.post(f"/staff-roles/{role.id}/delete").status_code == 400
    assert role_count() == 1


@pytest.mark.parametrize("who", ["staff_member", "provider_user"])
def test_other_levels_are_forbidden(client, login_as, request, who):
    role = factories.make_staff_role()
    login_as(request.getfixturevalue(who))
    for url in ("/staff-roles", "/staff-roles/new", f"/staff-roles/{role.id}/edit"):
        assert client.get(url).status_code == 403, url
    token = csrf_token(client)
    assert client.post(f"/staff-roles/{role.id}/delete", data={"csrf_token": token}).status_code == 403
    assert client.post("/staff-roles/new", data={"csrf_token": token, "name": "X"}).status_code == 403
    assert role_count() == 1


def test_anonymous_is_sent_to_login(client):
    role = factories.make_staff_role()
    for url in ("/staff-roles", "/staff-roles/new", f"/staff-roles/{role.id}/edit"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.location.startswith("/login")
