"""Closed days: list with year filter and public holidays, create/edit/delete, services and access."""

from __future__ import annotations

import html as html_lib
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from app.calendar import services
from app.calendar.models import ClosedDay
from app.calendar.workdays import next_working_day
from app.core.exceptions import Conflict, DomainError
from app.extensions import db
from tests import factories
from tests.conftest import post_form


def field_error(page: str, field_id: str) -> str | None:
    """The error message shown next to the field `field_id` (the forms macro's markup), or None."""
    match = re.search(
        rf'<span class="form-error-message" id="{field_id}-error"><span class="sr-only">[^<]*</span>([^<]*)</span>',
        page,
    )
    return html_lib.unescape(match.group(1)) if match else None


def closed_days() -> list[tuple[date, str]]:
    return [tuple(row) for row in db.session.execute(select(ClosedDay.day, ClosedDay.reason).order_by(ClosedDay.day))]


@pytest.fixture
def as_coordinator(client, login_as, coordinator):
    login_as(coordinator)
    return client


@pytest.fixture
def grundlovsdag(app):
    return factories.make_closed_day(date(2008, 6, 5), "Grundlovsdag")


# --- list ---------------------------------------------------------------------------------------


def test_list_shows_date_weekday_and_reason_and_explains_itself(as_coordinator, grundlovsdag):
    page = as_coordinator.get("/closed-days").get_data(as_text=True)

    assert re.search(r"<td>5\. juni 2008</td>\s*<td>torsdag</td>\s*<td>Grundlovsdag</td>", page)
    assert "opfølgningsdagen" in page and "24. december" in page  # the explanation
    assert f'href="/closed-days/{grundlovsdag.id}/edit"' in page
    assert f'action="/closed-days/{grundlovsdag.id}/delete"' in page


def test_list_empty_state(as_coordinator):
    page = as_coordinator.get("/closed-days").get_data(as_text=True)
    assert "Der er ingen lukkedage endnu." in page
    assert 'href="/closed-days/new"' in page


def test_list_filters_by_year_and_shows_that_years_holidays(as_coordinator, grundlovsdag):
    factories.make_closed_day(date(2009, 12, 24), "Juleaften")

    page = as_coordinator.get("/closed-days?year=2008").get_data(as_text=True)

    assert "<td>Grundlovsdag</td>" in page and "<td>Juleaften</td>" not in page
    assert "Helligdage i 2008" in page
    assert re.search(r"<td>18\. april 2008</td>\s*<td>fredag</td>\s*<td>store bededag</td>", page)
    assert "anden juledag" in page
    assert '<option selected value="2008">2008</option>' in page


def test_list_without_filter_shows_this_years_holidays(as_coordinator, monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: date(2009, 3, 1))
    page = as_coordinator.get("/closed-days").get_data(as_text=True)
    assert "Helligdage i 2009" in page
    assert "store bededag" in page


def test_list_of_a_year_without_closed_days_is_offered_and_empty(as_coordinator, grundlovsdag):
    page = as_coordinator.get("/closed-days?year=2030").get_data(as_text=True)
    assert "Der er ingen lukkedage i 2030." in page
    assert "<td>Grundlovsdag</td>" not in page
    assert "Helligdage i 2030" in page


@pytest.mark.parametrize("year", ["abc", "1999", "2008.5", "-1", "99999999999999999999"])
def test_bad_year_filter_shows_a_message_and_all_days(as_coordinator, grundlovsdag, year):
    response = as_coordinator.get(f"/closed-days?year={year}&page=x")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert field_error(page, "year") == "Vælg et år på listen."
    assert "<td>Grundlovsdag</td>" in page


# --- create -------------------------------------------------------------------------------------


def test_create_closed_day(as_coordinator):
    response = post_form(as_coordinator, "/closed-days/new", {"day": "2008-06-05", "reason": " Grundlovsdag "})

    assert response.status_code == 302
    assert response.location == "/closed-days?year=2008"
    assert closed_days() == [(date(2008, 6, 5), "Grundlovsdag")]
    assert "5. juni 2008 er nu en lukkedag." in as_coordinator.get(response.location).get_data(as_text=True)


