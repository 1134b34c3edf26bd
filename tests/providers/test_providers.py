"""Providers: list, create, edit/deactivate, overview page, services and access (coordinator only)."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from sqlalchemy import func, select

from app.core.exceptions import Conflict
from app.extensions import db
from app.providers import services
from app.providers.models import Provider
from app.providers.services import ProviderData
from tests import factories
from tests.conftest import post_form

VALID = {
    "name": "Vilde Læreprocesser",
    "contact_name": "Peter Vilde",
    "contact_email": "Kontakt@Vilde.example",
    "contact_phone": "+45 12 34 56 78",
    "notes": "Netværksmøder i praksis.",
    "active": "y",
}


def field_error(page: str, field_id: str) -> str | None:
    """The error message shown next to the field `field_id` (the forms macro's markup), or None."""
    match = re.search(
        rf'<span class="form-error-message" id="{field_id}-error"><span class="sr-only">[^<]*</span>([^<]*)</span>',
        page,
    )
    return html_lib.unescape(match.group(1)) if match else None


def count_providers() -> int:
    return db.session.scalar(select(func.count()).select_from(Provider))


@pytest.fixture
def as_coordinator(client, login_as, coordinator):
    login_as(coordinator)
    return client


# --- list ---------------------------------------------------------------------------------------


def test_list_empty_state_links_to_create(as_coordinator):
    page = as_coordinator.get("/providers/").get_data(as_text=True)
    assert "Der er ingen udbydere endnu." in page
    assert 'href="/providers/new"' in page


def test_list_shows_contacts_status_and_user_count(as_coordinator, provider_user, fic_provider):
    fic_provider.contact_name = "Anne Holm"
    fic_provider.contact_email = "kontakt@fic.example"
    fic_provider.contact_phone = "33 12 34 56"
    factories.make_user(access_level="provider", provider=fic_provider)
    factories.make_provider(name="Nedlagt udbyder", active=False)

    page = as_coordinator.get("/providers/").get_data(as_text=True)

    row = re.search(
        rf'<tr>\s*<td><a href="/providers/{fic_provider.id}">Familien i Centrum</a>.*?</tr>', page, re.S
    ).group(0)
    assert "Anne Holm" in row and 'href="mailto:kontakt@fic.example"' in row and "33 12 34 56" in row
    assert "Aktiv" in row
    assert re.search(r"<td>2</td>\s*</tr>", row)  # provider_user and one more
    assert "Inaktiv" in page
    assert page.index("Familien i Centrum") < page.index("Nedlagt udbyder")  # active first


def test_list_ignores_a_non_numeric_page(as_coordinator, fic_provider):
    assert as_coordinator.get("/providers/?page=x").status_code == 200


# --- create and edit ----------------------------------------------------------------------------


def test_create_provider(as_coordinator):
    response = post_form(as_coordinator, "/providers/new", VALID)

    provider = db.session.scalar(select(Provider))
    assert response.status_code == 302
    assert response.location == f"/providers/{provider.id}"
    assert provider.name == "Vilde Læreprocesser"
    assert provider.contact_name == "Peter Vilde"
    assert provider.contact_email == "kontakt@vilde.example"
    assert provider.contact_phone == "+45 12 34 56 78"
    assert provider.notes == "Netværksmøder i praksis."
    assert provider.active is True
    assert "Udbyderen Vilde Læreprocesser er oprettet." in as_coordinator.get(response.location).get_data(as_text=True)


def test_create_with_only_a_name(as_coordinator):
    response = post_form(as_coordinator, "/providers/new", {"name": "  Ny udbyder  ", "active": "y"})
    assert response.status_code == 302
    provider = db.session.scalar(select(Provider))
    assert provider.name == "Ny udbyder"
    assert (provider.contact_name, provider.contact_email, provider.contact_phone, provider.notes) == (
        None,
        None,
        None,
        None,
    )


def test_new_provider_form_starts_active(as_coordinator):
    page = as_coordinator.get("/providers/new").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*id="active"|<input[^>]*id="active"[^>]*checked', page)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Skriv udbyderens navn."),
        ({"name": "   "}, "name", "Skriv udbyderens navn."),
        ({"name": "x" * 201}, "name", "Skriv højst 200 tegn."),
        ({"contact_name": "x" * 201}, "contact_name", "Skriv højst 200 tegn."),
        (
            {"contact_email": "ikke-en-adresse"},
            "contact_email",
            "Skriv en gyldig e-mailadresse, f.eks. kontakt@udbyder.dk.",
        ),
        ({"contact_phone": "1" * 41}, "contact_phone", "Skriv højst 40 tegn."),
        ({"notes": "x" * 5001}, "notes", "Skriv højst 5.000 tegn."),
    ],
)
def test_create_refuses_bad_input_next_to_the_field(as_coordinator, changes, field, message):
    response = post_form(as_coordinator, "/providers/new", {**VALID, **changes})

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert field_error(page, field) == message
    assert page.count(f'id="{field}-error"') == 1  # one message per problem
    assert count_providers() == 0


