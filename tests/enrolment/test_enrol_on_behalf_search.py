"""Enrol on someone's behalf by name (issue 21): the coordinator searches (a GET form, or the HTML fragment
app.js asks for as they type), sees matching active staff with unit and role, and enrols one with that
person's "Tilmeld" button (a POST with CSRF). Every search is an audited read of the people it showed;
searches are rate-limited per user; staff and providers get 403."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.enrolment.models import Enrolment, EnrolmentStatus
from app.extensions import db
from tests import factories
from tests.audit.helpers import entries, shown_by
from tests.conftest import post_form
from tests.enrolment.spring import hold_a

pytestmark = pytest.mark.usefixtures("spring")


@pytest.fixture
def run(app, fic_provider):
    return hold_a(fic_provider, capacity=5)


@pytest.fixture
def people(run):
    unit = factories.make_unit("Socialcenter Amager")
    role = factories.make_staff_role("Sagsbehandler")
    anna = factories.make_user("staff", name="Anna Andersen", email="anna@test.dk", unit=unit, staff_role=role)
    anders = factories.make_user("staff", name="Anders Holm", email="ah@test.dk", staff_role=role)
    gone = factories.make_user("staff", name="Anne Inaktiv", email="anne@test.dk", active=False)
    boss = factories.make_user("coordinator", name="Annette Koordinator", email="annette@test.dk")
    guest = factories.make_user(
        "provider", name="Annika Udbyder", email="annika@test.dk", provider=factories.make_provider()
    )
    db.session.commit()
    return {"anna": anna, "anders": anders, "gone": gone, "boss": boss, "guest": guest}


def html(response) -> str:
    return response.get_data(as_text=True)


def enrol_buttons(page: str) -> dict[str, str]:
    """user id -> accessible name of each "Tilmeld" button (all post the page's enrol form)."""
    found = re.findall(
        r'<button type="submit" form="enrol-form" name="user_id" value="(\d+)" [^>]*aria-label="([^"]+)"', page
    )
    return {user_id: label for user_id, label in found}


def test_the_search_lists_matching_active_staff_with_unit_and_role(client, login_as, coordinator, run, people):
    login_as(coordinator)
    page = html(client.get(f"/runs/{run.id}/enrolments?q=an"))
    buttons = enrol_buttons(page)
    assert buttons == {
        str(people["anders"].id): "Tilmeld Anders Holm",
        str(people["anna"].id): "Tilmeld Anna Andersen",
    }, "only active staff: not the inactive one, the coordinator or the provider"
    assert "Socialcenter Amager" in page and "Sagsbehandler" in page and "Ingen enhed" in page
    assert "2 medarbejdere matcher »an«." in page
    # every word must match, in the name or the address
    assert list(enrol_buttons(html(client.get(f"/runs/{run.id}/enrolments?q=an+holm")))) == [str(people["anders"].id)]
    assert list(enrol_buttons(html(client.get(f"/runs/{run.id}/enrolments?q=ah@test")))) == [str(people["anders"].id)]


def test_short_wildcard_and_too_long_searches_list_nobody(client, login_as, coordinator, run, people):
    login_as(coordinator)
    assert enrol_buttons(html(client.get(f"/runs/{run.id}/enrolments?q=a"))) == {}
    assert "Skriv mindst 2 bogstaver" in html(client.get(f"/runs/{run.id}/enrolments?q=a"))
    assert enrol_buttons(html(client.get(f"/runs/{run.id}/enrolments?q=%25%25"))) == {}, "LIKE wildcards are text"
    too_long = client.get(f"/runs/{run.id}/enrolments?q=" + "a" * 101)
    assert too_long.status_code == 200 and "Skriv højst 100 tegn." in html(too_long)
    assert enrol_buttons(html(too_long)) == {}
    (searched,) = entries("enrolment.")  # only the %% search was made (and found nobody)
    assert searched.details == {"q": "%%", "results": 0} and shown_by(searched) == set()


def test_someone_already_enrolled_is_marked_and_has_no_button(client, login_as, coordinator, run, people):
    factories.make_enrolment(run, people["anna"], status="waitlisted")
    login_as(coordinator)
    page = html(client.get(f"/runs/{run.id}/enrolments?q=anna"))
    assert enrol_buttons(page) == {} and "Allerede tilmeldt (venteliste)" in page


def test_the_tilmeld_button_enrols_the_person(client, login_as, coordinator, run, people):
    login_as(coordinator)
    page = html(client.get(f"/runs/{run.id}/enrolments?q=anna"))
    action = re.search(r'<form method="post" id="enrol-form" action="([^"]+)"', page).group(1)
    assert action == f"/runs/{run.id}/enrolments?q=anna", "the search rides along"
    form = page[page.index('id="enrol-form"') : page.index("</form>", page.index('id="enrol-form"'))]
    # what a browser sends: the form's own inputs in order, then the pressed button's name and value
    sent = [(name, value) for name, value in re.findall(r'<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"', form)]
    sent += [("note", "Vegetar"), ("user_id", str(people["anna"].id))]
    assert [name for name, _value in sent] == ["csrf_token", "note", "user_id"]
    response = client.post(action, data=MultiDict(sent), follow_redirects=True)
    assert "Anna Andersen er tilmeldt kursusforløbet." in html(response)
    enrolment = db.session.scalars(select(Enrolment).filter_by(user_id=people["anna"].id)).one()
    assert (enrolment.status, enrolment.note) == (EnrolmentStatus.CONFIRMED, "Vegetar")


def test_a_refusal_shows_the_list_again_with_one_message(client, login_as, coordinator, run, people):
    factories.make_enrolment(run, people["anna"], status="confirmed")
    login_as(coordinator)
    response = post_form(
        client,
        f"/runs/{run.id}/enrolments?q=an",
        {"user_id": str(people["anna"].id)},
        form_url=f"/runs/{run.id}/enrolments?q=an",
    )
    page = html(response)
    assert response.status_code == 200
    assert page.count("Anna Andersen er allerede tilmeldt.") == 1
    assert str(people["anders"].id) in enrol_buttons(page), "the list is shown again"


def test_the_fragment_answers_the_list_alone(client, login_as, coordinator, run, people):
    login_as(coordinator)
    response = client.get(f"/runs/{run.id}/enrolments/search?q=anna")
    fragment = html(response)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "<html" not in fragment and "<form" not in fragment
    assert enrol_buttons(fragment) == {str(people["anna"].id): "Tilmeld Anna Andersen"}
    assert '<p id="enrol-results-summary">1 medarbejder matcher »anna«.</p>' in fragment


def test_every_search_is_logged_as_a_read_of_the_people_shown(client, login_as, coordinator, run, people):
    login_as(coordinator)
    client.get(f"/runs/{run.id}/enrolments?q=an")
    client.get(f"/runs/{run.id}/enrolments/search?q=anna")
    first, second = entries("enrolment.person_search")
    assert shown_by(first) == {people["anna"].id, people["anders"].id}
    assert first.details == {"q": "an", "results": 2} and first.object_id == run.id
    assert shown_by(second) == {people["anna"].id}


@pytest.mark.parametrize("who", ["staff", "provider"])
def test_staff_and_providers_may_not_search(client, login_as, run, people, provider_user, who):
    login_as(people["anna"] if who == "staff" else provider_user)
    assert client.get(f"/runs/{run.id}/enrolments/search?q=an").status_code == 403
    assert client.get(f"/runs/{run.id}/enrolments?q=an").status_code == 403
    assert entries("enrolment.") == []


def test_an_unknown_run_is_404(client, login_as, coordinator, people):
    login_as(coordinator)
    assert client.get("/runs/999999/enrolments/search?q=an").status_code == 404


def test_searches_are_rate_limited_per_user(app, client, login_as, coordinator, run, people):
    app.config["PERSON_SEARCH_LIMIT"] = "3 per minute"
    login_as(coordinator)
    answers = [client.get(f"/runs/{run.id}/enrolments/search?q=an").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_the_search_is_in_english_for_an_english_user(client, login_as, coordinator, run, people):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login_as(coordinator)
    page = html(client.get(f"/runs/{run.id}/enrolments?q=an"))
    assert "Search for a staff member" in page and "2 staff members match “an”." in page
    assert set(enrol_buttons(page).values()) == {"Enrol Anna Andersen", "Enrol Anders Holm"}


def test_the_run_page_offers_the_search(client, login_as, coordinator, run):
    login_as(coordinator)
    page = html(client.get(f"/runs/{run.id}"))
    assert f'<form method="get" action="/runs/{run.id}/enrolments" role="search"' in page
    assert 'name="email"' not in page