def test_create_accepts_a_danish_date(as_coordinator):
    post_form(as_coordinator, "/closed-days/new", {"day": "24-12-2008", "reason": "Juleaften"})
    assert closed_days() == [(date(2008, 12, 24), "Juleaften")]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"day": "", "reason": "Lukket"}, "day", "Skriv datoen."),
        ({"day": "2008-02-30", "reason": "Lukket"}, "day", "Skriv en gyldig dato, f.eks. 05-06-2008."),
        ({"day": "1990-06-05", "reason": "Lukket"}, "day", "Datoen skal ligge mellem år 2000 og 2100."),
        ({"day": "2008-06-05", "reason": ""}, "reason", "Skriv, hvorfor dagen er lukket."),
        ({"day": "2008-06-05", "reason": "x" * 201}, "reason", "Skriv højst 200 tegn."),
        ({"day": "2009-01-01", "reason": "Lukket"}, "day", "1. januar 2009 er allerede en helligdag (nytårsdag)."),
        ({"day": "2008-12-25", "reason": "Lukket"}, "day", "25. december 2008 er allerede en helligdag (juledag)."),
        (
            {"day": "2008-06-07", "reason": "Lukket"},
            "day",
            "7. juni 2008 er en lørdag. Weekender er aldrig arbejdsdage, "
            "så du behøver ikke at oprette den som lukkedag.",
        ),
        (
            {"day": "2008-06-08", "reason": "Lukket"},
            "day",
            "8. juni 2008 er en søndag. Weekender er aldrig arbejdsdage, "
            "så du behøver ikke at oprette den som lukkedag.",
        ),
    ],
)
def test_create_refuses_bad_input_next_to_the_field(as_coordinator, data, field, message):
    response = post_form(as_coordinator, "/closed-days/new", data)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert field_error(page, field) == message
    assert page.count(f'id="{field}-error"') == 1  # one message per problem
    assert closed_days() == []


def test_create_refuses_a_day_that_is_closed_already(as_coordinator, grundlovsdag):
    response = post_form(as_coordinator, "/closed-days/new", {"day": "2008-06-05", "reason": "Igen"})

    assert response.status_code == 200
    assert field_error(response.get_data(as_text=True), "day") == "5. juni 2008 er allerede en lukkedag."
    assert closed_days() == [(date(2008, 6, 5), "Grundlovsdag")]


# --- edit and delete ----------------------------------------------------------------------------


def test_edit_closed_day(as_coordinator, grundlovsdag):
    url = f"/closed-days/{grundlovsdag.id}/edit"
    page = as_coordinator.get(url).get_data(as_text=True)
    assert 'value="2008-06-05"' in page and 'value="Grundlovsdag"' in page

    response = post_form(as_coordinator, url, {"day": "2009-06-05", "reason": "Grundlovsdag (fra kl. 12)"})

    assert response.status_code == 302
    assert closed_days() == [(date(2009, 6, 5), "Grundlovsdag (fra kl. 12)")]


def test_edit_may_keep_its_own_date_but_not_take_another_closed_day(as_coordinator, grundlovsdag):
    factories.make_closed_day(date(2008, 12, 24), "Juleaften")
    url = f"/closed-days/{grundlovsdag.id}/edit"
    response = post_form(as_coordinator, url, {"day": "2008-06-05", "reason": "Grundlovsdag, hele dagen"})
    assert response.status_code == 302

    response = post_form(as_coordinator, url, {"day": "2008-12-24", "reason": "Flyttet"})

    assert field_error(response.get_data(as_text=True), "day") == "24. december 2008 er allerede en lukkedag."
    assert closed_days() == [(date(2008, 6, 5), "Grundlovsdag, hele dagen"), (date(2008, 12, 24), "Juleaften")]


def test_edit_refuses_a_holiday(as_coordinator, grundlovsdag):
    response = post_form(
        as_coordinator, f"/closed-days/{grundlovsdag.id}/edit", {"day": "2008-12-26", "reason": "Flyttet"}
    )
    assert field_error(response.get_data(as_text=True), "day") == (
        "26. december 2008 er allerede en helligdag (anden juledag)."
    )
    assert closed_days() == [(date(2008, 6, 5), "Grundlovsdag")]