def test_create_refuses_a_duplicate_name_whatever_the_case(as_coordinator, fic_provider):
    response = post_form(as_coordinator, "/providers/new", {**VALID, "name": "familien i centrum"})

    assert response.status_code == 200
    assert field_error(response.get_data(as_text=True), "name") == (
        "Der findes allerede en udbyder med navnet familien i centrum."
    )
    assert count_providers() == 1


def test_edit_provider(as_coordinator, fic_provider):
    url = f"/providers/{fic_provider.id}/edit"
    assert 'value="Familien i Centrum"' in as_coordinator.get(url).get_data(as_text=True)

    response = post_form(as_coordinator, url, {**VALID, "name": "Familien i Centrum ApS"})

    assert response.status_code == 302
    db.session.refresh(fic_provider)
    assert (fic_provider.name, fic_provider.contact_name) == ("Familien i Centrum ApS", "Peter Vilde")


def test_deactivate_provider_keeps_it_but_offers_it_no_more(as_coordinator, fic_provider):
    programme = factories.make_programme()
    data = {key: value for key, value in VALID.items() if key != "active"}  # unchecked box: not sent
    data["name"] = fic_provider.name

    response = post_form(as_coordinator, f"/providers/{fic_provider.id}/edit", data)

    assert response.status_code == 302
    db.session.refresh(fic_provider)
    assert fic_provider.active is False
    assert "Inaktiv" in as_coordinator.get("/providers/").get_data(as_text=True)
    assert "Familien i Centrum" not in as_coordinator.get(f"/programmes/{programme.id}").get_data(as_text=True)


def test_edit_keeps_its_own_name_but_not_another_providers(as_coordinator, fic_provider):
    factories.make_provider(name="Vilde Læreprocesser")
    url = f"/providers/{fic_provider.id}/edit"
    assert post_form(as_coordinator, url, {**VALID, "name": "Familien i Centrum"}).status_code == 302

    response = post_form(as_coordinator, url, {**VALID, "name": "Vilde Læreprocesser"})

    assert field_error(response.get_data(as_text=True), "name") == (
        "Der findes allerede en udbyder med navnet Vilde Læreprocesser."
    )
    db.session.refresh(fic_provider)
    assert fic_provider.name == "Familien i Centrum"


def test_edit_refuses_a_bad_email_and_changes_nothing(as_coordinator, fic_provider):
    response = post_form(
        as_coordinator, f"/providers/{fic_provider.id}/edit", {**VALID, "name": "Ændret", "contact_email": "a@"}
    )
    assert field_error(response.get_data(as_text=True), "contact_email") is not None
    db.session.refresh(fic_provider)
    assert (fic_provider.name, fic_provider.contact_email) == ("Familien i Centrum", None)


def test_providers_cannot_be_deleted(as_coordinator, fic_provider):
    response = post_form(
        as_coordinator, f"/providers/{fic_provider.id}/delete", form_url=f"/providers/{fic_provider.id}"
    )
    assert response.status_code in (404, 405)
    assert count_providers() == 1


# --- detail -------------------------------------------------------------------------------------


