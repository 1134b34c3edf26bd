"""Programmes and budget allocations: pages, forms, services and access (coordinator only)."""

from __future__ import annotations

import html as html_lib
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.core.exceptions import Conflict, DomainError, ValidationFailed
from app.extensions import db
from app.programmes import services
from app.programmes.models import BudgetAllocation, Programme
from app.programmes.services import ProgrammeData
from tests import factories
from tests.conftest import post_form
from tests.querycount import recorded_statements

VALID = {
    "name": "Styrket forældreansvar",
    "description": "Integrationsaftalen 2007.",
    "starts_on": "2008-01-01",
    "ends_on": "2009-12-31",
    "target_deadline": "2009-12-31",
    "target_runs": "5",
    "target_completed_staff": "100",
    "effect_target": "Øget brug af metoderne.",
}


def field_error(page: str, field_id: str) -> str | None:
    """The error message shown next to the field `field_id` (the forms macro's markup), or None."""
    match = re.search(
        rf'<span class="form-error-message" id="{field_id}-error"><span class="sr-only">[^<]*</span>([^<]*)</span>',
        page,
    )
    return html_lib.unescape(match.group(1)) if match else None


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def as_coordinator(client, login_as, coordinator):
    login_as(coordinator)
    return client


@pytest.fixture
def programme(app):
    return factories.make_programme(name="Styrket forældreansvar 2008-2009")


# --- list ---------------------------------------------------------------------------------------


def test_list_empty_state_links_to_create(as_coordinator):
    page = as_coordinator.get("/programmes/").get_data(as_text=True)
    assert "Der er ingen indsatser endnu." in page
    assert 'href="/programmes/new"' in page


def test_list_newest_first_with_targets_and_allocated_total(as_coordinator, fic_provider):
    old = factories.make_programme(name="Gammel indsats", starts_on=date(2008, 1, 1), target_runs=5)
    new = factories.make_programme(
        name="Ny indsats", starts_on=date(2024, 1, 1), ends_on=date(2025, 12, 31), target_deadline=date(2025, 12, 31)
    )
    vilde = factories.make_provider(name="Vilde Læreprocesser")
    factories.make_allocation(old, fic_provider, 2008, 375_000)
    factories.make_allocation(old, vilde, 2008, 125_000)
    factories.make_allocation(old, fic_provider, 2009, 375_000)

    page = as_coordinator.get("/programmes/").get_data(as_text=True)

    assert page.index("Ny indsats") < page.index("Gammel indsats")
    assert "875.000 kr." in page  # 375.000 + 125.000 + 375.000
    assert "0 kr." in page  # the new programme has no allocations yet
    assert "1. januar 2008 – 31. december 2009" in page
    assert f'href="/programmes/{new.id}"' in page


def test_list_totals_need_no_query_per_programme(app, as_coordinator, fic_provider):
    def queries_for_list() -> int:
        with recorded_statements() as statements:
            assert as_coordinator.get("/programmes/").status_code == 200
        return len(statements)

    for n in range(2):
        factories.make_allocation(factories.make_programme(), fic_provider, 2008, 1000 + n)
    few = queries_for_list()
    for n in range(6):
        factories.make_allocation(factories.make_programme(), fic_provider, 2008, 1000 + n)
    assert queries_for_list() == few


def test_list_ignores_a_non_numeric_page(as_coordinator, programme):
    response = as_coordinator.get("/programmes/?page=abc")
    assert response.status_code == 200
    assert programme.name in response.get_data(as_text=True)


# --- create and edit ----------------------------------------------------------------------------


def test_create_programme(as_coordinator):
    response = post_form(as_coordinator, "/programmes/new", VALID)

    programme = db.session.scalar(select(Programme))
    assert response.status_code == 302
    assert response.location == f"/programmes/{programme.id}"
    assert programme.name == "Styrket forældreansvar"
    assert (programme.starts_on, programme.ends_on, programme.target_deadline) == (
        date(2008, 1, 1),
        date(2009, 12, 31),
        date(2009, 12, 31),
    )
    assert (programme.target_runs, programme.target_completed_staff) == (5, 100)
    assert programme.effect_target == "Øget brug af metoderne."
    assert "Indsatsen Styrket forældreansvar er oprettet." in as_coordinator.get(response.location).get_data(
        as_text=True
    )


