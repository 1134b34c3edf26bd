"""Methods (coordinator): list, create, edit, delete unless a run uses it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.core.exceptions import Conflict, NotAllowed
from app.courses import services
from app.courses.models import Method
from app.courses.services import MethodData
from app.extensions import db
from tests import factories
from tests.conftest import post_action, post_form


@pytest.fixture
def methods(app, coordinator):
    """Two methods, one taught by a run. Committed: a refused form rolls the request's session back."""
    used = factories.make_method("Signs of Safety")
    unused = factories.make_method("Positive Inquiry")
    factories.make_course_run(methods=[used])
    db.session.commit()
    return used, unused


def names() -> list[str]:
    return list(db.session.scalars(select(Method.name).order_by(Method.name)))


def html(response) -> str:
    return response.get_data(as_text=True)


def test_list_shows_methods_with_their_use(client, login_as, coordinator, methods):
    login_as(coordinator)
    page = html(client.get("/methods"))
    assert "Signs of Safety" in page and "Positive Inquiry" in page
    assert f'action="/methods/{methods[1].id}/delete"' in page
    assert f'action="/methods/{methods[0].id}/delete"' not in page  # in use: no delete button
    assert "I brug" in page
    assert 'href="/methods/new"' in page


def test_settings_hub_links_to_methods(client, login_as, coordinator):
    login_as(coordinator)
    assert 'href="/methods"' in html(client.get("/settings"))


def test_empty_list_says_what_to_do(client, login_as, coordinator):
    login_as(coordinator)
    assert "Opret den første metode." in html(client.get("/methods"))


def test_create(client, login_as, coordinator, methods):
    login_as(coordinator)
    response = post_form(
        client,
        "/methods/new",
        {"name": "  Familierådslagning ", "name_en": "Family group conference", "description": ""},
    )
    assert response.status_code == 302 and response.location == "/methods"
    method = db.session.scalars(select(Method).where(Method.name == "Familierådslagning")).one()
    assert (method.name_en, method.description) == ("Family group conference", None)
    assert "Metoden Familierådslagning er oprettet." in html(client.get("/methods"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Skriv metodens navn."),
        ("   ", "Skriv metodens navn."),
        ("x" * 201, "Skriv højst 200 tegn."),
        ("Signs of Safety", "Der findes allerede en metode med navnet Signs of Safety."),
        ("signs of SAFETY", "Der findes allerede en metode med navnet signs of SAFETY."),
    ],
)
def test_create_bad_input_shows_message_and_creates_nothing(client, login_as, coordinator, methods, name, message):
    login_as(coordinator)
    response = post_form(client, "/methods/new", {"name": name})
    assert response.status_code == 200
    page = html(response)
    assert message in page
    assert 'class="form-error-message"' in page
    assert names() == ["Positive Inquiry", "Signs of Safety"]


def test_edit(client, login_as, coordinator, methods):
    used, _unused = methods
    login_as(coordinator)
    page = html(client.get(f"/methods/{used.id}/edit"))
    assert 'value="Signs of Safety"' in page
    assert "Metoden bruges af 1 kursusforløb" in page
    response = post_form(client, f"/methods/{used.id}/edit", {"name": "Signs of Safety (SoS)", "description": "Model"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Method, used.id).name == "Signs of Safety (SoS)"
    assert db.session.get(Method, used.id).description == "Model"


def test_edit_may_keep_its_own_name_but_not_take_anothers(client, login_as, coordinator, methods):
    used, unused = methods
    login_as(coordinator)
    assert post_form(client, f"/methods/{used.id}/edit", {"name": "Signs of Safety"}).status_code == 302
    response = post_form(client, f"/methods/{used.id}/edit", {"name": "positive inquiry"})
    assert response.status_code == 200
    assert "Der findes allerede en metode med navnet positive inquiry." in html(response)
    assert names() == ["Positive Inquiry", "Signs of Safety"]


def test_edit_unknown_method_is_404(client, login_as, coordinator):
    login_as(coordinator)
    assert client.get("/methods/999999/edit").status_code == 404
    assert client.get("/methods/99999999999999999999/edit").status_code == 404
    assert post_action(client, "/methods/999999/delete", from_url="/methods").status_code == 404


def test_delete_unused(client, login_as, coordinator, methods):
    login_as(coordinator)
    response = post_action(client, f"/methods/{methods[1].id}/delete", from_url="/methods")
    assert response.status_code == 302
    assert names() == ["Signs of Safety"]
    assert "Metoden Positive Inquiry er slettet." in html(client.get("/methods"))


def test_delete_refused_when_a_run_uses_it(client, login_as, coordinator, methods):
    login_as(coordinator)
    response = post_action(client, f"/methods/{methods[0].id}/delete", from_url="/methods")
    assert response.status_code == 302
    assert "Metoden Signs of Safety bruges af 1 kursusforløb og kan ikke slettes." in html(client.get("/methods"))
    assert names() == ["Positive Inquiry", "Signs of Safety"]


def test_posts_without_csrf_are_400(client, login_as, coordinator, methods):
    login_as(coordinator)
    assert client.post("/methods/new", data={"name": "Ny"}).status_code == 400
    assert client.post(f"/methods/{methods[0].id}/edit", data={"name": "Ny"}).status_code == 400
    assert client.post(f"/methods/{methods[1].id}/delete").status_code == 400
    assert names() == ["Positive Inquiry", "Signs of Safety"]


@pytest.mark.parametrize("who", ["staff_member", "provider_user"])
def test_methods_are_for_coordinators_only(client, login_as, request, who, methods):
    login_as(request.getfixturevalue(who))
    method_id = methods[1].id
    for url in ("/methods", "/methods/new", f"/methods/{method_id}/edit"):
        assert client.get(url).status_code == 403, url
    for url in ("/methods/new", f"/methods/{method_id}/edit", f"/methods/{method_id}/delete"):
        assert post_action(client, url, {"name": "X"}, from_url="/runs").status_code == 403, url
    assert names() == ["Positive Inquiry", "Signs of Safety"]


def test_services_check_the_actor_and_the_name(app, coordinator, staff_member, methods):
    with pytest.raises(NotAllowed):
        services.create_method(staff_member, MethodData(name="X"))
    with pytest.raises(Conflict) as info:
        services.create_method(coordinator, MethodData(name=" SIGNS OF SAFETY "))
    assert info.value.field == "name"
    with pytest.raises(Conflict):
        services.delete_method(coordinator, methods[0])
    assert db.session.scalar(select(func.count()).select_from(Method)) == 2
