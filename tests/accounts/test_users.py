"""Users for coordinators: the filtered, paginated list; create and edit with the database rules."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.core.access import AccessLevel
from app.extensions import db
from tests import factories
from tests.accounts.helpers import csrf_token
from tests.conftest import post_form
from tests.querycount import recorded_statements


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def valid(**overrides) -> dict:
    data = {
        "name": "Nina Ny",
        "email": "nina.ny@test.dk",
        "access_level": "staff",
        "staff_role_id": "",
        "unit_id": "",
        "provider_id": "",
        "active": "y",
        "password": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def people(app, fic_provider):
    role = factories.make_staff_role("Sagsbehandler", name_en="Caseworker")
    centre = factories.make_unit("Socialcenter Amager")
    team = factories.make_unit("Børne- og Familieteam Amager", parent=centre)
    anna = factories.make_user(name="Anna Andersen", email="anna@test.dk", staff_role=role, unit=team)
    bo = factories.make_user(name="Bo Bæk", email="bo@kk.dk", unit=centre, password=None, active=False)
    frida = factories.make_user("provider", name="Frida Fisker", email="frida@fic.dk", provider=fic_provider)
    return {"role": role, "centre": centre, "team": team, "anna": anna, "bo": bo, "frida": frida}


# --- list ---------------------------------------------------------------------------------------------


def test_list_shows_the_columns(as_coordinator, people):
    html = as_coordinator.get("/users").get_data(as_text=True)
    for text in (
        "Anna Andersen",
        "anna@test.dk",
        "Sagsbehandler",
        "Børne- og Familieteam Amager",
        "Medarbejder",
        "Udbyder",
        "Kursuskoordinator",
        "Familien i Centrum",
        "Aktiv",
        "Inaktiv",
    ):
        assert text in html, text
    assert "Har adgangskode" in html
    assert "<td>Nej</td>" in html and "<td>Ja</td>" in html
    assert people["anna"].password_hash not in html
    assert "scrypt:" not in html and "pbkdf2:" not in html


def test_list_links_to_create_import_and_edit(as_coordinator, people):
    html = as_coordinator.get("/users").get_data(as_text=True)
    assert 'href="/users/new"' in html
    assert 'href="/users/import"' in html
    assert f'href="/users/{people["anna"].id}/edit"' in html


@pytest.mark.parametrize(
    ("query", "expected", "absent"),
    [
        ({"q": "anna"}, ["Anna Andersen"], ["Bo Bæk", "Frida Fisker"]),
        ({"q": "kk.dk"}, ["Bo Bæk"], ["Anna Andersen"]),
        ({"q": "%"}, [], ["Anna Andersen", "Bo Bæk"]),
        ({"access_level": "provider"}, ["Frida Fisker"], ["Anna Andersen", "Bo Bæk"]),
        ({"active": "no"}, ["Bo Bæk"], ["Anna Andersen", "Frida Fisker"]),
        ({"active": "yes"}, ["Anna Andersen", "Frida Fisker"], ["Bo Bæk"]),
    ],
)
def test_filters(as_coordinator, people, query, expected, absent):
    html = as_coordinator.get("/users", query_string=query).get_data(as_text=True)
    for name in expected:
        assert name in html, name
    for name in absent:
        assert f">{name}</a>" not in html, name


def test_filter_by_staff_role_and_by_unit_including_sub_units(as_coordinator, people):
    html = as_coordinator.get("/users", query_string={"staff_role": people["role"].id}).get_data(as_text=True)
    assert ">Anna Andersen</a>" in html and ">Bo Bæk</a>" not in html
    html = as_coordinator.get("/users", query_string={"unit": people["centre"].id}).get_data(as_text=True)
    assert ">Anna Andersen</a>" in html and ">Bo Bæk</a>" in html and ">Frida Fisker</a>" not in html
    html = as_coordinator.get("/users", query_string={"unit": people["team"].id}).get_data(as_text=True)
    assert ">Anna Andersen</a>" in html and ">Bo Bæk</a>" not in html


def test_no_match_says_so(as_coordinator, people):
    html = as_coordinator.get("/users", query_string={"q": "zzz"}).get_data(as_text=True)
    assert "Ingen brugere passer til filtrene." in html


@pytest.mark.parametrize(
    "query",
    [
        {"access_level": "king"},
        {"unit": "abc"},
        {"staff_role": "99999999999999999999"},
        {"active": "maybe"},
        {"page": "abc"},
        {"page": "-5"},
        {"page": "99999"},
        {"q": "x" * 500},
    ],
)
def test_bad_filter_values_never_fail(as_coordinator, people, query):
    response = as_coordinator.get("/users", query_string=query)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'href="/users/new"' in html  # the list page itself, not an error page
    # a value that cannot be a filter is ignored (everyone listed) or matches nobody, and the page says which
    assert (">Anna Andersen</a>" in html) != ("Ingen brugere passer til filtrene." in html)


def test_pagination_keeps_the_filters(as_coordinator, app):
    for n in range(30):
        factories.make_user(name=f"Person {n:02d}", email=f"person{n:02d}@test.dk", password=None)
    first = as_coordinator.get("/users", query_string={"q": "person"}).get_data(as_text=True)
    assert "30 brugere" in first
    assert ">Person 00</a>" in first and ">Person 25</a>" not in first
    assert "/users?page=2&amp;q=person" in first
    second = as_coordinator.get("/users", query_string={"q": "person", "page": 2}).get_data(as_text=True)
    assert ">Person 25</a>" in second and ">Person 00</a>" not in second


def test_list_has_no_n_plus_one(as_coordinator, app, fic_provider):
    for n in range(20):
        role = factories.make_staff_role(f"Rolle {n}")
        unit = factories.make_unit(f"Enhed {n}")
        factories.make_user(staff_role=role, unit=unit, password=None)
        factories.make_user("provider", provider=factories.make_provider(f"Udbyder {n}"), password=None)
    with recorded_statements() as statements:
        response = as_coordinator.get("/users")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert len(statements) < 15
    # the statements were counted on a page showing the rows, with their roles, units and providers
    assert html.count("<tr") >= 25 and "Rolle " in html and "Enhed " in html and "Udbyder " in html


# --- create -------------------------------------------------------------------------------------------


def test_create_staff_member(as_coordinator, people):
    data = valid(
        email="  Nina.NY@Test.DK ",
        staff_role_id=str(people["role"].id),
        unit_id=str(people["team"].id),
    )
    response = post_form(as_coordinator, "/users/new", data)
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "nina.ny@test.dk"))
    assert user.name == "Nina Ny"
    assert user.access_level == AccessLevel.STAFF
    assert (user.staff_role_id, user.unit_id, user.provider_id) == (people["role"].id, people["team"].id, None)
    assert user.active is True
    assert user.password_hash is None
    assert "Brugeren Nina Ny er oprettet." in as_coordinator.get(response.location).get_data(as_text=True)


def test_create_provider_user_with_password_who_can_log_in(as_coordinator, client, people, fic_provider):
    data = valid(
        access_level="provider", provider_id=str(fic_provider.id), password="lang-nok-adgangskode", email="ny@fic.dk"
    )
    assert post_form(as_coordinator, "/users/new", data).status_code == 302
    user = db.session.scalar(select(User).where(User.email == "ny@fic.dk"))
    assert user.provider_id == fic_provider.id
    assert user.check_password("lang-nok-adgangskode")


def test_form_offers_danish_access_levels_and_no_hash(as_coordinator, people):
    html = as_coordinator.get(f"/users/{people['anna'].id}/edit").get_data(as_text=True)
    assert ">Kursuskoordinator<" in html and ">Medarbejder<" in html and ">Udbyder<" in html
    assert people["anna"].password_hash not in html
    assert "Brugeren har en adgangskode." in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "Skriv brugerens navn."),
        ({"name": "x" * 201}, "name", "Skriv højst 200 tegn."),
        ({"email": ""}, "email", "Skriv brugerens e-mailadresse."),
        ({"email": "ikke-en-mail"}, "email", "Skriv en gyldig e-mailadresse."),
        ({"email": "ANNA@test.dk"}, "email", "Der findes allerede en bruger med den e-mailadresse."),
        ({"access_level": ""}, "access_level", "Vælg et adgangsniveau."),
        ({"access_level": "admin"}, "access_level", "Vælg et adgangsniveau."),
        ({"access_level": "provider"}, "provider_id", "Vælg den udbyder, brugeren arbejder for."),
        ({"staff_role_id": "abc"}, "staff_role_id", "Vælg en af mulighederne på listen."),
        ({"unit_id": "424242"}, "unit_id", "Vælg en af mulighederne på listen."),
        ({"password": "kort"}, "password", "Adgangskoden skal være på mindst 12 tegn."),
        ({"password": "nina.ny@test.dk"}, "password", "Adgangskoden er for let at gætte."),
    ],
)
def test_create_bad_input_shows_message_at_field(as_coordinator, people, overrides, field, message):
    before = user_count()
    response = post_form(as_coordinator, "/users/new", valid(**overrides))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html
    assert f'id="{field}-error"' in html
    assert user_count() == before


def test_staff_member_cannot_have_a_provider(as_coordinator, people, fic_provider):
    response = post_form(as_coordinator, "/users/new", valid(provider_id=str(fic_provider.id)))
    html = response.get_data(as_text=True)
    assert "Kun brugere med adgangsniveauet Udbyder kan knyttes til en udbyder." in html
    assert 'id="provider_id-error"' in html
    assert db.session.scalar(select(User).where(User.email == "nina.ny@test.dk")) is None


# --- edit ---------------------------------------------------------------------------------------------


def test_edit_changes_details_and_keeps_the_password_when_left_empty(as_coordinator, people):
    anna = people["anna"]
    old_hash = anna.password_hash
    data = valid(name="Anna Holm", email="Anna.Holm@Test.dk", unit_id=str(people["centre"].id), active="")
    response = post_form(as_coordinator, f"/users/{anna.id}/edit", data)
    assert response.status_code == 302
    db.session.refresh(anna)
    assert (anna.name, anna.email, anna.unit_id, anna.staff_role_id) == (
        "Anna Holm",
        "anna.holm@test.dk",
        people["centre"].id,
        None,
    )
    assert anna.active is False
    assert anna.password_hash == old_hash


def test_edit_sets_a_new_password(as_coordinator, people):
    bo = people["bo"]
    data = valid(name=bo.name, email=bo.email, password="helt-ny-adgangskode")
    assert post_form(as_coordinator, f"/users/{bo.id}/edit", data).status_code == 302
    db.session.refresh(bo)
    assert bo.check_password("helt-ny-adgangskode")


def test_edit_may_keep_its_own_email(as_coordinator, people):
    anna = people["anna"]
    data = valid(name=anna.name, email="ANNA@TEST.DK", staff_role_id=str(people["role"].id))
    response = post_form(as_coordinator, f"/users/{anna.id}/edit", data)
    assert response.status_code == 302
    db.session.refresh(anna)
    assert anna.email == "anna@test.dk"
    assert "Der findes allerede" not in as_coordinator.get(response.location).get_data(as_text=True)


def test_edit_cannot_take_anothers_email(as_coordinator, people):
    anna = people["anna"]
    response = post_form(as_coordinator, f"/users/{anna.id}/edit", valid(name=anna.name, email="bo@kk.dk"))
    assert "Der findes allerede en bruger med den e-mailadresse." in response.get_data(as_text=True)
    db.session.refresh(anna)
    assert anna.email == "anna@test.dk"


def test_coordinator_cannot_deactivate_themselves(as_coordinator, coordinator):
    data = valid(name=coordinator.name, email=coordinator.email, access_level="coordinator", active="")
    response = post_form(as_coordinator, f"/users/{coordinator.id}/edit", data)
    html = response.get_data(as_text=True)
    assert "Du kan ikke deaktivere dig selv." in html
    assert 'id="active-error"' in html
    db.session.refresh(coordinator)
    assert coordinator.active is True


def test_coordinator_cannot_remove_their_own_coordinator_level(as_coordinator, coordinator):
    data = valid(name=coordinator.name, email=coordinator.email, access_level="staff")
    response = post_form(as_coordinator, f"/users/{coordinator.id}/edit", data)
    assert "Du kan ikke fjerne din egen adgang som kursuskoordinator." in response.get_data(as_text=True)
    db.session.refresh(coordinator)
    assert coordinator.access_level == AccessLevel.COORDINATOR


def test_coordinator_may_change_another_coordinator(as_coordinator):
    other = factories.make_user("coordinator", email="anden@test.dk")
    data = valid(name=other.name, email=other.email, access_level="staff", active="")
    assert post_form(as_coordinator, f"/users/{other.id}/edit", data).status_code == 302
    db.session.refresh(other)
    assert (other.access_level, other.active) == (AccessLevel.STAFF, False)


def test_unknown_user_is_404(as_coordinator):
    assert as_coordinator.get("/users/999/edit").status_code == 404


# --- protection ---------------------------------------------------------------------------------------


def test_posts_without_csrf_are_400(as_coordinator, people):
    assert as_coordinator.post("/users/new", data=valid()).status_code == 400
    assert as_coordinator.post(f"/users/{people['anna'].id}/edit", data=valid()).status_code == 400
    assert db.session.scalar(select(User).where(User.email == "nina.ny@test.dk")) is None


@pytest.mark.parametrize("who", ["staff_member", "provider_user"])
def test_other_levels_are_forbidden(client, login_as, request, people, who):
    user = request.getfixturevalue(who)
    login_as(user)
    anna = people["anna"]
    for url in ("/users", "/users/new", f"/users/{anna.id}/edit", "/users/import"):
        assert client.get(url).status_code == 403, url
    token = csrf_token(client)
    assert client.post("/users/new", data={**valid(), "csrf_token": token}).status_code == 403
    assert client.post(f"/users/{anna.id}/edit", data={**valid(), "csrf_token": token}).status_code == 403
    assert client.post("/users/import/confirm", data={"csrf_token": token, "token": "x" * 43}).status_code == 403
    db.session.refresh(anna)
    assert anna.name == "Anna Andersen"


def test_anonymous_is_sent_to_login(client, people):
    for url in ("/users", "/users/new", f"/users/{people['anna'].id}/edit", "/users/import"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.location.startswith("/login")


def test_blank_password_on_edit_keeps_the_old_one(as_coordinator, people):
    anna = people["anna"]
    old_hash = anna.password_hash
    data = valid(name=anna.name, email=anna.email, password=" " * 12)
    assert post_form(as_coordinator, f"/users/{anna.id}/edit", data).status_code == 302
    db.session.refresh(anna)
    assert anna.password_hash == old_hash