def test_create_stores_empty_optional_texts_as_null_and_accepts_danish_dates(as_coordinator):
    data = {**VALID, "description": "  ", "effect_target": "", "starts_on": "01-01-2008", "ends_on": "31.12.2009"}
    assert post_form(as_coordinator, "/programmes/new", data).status_code == 302
    programme = db.session.scalar(select(Programme))
    assert programme.description is None and programme.effect_target is None
    assert programme.starts_on == date(2008, 1, 1) and programme.ends_on == date(2009, 12, 31)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Skriv indsatsens navn."),
        ({"name": "x" * 201}, "name", "Skriv højst 200 tegn."),
        ({"description": "x" * 5001}, "description", "Skriv højst 5.000 tegn."),
        ({"starts_on": ""}, "starts_on", "Skriv indsatsens startdato."),
        ({"starts_on": "2008-02-30"}, "starts_on", "Skriv en gyldig startdato, f.eks. 01-01-2008."),
        ({"ends_on": "i morgen"}, "ends_on", "Skriv en gyldig slutdato, f.eks. 31-12-2009."),
        ({"ends_on": "2007-12-31"}, "ends_on", "Slutdatoen skal ligge på eller efter startdatoen."),
        (
            {"target_deadline": "2007-06-30"},
            "target_deadline",
            "Fristen for målene skal ligge på eller efter startdatoen.",
        ),
        (
            {"target_deadline": "2011-01-01"},
            "target_deadline",
            "Fristen for målene må højst ligge et år efter slutdatoen (31. december 2009).",
        ),
        ({"target_runs": "-1"}, "target_runs", "Antallet skal være mellem 0 og 100.000."),
        ({"target_runs": "fem"}, "target_runs", "Skriv antallet af kursusforløb som et helt tal."),
        ({"target_runs": "99999999999"}, "target_runs", "Antallet skal være mellem 0 og 100.000."),
        (
            {"target_completed_staff": ""},
            "target_completed_staff",
            "Skriv antallet af medarbejdere (0, hvis der ikke er et mål).",
        ),
        ({"effect_target": "x" * 5001}, "effect_target", "Skriv højst 5.000 tegn."),
    ],
)
def test_create_refuses_bad_input_next_to_the_field(as_coordinator, changes, field, message):
    response = post_form(as_coordinator, "/programmes/new", {**VALID, **changes})

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert field_error(page, field) == message
    assert page.count(f'id="{field}-error"') == 1  # one message per problem
    assert count(Programme) == 0


def test_create_refuses_a_duplicate_name_whatever_the_case(as_coordinator, programme):
    response = post_form(as_coordinator, "/programmes/new", {**VALID, "name": programme.name.upper()})

    assert response.status_code == 200
    assert field_error(response.get_data(as_text=True), "name") == (
        f"Der findes allerede en indsats med navnet {programme.name.upper()}."
    )
    assert count(Programme) == 1


def test_edit_programme(as_coordinator, programme):
    url = f"/programmes/{programme.id}/edit"
    page = as_coordinator.get(url).get_data(as_text=True)
    assert f'value="{programme.name}"' in page  # the form is filled in

    response = post_form(as_coordinator, url, {**VALID, "name": "Nyt navn", "target_runs": "7"})

    assert response.status_code == 302
    db.session.refresh(programme)
    assert (programme.name, programme.target_runs) == ("Nyt navn", 7)