def test_delete_closed_day(as_coordinator, grundlovsdag):
    response = post_form(as_coordinator, f"/closed-days/{grundlovsdag.id}/delete", form_url="/closed-days")

    assert response.status_code == 302
    assert response.location == "/closed-days?year=2008"
    assert closed_days() == []
    page = as_coordinator.get(response.location).get_data(as_text=True)
    assert "5. juni 2008 er ikke længere en lukkedag." in page
    assert field_error(page, "year") is None  # the year stays on offer after its last closed day is gone


def test_unknown_closed_day_is_404(as_coordinator, grundlovsdag):
    assert as_coordinator.get("/closed-days/999/edit").status_code == 404
    assert post_form(as_coordinator, "/closed-days/999/delete", form_url="/closed-days").status_code == 404
    assert len(closed_days()) == 1


# --- CSRF and access ----------------------------------------------------------------------------


def test_posts_without_csrf_token_are_refused(as_coordinator, grundlovsdag):
    data = {"day": "2008-12-24", "reason": "Juleaften"}
    assert as_coordinator.post("/closed-days/new", data=data).status_code == 400
    assert as_coordinator.post(f"/closed-days/{grundlovsdag.id}/edit", data=data).status_code == 400
    assert as_coordinator.post(f"/closed-days/{grundlovsdag.id}/delete").status_code == 400
    assert closed_days() == [(date(2008, 6, 5), "Grundlovsdag")]


@pytest.mark.parametrize("user_fixture", ["staff_member", "provider_user"])
def test_staff_and_providers_are_refused(client, login_as, request, grundlovsdag, user_fixture):
    login_as(request.getfixturevalue(user_fixture))
    for url in ["/closed-days", "/closed-days/new", f"/closed-days/{grundlovsdag.id}/edit"]:
        assert client.get(url).status_code == 403, url
    response = post_form(client, f"/closed-days/{grundlovsdag.id}/delete", form_url="/accessibility-statement")
    assert response.status_code == 403
    assert len(closed_days()) == 1


def test_anonymous_users_are_sent_to_login(client, grundlovsdag):
    for url in ["/closed-days", "/closed-days/new", f"/closed-days/{grundlovsdag.id}/edit"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.location.startswith("/login"), url


# --- services -----------------------------------------------------------------------------------


def test_closed_days_map_feeds_the_working_day_rule(app):
    services.add_closed_day(date(2009, 1, 2), "Lukket mellem jul og nytår")

    closed = services.closed_days_map()

    assert closed == {date(2009, 1, 2): "Lukket mellem jul og nytår"}
    # 1 Jan 2009 is a holiday, 2 Jan closed, 3-4 Jan a weekend: the next working day is Monday 5 January.
    assert next_working_day(date(2009, 1, 1), closed) == date(2009, 1, 5)


def test_list_closed_days_by_year(app):
    for day in (date(2009, 6, 5), date(2008, 6, 5), date(2008, 12, 24)):
        factories.make_closed_day(day)

    assert [c.day for c in services.list_closed_days().items] == [
        date(2008, 6, 5),
        date(2008, 12, 24),
        date(2009, 6, 5),
    ]
    assert [c.day for c in services.list_closed_days(2008).items] == [date(2008, 6, 5), date(2008, 12, 24)]
    assert services.list_closed_day_years() == [2008, 2009]


def test_list_public_holidays(app):
    holidays_2008 = services.list_public_holidays(2008)
    assert holidays_2008[0] == (date(2008, 1, 1), "nytårsdag")
    assert (date(2008, 4, 18), "store bededag") in holidays_2008
    assert [d for d, _name in holidays_2008] == sorted(d for d, _name in holidays_2008)
    assert (date(2008, 12, 25), "Christmas Day") in services.list_public_holidays(2008, "en")


def test_service_rules(app):
    closed_day = services.add_closed_day(date(2008, 6, 5), "Grundlovsdag")
    with pytest.raises(Conflict) as duplicate:
        services.add_closed_day(date(2008, 6, 5), "Igen")
    assert duplicate.value.field == "day"
    with pytest.raises(DomainError) as weekend:
        services.update_closed_day(closed_day, date(2008, 6, 7), "Lørdag")
    assert weekend.value.field == "day"
    services.update_closed_day(closed_day, date(2008, 6, 5), "Grundlovsdag, fra kl. 12")
    services.delete_closed_day(closed_day)
    assert services.closed_days_map() == {}
    assert db.session.scalar(select(func.count()).select_from(ClosedDay)) == 0
