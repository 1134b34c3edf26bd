"""Reads and searches of a person's data are logged (record_read), committed after a successful response."""

from __future__ import annotations

from datetime import date

import pytest

from app.audit.services import record_read
from tests import factories
from tests.audit.helpers import actions, entries, only, shown_by

DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))


def test_the_coordinator_viewing_a_person_is_logged_with_the_person_as_subject(
    client, login_as, coordinator, staff_member
):
    login_as(coordinator)
    assert client.get(f"/users/{staff_member.id}/edit").status_code == 200
    entry = only("user.view")
    assert (entry.actor_id, entry.subject_id, entry.object_type, entry.object_id) == (
        coordinator.id,
        staff_member.id,
        "user",
        staff_member.id,
    )
    assert entry.ip_address == "127.0.0.1"


def test_looking_at_your_own_data_is_not_a_lookup(client, login_as, coordinator):
    login_as(coordinator)
    assert client.get(f"/users/{coordinator.id}/edit").status_code == 200
    assert client.get("/me/data.json").status_code == 200
    assert entries() == []


def test_a_refused_or_missing_page_logs_nothing(client, login_as, coordinator, staff_member):
    login_as(coordinator)
    assert client.get("/users/999999/edit").status_code == 404
    assert entries() == []
    client.post("/logout", data={})  # no CSRF token: refused, still logged in
    login_as(staff_member)
    assert client.get(f"/users/{coordinator.id}/edit").status_code == 403
    assert entries() == []


def test_the_user_list_logs_the_people_on_the_page_and_its_searches(client, login_as, coordinator, staff_member):
    other = factories.make_user(name="Ole Olsen", email="ole@test.dk")
    login_as(coordinator)
    client.get("/users")
    listed = only("user.list")
    assert (listed.actor_id, listed.subject_id) == (coordinator.id, None)
    assert shown_by(listed) == {staff_member.id, other.id}  # not the coordinator: their own name
    client.get("/users?q=sara&active=yes")
    entry = only("user.search")
    assert entry.details == {"q": "sara", "filters": {"active": "True"}, "results": 1}
    assert entry.subject_id is None
    assert shown_by(entry) == {staff_member.id}
    client.get("/users?q=nobody-by-that-name")
    assert shown_by(entries("user.search")[-1]) == set()  # a search is a lookup even when it finds no one


def test_participant_lists_viewed_by_coordinator_and_provider_are_logged(
    client, login_as, coordinator, provider_user, fic_provider
):
    run = factories.make_course_run(provider=fic_provider, days=DAYS)
    empty = factories.make_course_run(provider=fic_provider, days=DAYS)
    (person,) = factories.make_eligible_staff(run, 1)
    enrolment = factories.make_enrolment(run, person)
    login_as(coordinator)
    assert client.get(f"/runs/{empty.id}").status_code == 200
    assert entries() == []  # nobody's data on the page
    assert client.get(f"/runs/{run.id}").status_code == 200
    assert client.get(f"/enrolments/{enrolment.id}/history").status_code == 200
    client.post("/logout", data={"csrf_token": _token(client, f"/runs/{run.id}")})
    login_as(provider_user)
    assert client.get(f"/runs/{run.id}").status_code == 200
    log = [
        (e.action, e.actor_id, e.object_type, e.object_id, e.subject_id)
        for e in entries()
        if e.action != "participants.view" or e.object_id == run.id
    ]
    assert log == [
        ("participants.view", coordinator.id, "run", run.id, None),
        ("enrolment.view", coordinator.id, "enrolment", enrolment.id, person.id),
        ("participants.view", coordinator.id, "run", run.id, None),  # the logout page view
        ("participants.view", provider_user.id, "run", run.id, None),
    ]
    assert entries()[0].details == {"people": 1}
    assert [shown_by(e) for e in entries()] == [{person.id}] * 4


def test_a_participant_list_export_is_logged_with_its_format(client, login_as, coordinator):
    run = factories.make_course_run(days=DAYS)
    (person,) = factories.make_eligible_staff(run, 1)
    factories.make_enrolment(run, person)
    login_as(coordinator)
    assert client.get(f"/runs/{run.id}/participants.csv").status_code == 200
    entry = only("participants.export")
    assert (entry.object_type, entry.object_id, entry.details) == ("run", run.id, {"format": "csv", "people": 1})
    assert shown_by(entry) == {person.id}


@pytest.mark.own_app  # adds a route: needs an app that has served no request yet
def test_record_read_outside_a_successful_response_is_never_committed(app, client, login_as, coordinator, staff_member):
    @app.get("/_test/boom")
    def boom():  # a view that logs a read and then fails
        record_read("user.view", subject=staff_member)
        raise RuntimeError("boom")

    boom.access_rule = __import__("app.core.access", fromlist=["AccessRule"]).AccessRule(public=True)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.get("/_test/boom").status_code == 500
    assert actions() == []


def _token(client, url):
    from tests.conftest import csrf_token_from

    return csrf_token_from(client.get(url).get_data(as_text=True))