def test_edit_keeps_its_own_name_but_not_another_programmes(as_coordinator, programme):
    other = factories.make_programme(name="Den anden indsats")
    url = f"/programmes/{programme.id}/edit"
    assert post_form(as_coordinator, url, {**VALID, "name": programme.name}).status_code == 302

    response = post_form(as_coordinator, url, {**VALID, "name": other.name})

    assert field_error(response.get_data(as_text=True), "name") == (
        "Der findes allerede en indsats med navnet Den anden indsats."
    )
    db.session.refresh(programme)
    assert programme.name == "Styrket forældreansvar 2008-2009"


def test_edit_refuses_end_before_start_and_changes_nothing(as_coordinator, programme):
    response = post_form(
        as_coordinator, f"/programmes/{programme.id}/edit", {**VALID, "name": "Ændret", "ends_on": "2007-01-01"}
    )

    assert field_error(response.get_data(as_text=True), "ends_on") == (
        "Slutdatoen skal ligge på eller efter startdatoen."
    )
    db.session.refresh(programme)
    assert (programme.name, programme.ends_on) == ("Styrket forældreansvar 2008-2009", date(2009, 12, 31))


# --- detail and budget --------------------------------------------------------------------------


def test_detail_shows_budget_per_year_and_provider_with_totals(as_coordinator, programme, fic_provider):
    vilde = factories.make_provider(name="Vilde Læreprocesser")
    factories.make_allocation(programme, fic_provider, 2008, 375_000)
    factories.make_allocation(programme, vilde, 2008, 125_000)
    factories.make_allocation(programme, fic_provider, 2009, 375_000)

    page = as_coordinator.get(f"/programmes/{programme.id}").get_data(as_text=True)

    assert programme.name in page
    assert "Budgetrammer 2008" in page and "Budgetrammer 2009" in page
    assert page.index("Budgetrammer 2008") < page.index("Budgetrammer 2009")
    assert page.count("375.000 kr.") == 3  # FIC 2008, FIC 2009 and the 2009 total
    assert "125.000 kr." in page
    assert "500.000 kr." in page  # 2008 total
    assert "Budgetramme i alt: 875.000 kr." in page


def test_detail_without_allocations_explains_what_to_do(as_coordinator, programme, fic_provider):
    page = as_coordinator.get(f"/programmes/{programme.id}").get_data(as_text=True)
    assert "Indsatsen har ingen budgetrammer endnu." in page
    assert f'<option value="{fic_provider.id}">Familien i Centrum</option>' in page


def test_detail_offers_only_active_providers(as_coordinator, programme, fic_provider):
    factories.make_provider(name="Nedlagt udbyder", active=False)
    page = as_coordinator.get(f"/programmes/{programme.id}").get_data(as_text=True)
    assert "Familien i Centrum" in page
    assert "Nedlagt udbyder" not in page


def test_detail_without_active_providers_links_to_create_one(as_coordinator, programme):
    page = as_coordinator.get(f"/programmes/{programme.id}").get_data(as_text=True)
    assert "Der er ingen aktive udbydere at give en budgetramme." in page
    assert 'href="/providers/new"' in page


def test_detail_lists_the_programmes_runs_read_only(app, as_coordinator, programme, fic_provider, monkeypatch):
    run = factories.make_course_run(programme=programme, provider=fic_provider, title="Familierådslagning, hold 1")
    factories.make_course_run(provider=fic_provider, title="Et andet programs hold")
    monkeypatch.delitem(app.view_functions, "courses.run_detail", raising=False)

    page = as_coordinator.get(f"/programmes/{programme.id}").get_data(as_text=True)

    assert "Familierådslagning, hold 1" in page
    assert "Et andet programs hold" not in page
    assert "30. september 2008" in page
    assert "Offentliggjort" in page
    assert f"/runs/{run.id}" not in page  # no link while the run page does not exist


def test_detail_links_runs_when_the_run_page_exists(app, client, login_as, coordinator, programme, fic_provider):
    run = factories.make_course_run(programme=programme, provider=fic_provider)
    if "courses.run_detail" not in app.view_functions:  # registered before the app's first request
        app.add_url_rule("/test-runs/<int:run_id>", endpoint="courses.run_detail", view_func=lambda run_id: "")
    expected = app.url_map.bind("localhost").build("courses.run_detail", {"run_id": run.id})
    login_as(coordinator)

    page = client.get(f"/programmes/{programme.id}").get_data(as_text=True)

    assert f'href="{expected}"' in page


