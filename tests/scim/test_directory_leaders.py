"""Leaders from the directory: SCIM's enterprise `manager` makes the manager a leader (source "directory") of
the unit their provisioned staff are in, kept in step as the directory changes (a new manager, a move, the
manager disabled), next to — never instead of — the leaders the coordinator sets."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.directory import leaders
from app.accounts.models import Unit, User, unit_leaders
from app.extensions import db
from app.scim.models import MappingKind, ScimValueMapping
from app.scim.services import value_key
from tests import factories
from tests.conftest import post_action
from tests.scim.helpers import ENTERPRISE, PATCH, USER, scim_client


def body(user_name: str, department: str, manager: str | None = None) -> dict:
    enterprise: dict = {"department": department}
    if manager:
        enterprise["manager"] = {"value": manager}
    return {
        "schemas": [USER, ENTERPRISE],
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "name": {"givenName": user_name.split("@")[0].title(), "familyName": "Test"},
        ENTERPRISE: enterprise,
    }


def directory_rows() -> set[tuple[int, int, str]]:
    return set(db.session.execute(select(unit_leaders.c.unit_id, unit_leaders.c.user_id, unit_leaders.c.source)))


def user_id(email: str) -> int:
    return db.session.scalar(select(User.id).where(User.email == email))


def test_the_manager_leads_the_unit_of_their_staff_and_follows_the_directory(app, coordinator):
    team = factories.make_unit("Børn og Familie")
    other_team = factories.make_unit("Ældre og Sundhed")
    for department, unit in (("Børn og Familie", team), ("Ældre og Sundhed", other_team)):
        db.session.add(
            ScimValueMapping(kind=MappingKind.DEPARTMENT, value_key=value_key(department), value=department, unit=unit)
        )
    db.session.commit()
    entra = scim_client(app, coordinator)

    boss = entra.post("/scim/v2/Users", json=body("lene@kk.dk", "Ledelse")).json["id"]
    second_boss = entra.post("/scim/v2/Users", json=body("ole@kk.dk", "Ledelse")).json["id"]
    worker = entra.post("/scim/v2/Users", json=body("sanne@kk.dk", "Børn og Familie", manager=boss)).json["id"]
    db.session.expire_all()
    assert directory_rows() == {(team.id, user_id("lene@kk.dk"), "directory")}
    assert user_id("lene@kk.dk") in leaders.leaders_of(team.id)

    # a new manager in the directory: the old one leads the team no more, the new one does
    patch = {
        "schemas": [PATCH],
        "Operations": [{"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": second_boss}],
    }
    assert entra.patch(f"/scim/v2/Users/{worker}", json=patch).status_code == 200
    db.session.expire_all()
    assert directory_rows() == {(team.id, user_id("ole@kk.dk"), "directory")}

    # the person moves to another department: the leadership moves with them
    patch = {
        "schemas": [PATCH],
        "Operations": [{"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Ældre og Sundhed"}],
    }
    assert entra.patch(f"/scim/v2/Users/{worker}", json=patch).status_code == 200
    db.session.expire_all()
    assert directory_rows() == {(other_team.id, user_id("ole@kk.dk"), "directory")}

    # the manager disabled in the directory leads nobody
    patch = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    assert entra.patch(f"/scim/v2/Users/{second_boss}", json=patch).status_code == 200
    db.session.expire_all()
    assert directory_rows() == set()


def test_a_report_provisioned_before_their_manager_gets_the_leader_when_the_manager_arrives(app, coordinator):
    team = factories.make_unit("Børn og Familie")
    db.session.add(
        ScimValueMapping(
            kind=MappingKind.DEPARTMENT, value_key=value_key("Børn og Familie"), value="Børn og Familie", unit=team
        )
    )
    db.session.commit()
    entra = scim_client(app, coordinator)
    manager = entra.post("/scim/v2/Users", json=body("lene@kk.dk", "Ledelse")).json
    entra.post("/scim/v2/Users", json=body("sanne@kk.dk", "Børn og Familie", manager=manager["id"]))
    # deleting the manager removes the leadership; the coordinator's own leader of the team stays
    coordinators_pick = factories.make_user(access_level="staff", unit=team, name="Karl Koordinatorvalgt")
    db.session.execute(unit_leaders.insert().values(unit_id=team.id, user_id=coordinators_pick.id))
    db.session.commit()
    assert entra.delete(f"/scim/v2/Users/{manager['id']}").status_code == 204
    db.session.expire_all()
    assert directory_rows() == {(team.id, coordinators_pick.id, "coordinator")}


def test_the_unit_page_shows_directory_leaders_and_the_coordinator_cannot_remove_them(
    app, client, coordinator, login_as
):
    team = factories.make_unit("Børn og Familie")
    db.session.add(
        ScimValueMapping(
            kind=MappingKind.DEPARTMENT, value_key=value_key("Børn og Familie"), value="Børn og Familie", unit=team
        )
    )
    db.session.commit()
    entra = scim_client(app, coordinator)
    boss = entra.post("/scim/v2/Users", json=body("lene@kk.dk", "Ledelse")).json["id"]
    entra.post("/scim/v2/Users", json=body("sanne@kk.dk", "Børn og Familie", manager=boss))
    login_as(coordinator)
    page = client.get(f"/units/{team.id}/edit").get_data(as_text=True)
    assert "Fra kataloget (Microsoft Entra ID)" in page
    assert f"/units/{team.id}/leaders/{user_id('lene@kk.dk')}/delete" not in page
    response = post_action(
        client,
        f"/units/{team.id}/leaders/{user_id('lene@kk.dk')}/delete",
        from_url=f"/units/{team.id}/edit",
        follow_redirects=True,
    )
    assert "er leder ifølge kataloget" in response.get_data(as_text=True)
    db.session.expire_all()
    assert (team.id, user_id("lene@kk.dk"), "directory") in directory_rows()
    assert db.session.get(Unit, team.id) is not None
