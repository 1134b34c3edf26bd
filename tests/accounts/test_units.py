"""Units (enheder): a tree built in Python from one query, create/edit with a parent, no cycles, safe delete."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.directory import services
from app.accounts.models import Unit
from app.extensions import db
from tests import factories
from tests.accounts.helpers import csrf_token
from tests.conftest import post_form
from tests.querycount import recorded_statements


def unit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Unit))


@pytest.fixture
def tree(app):
    """Socialcenter Amager > Børne- og Familieteam Amager > Team Nord; Socialcenter Valby alone."""
    amager = factories.make_unit("Socialcenter Amager")
    team = factories.make_unit("Børne- og Familieteam Amager", parent=amager)
    nord = factories.make_unit("Team Nord", parent=team)
    valby = factories.make_unit("Socialcenter Valby")
    return {"amager": amager, "team": team, "nord": nord, "valby": valby}


def test_list_shows_children_under_their_parent(as_coordinator, tree):
    html = as_coordinator.get("/units").get_data(as_text=True)
    positions = [
        html.index(name)
        for name in ("Socialcenter Amager", "Børne- og Familieteam Amager", "Team Nord", "Socialcenter Valby")
    ]
    assert positions == sorted(positions)
    assert "└" in html  # children are indented


def test_tree_is_built_from_one_query_for_units(app, tree):
    db.session.expire_all()
    with recorded_statements() as recorded:
        nodes = services.list_unit_tree()
        paths = [(node.depth, node.path) for node in nodes]
    statements = [s for s in recorded if s.lstrip().upper().startswith("SELECT")]
    assert paths == [
        (0, "Socialcenter Amager"),
        (1, "Socialcenter Amager › Børne- og Familieteam Amager"),
        (2, "Socialcenter Amager › Børne- og Familieteam Amager › Team Nord"),
        (0, "Socialcenter Valby"),
    ]
    assert len([s for s in statements if "FROM units" in s]) == 1
    assert len(statements) <= 2  # units + user counts


def test_empty_list_says_what_to_do(as_coordinator):
    html = as_coordinator.get("/units").get_data(as_text=True)
    assert "Der er ingen enheder endnu" in html
    assert 'href="/units/new"' in html


def test_create_top_level_and_child(as_coordinator):
    response = post_form(as_coordinator, "/units/new", {"name": "Socialcenter Nørrebro", "parent_id": ""})
    assert response.status_code == 302
    parent = db.session.scalar(select(Unit).where(Unit.name == "Socialcenter Nørrebro"))
    assert parent.parent_id is None
    response = post_form(as_coordinator, "/units/new", {"name": "Familieteam Nørrebro", "parent_id": str(parent.id)})
    assert response.status_code == 302
    child = db.session.scalar(select(Unit).where(Unit.name == "Familieteam Nørrebro"))
    assert child.parent_id == parent.id


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": ""}, "name", "Skriv enhedens navn."),
        ({"name": "x" * 201}, "name", "Skriv højst 200 tegn."),
        ({"name": "socialcenter amager"}, "name", "Der findes allerede en enhed med det navn."),
        ({"name": "Ny", "parent_id": "abc"}, "parent_id", "Vælg en af mulighederne på listen."),
        ({"name": "Ny", "parent_id": "99999"}, "parent_id", "Vælg en af mulighederne på listen."),
    ],
)
def test_create_bad_input_shows_message_at_field(as_coordinator, tree, data, field, message):
    response = post_form(as_coordinator, "/units/new", data)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html
    assert f'id="{field}-error"' in html
    assert unit_count() == 4


def test_edit_renames_and_moves(as_coordinator, tree):
    nord = tree["nord"]
    response = post_form(
        as_coordinator, f"/units/{nord.id}/edit", {"name": "Team Nord Valby", "parent_id": str(tree["valby"].id)}
    )
    assert response.status_code == 302
    db.session.refresh(nord)
    assert (nord.name, nord.parent_id) == ("Team Nord Valby", tree["valby"].id)


def test_edit_can_make_a_unit_top_level(as_coordinator, tree):
    team = tree["team"]
    assert post_form(as_coordinator, f"/units/{team.id}/edit", {"name": team.name, "parent_id": ""}).status_code == 302
    db.session.refresh(team)
    assert team.parent_id is None


@pytest.mark.parametrize("new_parent", ["amager", "team", "nord"])
def test_cycle_is_refused_at_the_parent_field(as_coordinator, tree, new_parent):
    amager = tree["amager"]
    response = post_form(
        as_coordinator, f"/units/{amager.id}/edit", {"name": amager.name, "parent_id": str(tree[new_parent].id)}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="parent_id-error"' in html
    assert "kan ikke ligge under" in html
    db.session.refresh(amager)
    assert amager.parent_id is None


def test_service_refuses_a_parent_that_does_not_exist(app, tree):
    from app.core.exceptions import ValidationFailed

    with pytest.raises(ValidationFailed) as info:
        services.update_unit(tree["nord"], actor=None, name="Team Nord", parent_id=424242)
    assert "parent_id" in info.value.errors


def test_unknown_unit_is_404(as_coordinator):
    assert as_coordinator.get("/units/999/edit").status_code == 404
    assert post_form(as_coordinator, "/units/999/delete", form_url="/units").status_code == 404


def test_delete_unused(as_coordinator, tree):
    response = post_form(as_coordinator, f"/units/{tree['valby'].id}/delete", form_url="/units")
    assert response.status_code == 302
    assert unit_count() == 3
    assert "Enheden Socialcenter Valby er slettet." in as_coordinator.get("/units").get_data(as_text=True)


def test_delete_refused_while_it_has_children(as_coordinator, tree):
    post_form(as_coordinator, f"/units/{tree['amager'].id}/delete", form_url="/units")
    html = as_coordinator.get("/units").get_data(as_text=True)
    assert "kan ikke slettes" in html and "underenheder: 1" in html
    assert unit_count() == 4


def test_delete_refused_while_it_has_users(as_coordinator, tree):
    factories.make_user(unit=tree["nord"])
    post_form(as_coordinator, f"/units/{tree['nord'].id}/delete", form_url="/units")
    html = as_coordinator.get("/units").get_data(as_text=True)
    assert "kan ikke slettes" in html and "brugere: 1" in html
    assert unit_count() == 4


def test_posts_without_csrf_are_400(as_coordinator, tree):
    assert as_coordinator.post("/units/new", data={"name": "X"}).status_code == 400
    assert as_coordinator.post(f"/units/{tree['nord'].id}/edit", data={"name": "X"}).status_code == 400
    assert as_coordinator.post(f"/units/{tree['valby'].id}/delete").status_code == 400
    assert unit_count() == 4


@pytest.mark.parametrize("who", ["staff_member", "provider_user"])
def test_other_levels_are_forbidden(client, login_as, request, tree, who):
    user = request.getfixturevalue(who)
    login_as(user)
    for url in ("/units", "/units/new", f"/units/{tree['nord'].id}/edit"):
        assert client.get(url).status_code == 403, url
    token = csrf_token(client)
    assert client.post(f"/units/{tree['valby'].id}/delete", data={"csrf_token": token}).status_code == 403
    assert client.post("/units/new", data={"csrf_token": token, "name": "X"}).status_code == 403
    assert unit_count() == 4


def test_anonymous_is_sent_to_login(client, tree):
    for url in ("/units", "/units/new", f"/units/{tree['nord'].id}/edit"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.location.startswith("/login")