def test_detail_of_unknown_programme_is_404(as_coordinator):
    assert as_coordinator.get("/programmes/999").status_code == 404
    assert as_coordinator.get("/programmes/999/edit").status_code == 404


@pytest.mark.parametrize(
    ("amount", "ore"),
    [
        ("375000", 37_500_000),
        ("375.000", 37_500_000),
        ("375.000,50", 37_500_050),
        ("12,5", 1_250),
        ("1.250.000 kr.", 125_000_000),
        ("0", 0),
    ],
)
def test_add_allocation_reads_danish_amounts(as_coordinator, programme, fic_provider, amount, ore):
    url = f"/programmes/{programme.id}/allocations"
    response = post_form(
        as_coordinator,
        url,
        {"provider_id": fic_provider.id, "year": "2008", "amount": amount},
        form_url=f"/programmes/{programme.id}",
    )

    assert response.status_code == 302
    assert response.location == f"/programmes/{programme.id}#budget"
    allocation = db.session.scalar(select(BudgetAllocation))
    assert (allocation.programme_id, allocation.provider_id, allocation.year, allocation.amount_ore) == (
        programme.id,
        fic_provider.id,
        2008,
        ore,
    )


@pytest.mark.parametrize(("amount", "ore"), [("375,000", 37_500_000), ("375,000.50", 37_500_050), ("12.5", 1_250)])
def test_add_allocation_reads_english_amounts_in_the_english_ui(
    client, login_as, coordinator, programme, fic_provider, amount, ore
):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login_as(coordinator)
    url = f"/programmes/{programme.id}/allocations"
    response = post_form(
        client,
        url,
        {"provider_id": fic_provider.id, "year": "2008", "amount": amount},
        form_url=f"/programmes/{programme.id}",
    )

    assert response.status_code == 302
    assert db.session.scalar(select(BudgetAllocation)).amount_ore == ore


def test_added_allocation_is_shown_formatted(as_coordinator, programme, fic_provider):
    post_form(
        as_coordinator,
        f"/programmes/{programme.id}/allocations",
        {"provider_id": fic_provider.id, "year": "2008", "amount": "375000"},
        form_url=f"/programmes/{programme.id}",
    )
    page = as_coordinator.get(f"/programmes/{programme.id}").get_data(as_text=True)
    assert "Budgetrammen for Familien i Centrum i 2008 er tilføjet." in page
    assert "375.000 kr." in page


