"""Unit leaders (issue 24): the inheritance rule, and the coordinator setting them on the unit's page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts.directory import leaders
from app.accounts.models import unit_leaders
from app.audit.models import AuditEntry, AuditEntrySubject
from app.extensions import db
from tests import factories
from tests.conftest import post_action, post_form


@pytest.fixture
def tree(app):
    """Socialcenter Amager > Familieteam > Team Nord; Amager > Ungeteam; Socialcenter Valby alone."""
    amager = factories.make_unit("Socialcenter Amager")
    family = factories.make_unit("Familieteam Amager", parent=amager)
    nord = factories.make_unit("Team Nord", parent=family)
    youth = factories.make_unit("Ungeteam Amager", parent=amager)
    valby = factories.make_unit("Socialcenter Valby")
    return {"amager": amager, "family": family, "nord": nord, "youth": youth, "valby": valby}


def own_leader_ids(unit_id: int) -> set[int]:
    return set(db.session.scalars(select(unit_leaders.c.user_id).where(unit_leaders.c.unit_id == unit_id)))


def test_a_leader_leads_the_sub_units_without_leaders_of_their_own(tree):
    head = factories.make_leader(tree["amager"], factories.make_user(name="Hanne Centerchef"))
    team_lead = factories.make_leader(tree["family"], factories.make_user(name="Tina Teamleder"))

    # Who leads this unit: its own leaders, else the nearest ancestor's.
    assert leaders.leaders_of(tree["amager"].id) == {head.id}
    assert leaders.leaders_of(tree["youth"].id) == {head.id}  # inherited
    assert leaders.leaders_of(tree["family"].id) == {team_lead.id}  # its own: the centre head does not lead it
    assert leaders.leaders_of(tree["nord"].id) == {team_lead.id}  # inherited from the nearest, not the top
    assert leaders.leaders_of(tree["valby"].id) == frozenset()

    # Which units does this user lead: the same rule read the other way.
    assert leaders.units_led_by(head.id) == {tree["amager"].id, tree["youth"].id}
    assert leaders.units_led_by(team_lead.id) == {tree["family"].id, tree["nord"].id}
    assert leaders.units_led_by(factories.make_user().id) == set()


def test_a_unit_can_have_several_leaders_and_a_cycle_does_not_hang(tree):
    one = factories.make_leader(tree["valby"], factories.make_user())
    two = factories.make_leader(tree["valby"], factories.make_user())
    assert leaders.leaders_of(tree["valby"].id) == {one.id, two.id}
    # A cycle in the data (written directly; the forms refuse it) ends the walk instead of looping.
    tree["amager"].parent_id = tree["nord"].id
    db.session.commit()
    assert leaders.leaders_of(tree["nord"].id) == frozenset()


def test_is_leader_is_loaded_with_the_user(tree):
    person = factories.make_user()
    assert person.is_leader is False
    factories.make_leader(tree["nord"], person)
    assert person.is_leader is True


def test_coordinator_finds_a_person_and_makes_them_leader(as_coordinator, coordinator, tree):
    person = factories.make_user(name="Lone Leder", unit=tree["family"])
    url = f"/units/{tree['family'].id}/edit"
    html = as_coordinator.get(url + "?q=lone").get_data(as_text=True)
    assert "Lone Leder" in html and "Gør til leder" in html
    search = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "unit.person_search"))
    assert search is not None and search.object_id == tree["family"].id
    assert person.id in set(
        db.session.scalars(select(AuditEntrySubject.user_id).where(AuditEntrySubject.entry_id == search.id))
    )

    response = post_action(as_coordinator, f"/units/{tree['family'].id}/leaders", {"user_id": person.id}, from_url=url)
    assert response.status_code == 302
    assert own_leader_ids(tree["family"].id) == {person.id}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "unit.leader_add"))
    assert entry.subject_id == person.id and entry.actor_id == coordinator.id
    page = as_coordinator.get(url).get_data(as_text=True)
    assert "Fjern Lone Leder som leder" in page
    # The sub-unit shows whom it inherits.
    sub = as_coordinator.get(f"/units/{tree['nord'].id}/edit").get_data(as_text=True)
    assert "ledes af lederne af Familieteam Amager: Lone Leder" in sub

    response = post_action(as_coordinator, f"/units/{tree['family'].id}/leaders/{person.id}/delete", from_url=url)
    assert response.status_code == 302
    assert own_leader_ids(tree["family"].id) == set()
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "unit.leader_remove")) is not None


@pytest.mark.parametrize("who", ["coordinator", "provider", "inactive", "unknown", "already", "not-a-number"])
def test_only_an_active_staff_member_can_be_made_leader(as_coordinator, coordinator, tree, who):
    url = f"/units/{tree['valby'].id}/edit"
    existing = factories.make_leader(tree["valby"], factories.make_user(name="Vera Valby"))
    user_id = {
        "coordinator": lambda: coordinator.id,
        "provider": lambda: factories.make_user(access_level="provider", provider=factories.make_provider()).id,
        "inactive": lambda: factories.make_user(active=False).id,
        "unknown": lambda: 999999,
        "already": lambda: existing.id,
        "not-a-number": lambda: "abc",
    }[who]()
    response = post_action(
        as_coordinator,
        f"/units/{tree['valby'].id}/leaders",
        {"user_id": user_id},
        from_url=url,
        follow_redirects=True,
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert (
        "Vælg en aktiv medarbejder fra søgningen." in html
        or "er allerede leder af enheden" in html
        or "Søg medarbejderen frem, og vælg Gør til leder ud for navnet." in html
    )
    assert own_leader_ids(tree["valby"].id) == {existing.id}


def test_removing_someone_who_is_not_leader_changes_nothing(as_coordinator, tree):
    person = factories.make_user()
    url = f"/units/{tree['valby'].id}/edit"
    response = post_action(
        as_coordinator,
        f"/units/{tree['valby'].id}/leaders/{person.id}/delete",
        from_url=url,
        follow_redirects=True,
    )
    assert "Personen er ikke leder af enheden." in response.get_data(as_text=True)


def test_the_unit_page_logs_the_leaders_it_names(as_coordinator, coordinator, tree):
    head = factories.make_leader(tree["amager"], factories.make_user(name="Hanne Centerchef"))
    html = as_coordinator.get(f"/units/{tree['nord'].id}/edit").get_data(as_text=True)  # inherited: named
    assert "Hanne Centerchef" in html  # no leader below the centre yet: Team Nord inherits the centre head
    factories.make_leader(tree["family"], factories.make_user(name="Tina Teamleder"))
    html = as_coordinator.get(f"/units/{tree['nord'].id}/edit").get_data(as_text=True)
    assert "Tina Teamleder" in html and "Hanne Centerchef" not in html
    html = as_coordinator.get(f"/units/{tree['youth'].id}/edit").get_data(as_text=True)
    assert "Hanne Centerchef" in html
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "unit.view")).all()
    named = set(
        db.session.scalars(
            select(AuditEntrySubject.user_id).where(AuditEntrySubject.entry_id.in_([e.id for e in entries]))
        )
    )
    assert head.id in named


def test_an_anonymised_leader_leads_nothing(as_coordinator, tree):
    """A leaver anonymised by the coordinator: their unit goes back to the leaders above it."""
    head = factories.make_leader(tree["amager"], factories.make_user(name="Hanne Centerchef"))
    leaver = factories.make_leader(tree["family"], factories.make_user(name="Lars Leaver"))
    url = f"/users/{leaver.id}/anonymise"

    response = post_form(as_coordinator, url, {"confirm_name": "Lars Leaver"})
    assert response.status_code == 302
    assert own_leader_ids(tree["family"].id) == set()
    assert leaders.leaders_of(tree["family"].id) == {head.id}


def test_the_right_of_access_file_names_the_units_led(as_coordinator, tree):
    leader = factories.make_leader(tree["nord"], factories.make_user(name="Nina Nord"))
    data = as_coordinator.get(f"/users/{leader.id}/data.json").get_json()
    assert [(row["unit_id"], row["unit"]) for row in data["units_led"]] == [(tree["nord"].id, "Team Nord")]