def test_detail_shows_data_allocations_and_users(as_coordinator, provider_user, fic_provider):
    fic_provider.contact_email = "kontakt@fic.example"
    old = factories.make_programme(name="Styrket forældreansvar 2008-2009")
    new = factories.make_programme(name="Tidlig inddragelse 2024-2025")
    factories.make_allocation(old, fic_provider, 2008, 375_000)
    factories.make_allocation(new, fic_provider, 2024, 200_000)
    factories.make_allocation(old, factories.make_provider(name="Vilde Læreprocesser"), 2008, 125_000)

    page = as_coordinator.get(f"/providers/{fic_provider.id}").get_data(as_text=True)

    assert "<h1>Familien i Centrum</h1>" in page
    assert "kontakt@fic.example" in page
    assert "375.000 kr." in page and "200.000 kr." in page
    assert "125.000 kr." not in page  # Vilde's
    assert page.index("Tidlig inddragelse 2024-2025") < page.index("Styrket forældreansvar 2008-2009")
    assert f'href="/programmes/{old.id}"' in page
    assert "Frida FIC" in page and "fic@test.dk" in page


def test_detail_empty_states(as_coordinator, fic_provider):
    page = as_coordinator.get(f"/providers/{fic_provider.id}").get_data(as_text=True)
    assert "Udbyderen har ingen budgetrammer." in page
    assert "Ingen brugere logger ind for udbyderen endnu." in page


def test_unknown_provider_is_404(as_coordinator):
    assert as_coordinator.get("/providers/999").status_code == 404
    assert as_coordinator.get("/providers/999/edit").status_code == 404


# --- CSRF and access ----------------------------------------------------------------------------


def test_posts_without_csrf_token_are_refused(as_coordinator, fic_provider):
    assert as_coordinator.post("/providers/new", data=VALID).status_code == 400
    assert as_coordinator.post(f"/providers/{fic_provider.id}/edit", data=VALID).status_code == 400
    assert count_providers() == 1
    db.session.refresh(fic_provider)
    assert fic_provider.name == "Familien i Centrum"


@pytest.mark.parametrize("user_fixture", ["staff_member", "provider_user"])
def test_staff_and_providers_are_refused(client, login_as, request, fic_provider, user_fixture):
    login_as(request.getfixturevalue(user_fixture))
    for url in ["/providers/", "/providers/new", f"/providers/{fic_provider.id}", f"/providers/{fic_provider.id}/edit"]:
        assert client.get(url).status_code == 403, url
    response = post_form(
        client, f"/providers/{fic_provider.id}/edit", {**VALID, "name": "Hacket"}, form_url="/accessibility-statement"
    )
    assert response.status_code == 403
    db.session.refresh(fic_provider)
    assert fic_provider.name == "Familien i Centrum"


def test_anonymous_users_are_sent_to_login(client, fic_provider):
    for url in ["/providers/", "/providers/new", f"/providers/{fic_provider.id}", f"/providers/{fic_provider.id}/edit"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.location.startswith("/login"), url


# --- services -----------------------------------------------------------------------------------


def test_services_create_update_and_list(app):
    fic = services.create_provider(ProviderData(name="Familien i Centrum", contact_email="A@FIC.example"))
    vilde = services.create_provider(ProviderData(name="Vilde Læreprocesser"))
    factories.make_user(access_level="provider", provider=fic)
    services.update_provider(vilde, ProviderData(name="Vilde Læreprocesser", active=False))

    rows = services.list_providers().items

    assert [(r.provider.name, r.user_count) for r in rows] == [("Familien i Centrum", 1), ("Vilde Læreprocesser", 0)]
    assert fic.contact_email == "a@fic.example"
    assert services.list_active_providers() == [fic]
    with pytest.raises(Conflict) as conflict:
        services.update_provider(vilde, ProviderData(name="FAMILIEN I CENTRUM"))
    assert conflict.value.field == "name"


def test_a_duplicate_name_that_slips_past_the_check_is_a_conflict(app, monkeypatch):
    services.create_provider(ProviderData(name="Familien i Centrum"))
    monkeypatch.setattr(services, "name_taken", lambda model, name, exclude_id=None: False)

    with pytest.raises(Conflict):
        services.create_provider(ProviderData(name="Familien i Centrum"))

    assert count_providers() == 1