def test_add_allocation_in_english_reads_english_amounts(as_coordinator, programme, fic_provider):
    as_coordinator.set_cookie("lang", "en")
    post_form(
        as_coordinator,
        f"/programmes/{programme.id}/allocations",
        {"provider_id": fic_provider.id, "year": "2009", "amount": "375,000.50"},
        form_url=f"/programmes/{programme.id}",
    )
    assert db.session.scalar(select(BudgetAllocation.amount_ore)) == 37_500_050


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"provider_id": ""}, "provider_id", "Vælg en udbyder."),
        ({"provider_id": "abc"}, "provider_id", "Vælg en udbyder."),
        ({"provider_id": "9999"}, "provider_id", "Vælg en af de aktive udbydere på listen."),
        ({"year": ""}, "year", "Skriv året."),
        ({"year": "to tusind"}, "year", "Skriv året som et helt tal, f.eks. 2008."),
        ({"year": "1999"}, "year", "Året skal være mellem 2000 og 2100."),
        ({"year": "2101"}, "year", "Året skal være mellem 2000 og 2100."),
        ({"amount": ""}, "amount", "Skriv beløbet i kroner."),
        ({"amount": "mange penge"}, "amount", "Skriv beløbet som et tal i kroner, f.eks. 375.000."),
        ({"amount": "NaN"}, "amount", "Skriv beløbet som et tal i kroner, f.eks. 375.000."),
        ({"amount": "Infinity"}, "amount", "Skriv beløbet som et tal i kroner, f.eks. 375.000."),
        ({"amount": "1e400"}, "amount", "Skriv beløbet som et tal i kroner, f.eks. 375.000."),
        ({"amount": "1,2.3"}, "amount", "Skriv beløbet som et tal i kroner, f.eks. 375.000."),
        ({"amount": "-5"}, "amount", "Beløbet skal være mellem 0 og 1.000.000.000 kr."),
        ({"amount": "9" * 40}, "amount", "Beløbet skal være mellem 0 og 1.000.000.000 kr."),
        ({"amount": "10,1255"}, "amount", "Beløbet kan højst have to decimaler (øre)."),
        ({"amount": "1,000"}, "amount", "Er det 1.000 kr. eller 1,00 kr.? Skriv beløbet som 1.000 eller 1,00."),
    ],
)
def test_add_allocation_refuses_bad_input_next_to_the_field(
    as_coordinator, programme, fic_provider, changes, field, message
):
    data = {"provider_id": str(fic_provider.id), "year": "2008", "amount": "375000", **changes}
    response = post_form(
        as_coordinator, f"/programmes/{programme.id}/allocations", data, form_url=f"/programmes/{programme.id}"
    )

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert field_error(page, field) == message
    assert page.count(f'id="{field}-error"') == 1  # one message per problem
    assert programme.name in page  # the programme page, with the form's errors
    assert count(BudgetAllocation) == 0


def test_add_allocation_refuses_an_inactive_provider(as_coordinator, programme, fic_provider):
    retired = factories.make_provider(name="Nedlagt udbyder", active=False)
    response = post_form(
        as_coordinator,
        f"/programmes/{programme.id}/allocations",
        {"provider_id": retired.id, "year": "2008", "amount": "1000"},
        form_url=f"/programmes/{programme.id}",
    )
    assert field_error(response.get_data(as_text=True), "provider_id") == "Vælg en af de aktive udbydere på listen."
    assert count(BudgetAllocation) == 0


def test_add_allocation_error_is_shown_when_no_provider_is_active_any_more(as_coordinator, programme):
    retired = factories.make_provider(name="Nedlagt udbyder", active=False)
    response = post_form(
        as_coordinator,
        f"/programmes/{programme.id}/allocations",
        {"provider_id": retired.id, "year": "2008", "amount": "1000"},
        form_url=f"/programmes/{programme.id}",
    )
    page = response.get_data(as_text=True)
    assert "Vælg en af de aktive udbydere på listen." in page
    assert "Der er ingen aktive udbydere at give en budgetramme." in page
    assert count(BudgetAllocation) == 0


def test_add_allocation_refuses_the_same_provider_and_year_twice(as_coordinator, programme, fic_provider):
    factories.make_allocation(programme, fic_provider, 2008, 375_000)
    response = post_form(
        as_coordinator,
        f"/programmes/{programme.id}/allocations",
        {"provider_id": fic_provider.id, "year": "2008", "amount": "1000"},
        form_url=f"/programmes/{programme.id}",
    )

    assert response.status_code == 200
    assert field_error(response.get_data(as_text=True), "year") == (
        "Der er allerede en budgetramme for Familien i Centrum i 2008."
    )
    assert db.session.scalars(select(BudgetAllocation.amount_ore)).all() == [37_500_000]


def test_same_provider_and_year_is_fine_in_another_programme(as_coordinator, programme, fic_provider):
    factories.make_allocation(factories.make_programme(), fic_provider, 2008, 375_000)
    response = post_form(
        as_coordinator,
        f"/programmes/{programme.id}/allocations",
        {"provider_id": fic_provider.id, "year": "2008", "amount": "1000"},
        form_url=f"/programmes/{programme.id}",
    )
    assert response.status_code == 302
    assert count(BudgetAllocation) == 2


def test_add_allocation_to_unknown_programme_is_404(as_coordinator, programme, fic_provider):
    response = post_form(
        as_coordinator,
        "/programmes/999/allocations",
        {"provider_id": fic_provider.id, "year": "2008", "amount": "1000"},
        form_url=f"/programmes/{programme.id}",
    )
    assert response.status_code == 404


def test_edit_allocation_amount(as_coordinator, programme, fic_provider):
    allocation = factories.make_allocation(programme, fic_provider, 2008, 375_000)
    url = f"/programmes/{programme.id}/allocations/{allocation.id}/edit"
    page = as_coordinator.get(url).get_data(as_text=True)
    assert 'value="375000"' in page
    assert "Familien i Centrum" in page and "2008" in page

    response = post_form(as_coordinator, url, {"amount": "400.000"})

    assert response.status_code == 302
    db.session.refresh(allocation)
    assert allocation.amount_ore == 40_000_000


def test_edit_allocation_refuses_a_bad_amount(as_coordinator, programme, fic_provider):
    allocation = factories.make_allocation(programme, fic_provider, 2008, 375_000)
    url = f"/programmes/{programme.id}/allocations/{allocation.id}/edit"
    response = post_form(as_coordinator, url, {"amount": "-1"})

    assert response.status_code == 200
    assert field_error(response.get_data(as_text=True), "amount") == "Beløbet skal være mellem 0 og 1.000.000.000 kr."
    db.session.refresh(allocation)
    assert allocation.amount_ore == 37_500_000


def test_delete_allocation(as_coordinator, programme, fic_provider):
    allocation = factories.make_allocation(programme, fic_provider, 2008, 375_000)
    response = post_form(
        as_coordinator,
        f"/programmes/{programme.id}/allocations/{allocation.id}/delete",
        form_url=f"/programmes/{programme.id}",
    )

    assert response.status_code == 302
    assert count(BudgetAllocation) == 0
    assert "Budgetrammen for Familien i Centrum i 2008 er slettet." in as_coordinator.get(response.location).get_data(
        as_text=True
    )


def test_allocation_of_another_programme_is_404(as_coordinator, programme, fic_provider):
    other = factories.make_programme()
    allocation = factories.make_allocation(other, fic_provider, 2008, 375_000)
    base = f"/programmes/{programme.id}/allocations/{allocation.id}"

    assert as_coordinator.get(f"{base}/edit").status_code == 404
    assert (
        post_form(as_coordinator, f"{base}/edit", {"amount": "1"}, form_url=f"/programmes/{programme.id}").status_code
        == 404
    )
    assert post_form(as_coordinator, f"{base}/delete", form_url=f"/programmes/{programme.id}").status_code == 404
    db.session.refresh(allocation)
    assert allocation.amount_ore == 37_500_000


def test_unknown_allocation_is_404(as_coordinator, programme):
    assert as_coordinator.get(f"/programmes/{programme.id}/allocations/999/edit").status_code == 404


# --- CSRF and access ----------------------------------------------------------------------------


def test_posts_without_csrf_token_are_refused(as_coordinator, programme, fic_provider):
    allocation = factories.make_allocation(programme, fic_provider, 2008, 375_000)
    base = f"/programmes/{programme.id}"
    posts = [
        ("/programmes/new", VALID),
        (f"{base}/edit", VALID),
        (f"{base}/allocations", {"provider_id": fic_provider.id, "year": "2009", "amount": "1"}),
        (f"{base}/allocations/{allocation.id}/edit", {"amount": "1"}),
        (f"{base}/allocations/{allocation.id}/delete", {}),
    ]
    for url, data in posts:
        assert as_coordinator.post(url, data=data).status_code == 400, url
    assert count(Programme) == 1
    assert db.session.scalars(select(BudgetAllocation.amount_ore)).all() == [37_500_000]


def _pages(programme, allocation) -> list[str]:
    return [
        "/programmes/",
        "/programmes/new",
        f"/programmes/{programme.id}",
        f"/programmes/{programme.id}/edit",
        f"/programmes/{programme.id}/allocations/{allocation.id}/edit",
    ]


@pytest.mark.parametrize("user_fixture", ["staff_member", "provider_user"])
def test_staff_and_providers_are_refused(client, login_as, request, programme, fic_provider, user_fixture):
    allocation = factories.make_allocation(programme, fic_provider, 2008, 375_000)
    login_as(request.getfixturevalue(user_fixture))
    for url in _pages(programme, allocation):
        assert client.get(url).status_code == 403, url
    delete = f"/programmes/{programme.id}/allocations/{allocation.id}/delete"
    assert post_form(client, delete, form_url="/accessibility-statement").status_code == 403
    assert count(BudgetAllocation) == 1


def test_anonymous_users_are_sent_to_login(client, programme, fic_provider):
    allocation = factories.make_allocation(programme, fic_provider, 2008, 375_000)
    for url in _pages(programme, allocation):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.location.startswith("/login"), url


# --- services -----------------------------------------------------------------------------------


def _data(**changes) -> ProgrammeData:
    values = {
        "name": "Indsats",
        "starts_on": date(2008, 1, 1),
        "ends_on": date(2009, 12, 31),
        "target_deadline": date(2009, 12, 31),
        "target_runs": 5,
        "target_completed_staff": 100,
    }
    values.update(changes)
    return ProgrammeData(**values)


def test_services_create_and_budget(app, fic_provider):
    programme = services.create_programme(_data())
    vilde = factories.make_provider(name="Vilde Læreprocesser")
    services.add_budget_allocation(programme, vilde, 2008, 12_500_000)
    services.add_budget_allocation(programme, fic_provider, 2008, 37_500_000)
    services.add_budget_allocation(programme, fic_provider, 2009, 37_500_000)

    budget = services.get_programme_budget(programme)

    assert [y.year for y in budget.years] == [2008, 2009]
    assert [a.provider.name for a in budget.years[0].allocations] == ["Familien i Centrum", "Vilde Læreprocesser"]
    assert [y.total_ore for y in budget.years] == [50_000_000, 37_500_000]
    assert budget.total_ore == 87_500_000
    [row] = services.list_programmes().items
    assert (row.programme, row.allocated_ore) == (programme, 87_500_000)


def test_service_refuses_what_the_database_would_refuse(app, fic_provider):
    with pytest.raises(ValidationFailed) as refused:
        services.create_programme(_data(ends_on=date(2007, 1, 1), target_deadline=date(2007, 1, 1)))
    assert set(refused.value.errors) == {"ends_on", "target_deadline"}
    programme = services.create_programme(_data())
    with pytest.raises(DomainError) as negative:
        services.add_budget_allocation(programme, fic_provider, 2008, -1)
    assert negative.value.field == "amount"
    with pytest.raises(DomainError) as year:
        services.add_budget_allocation(programme, fic_provider, 1999, 1)
    assert year.value.field == "year"
    allocation = services.add_budget_allocation(programme, fic_provider, 2008, 1)
    with pytest.raises(DomainError):
        services.update_budget_allocation(allocation, -1)
    fic_provider.active = False
    with pytest.raises(DomainError) as inactive:
        services.add_budget_allocation(programme, fic_provider, 2009, 1)
    assert inactive.value.field == "provider_id"


def test_a_duplicate_name_that_slips_past_the_check_is_a_conflict(app, monkeypatch):
    services.create_programme(_data(name="Indsats"))
    monkeypatch.setattr(services, "name_taken", lambda model, name, exclude_id=None: False)

    with pytest.raises(Conflict) as conflict:
        services.create_programme(_data(name="Indsats"))

    assert conflict.value.field == "name"
    assert count(Programme) == 1  # the session is still usable: only the savepoint was rolled back


def test_kroner_field_renders_the_stored_amount_in_the_ui_language(app):
    from app.programmes.forms import BudgetAmountForm

    with app.test_request_context("/"):
        form = BudgetAmountForm(data={"amount": Decimal("375000.50")}, meta={"csrf": False})
        assert form.amount._value() == "375000,50"
