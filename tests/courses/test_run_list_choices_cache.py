"""The run list's filter choices are remembered per data version (issue 22, app.core.data_versions): a worker
keeps them between requests, and every write that changes them is on the next request's list — a new
provider, a course day moved to another month, a run no longer open to the staff member's role. Through
GET /runs, the way a browser asks; the writes through the real form or the ORM, as the services write."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from app.core.models import DataVersion
from app.courses.models import RUN_LIST_CHOICES, CourseDay, CourseRun, Method
from app.courses.queries import run_list_choices
from app.extensions import db
from tests import factories
from tests.conftest import post_form
from tests.querycount import recorded_statements

TODAY = date(2008, 9, 1)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: TODAY)


@pytest.fixture
def run(app):
    # As the migration leaves a database: the version's row exists before any write (the tests' create_all
    # has none, and without one nothing is remembered).
    db.session.add(DataVersion(name=RUN_LIST_CHOICES, token=uuid.uuid4().hex))
    db.session.flush()
    role = factories.make_staff_role("Sagsbehandler")
    return factories.make_course_run(
        eligible_roles=[role], days=(date(2008, 10, 6), date(2008, 10, 7), date(2009, 1, 7))
    )


def page(client) -> str:
    response = client.get("/runs")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_new_provider_is_offered_on_the_next_request(client, login_as, coordinator, run):
    login_as(coordinator)
    assert "Helt ny udbyder" not in page(client)
    response = post_form(client, "/providers/new", {"name": "Helt ny udbyder", "active": "y"})
    assert response.status_code == 302
    client.get(response.location)  # the provider's page, which shows the flash message naming it
    assert ">Helt ny udbyder</option>" in page(client)


def test_a_day_moved_to_another_month_is_offered_on_the_next_request(client, login_as, run):
    login_as(factories.make_user(access_level="staff", staff_role=run.eligible_roles[0]))
    before = page(client)
    assert 'value="2008-10"' in before and 'value="2008-11"' not in before
    for day in db.session.scalars(db.select(CourseDay).where(CourseDay.course_run_id == run.id)):
        if day.position == 1:
            day.day = date(2008, 11, 3)
        elif day.position == 2:
            day.day = date(2008, 11, 4)
    db.session.commit()
    after = page(client)
    assert 'value="2008-11"' in after and 'value="2008-10"' not in after


def test_a_run_closed_to_the_role_leaves_the_choices_on_the_next_request(client, login_as, run):
    login_as(factories.make_user(access_level="staff", staff_role=run.eligible_roles[0]))
    assert 'value="2008-10"' in page(client) and 'value="2009"' in page(client)
    db.session.get(CourseRun, run.id).eligible_roles.clear()
    db.session.commit()
    after = page(client)
    assert 'value="2008-10"' not in after and 'value="2009"' not in after


def test_an_unchanged_list_reads_only_the_version_of_its_choices(client, login_as, run):
    """The second request of an unchanged list sends one statement for the choices (their version's token)
    instead of three (the token, then the programmes, providers and methods, and the visible runs' periods)."""
    login_as(factories.make_user(access_level="staff", staff_role=run.eligible_roles[0]))
    with recorded_statements() as first:
        page(client)
    with recorded_statements() as second:
        page(client)
    assert len(second) == len(first) - 2
    assert not any("course_days.day" in s and "DISTINCT" in s for s in second)


def test_an_uncommitted_change_is_never_remembered_for_others(app, run):
    """A transaction that changed the choices' data and then reads them (under the old token, its own change
    is not committed) computes them without the cache and remembers nothing: after its rollback, the next
    reader sees the choices without the rolled-back method."""
    from app.accounts.models import User

    staff = factories.make_user(access_level="staff", staff_role=run.eligible_roles[0])
    db.session.commit()
    user = db.session.get(User, staff.id)
    names = lambda: [name for _id, name in run_list_choices(user, TODAY, with_providers=True).methods]  # noqa: E731
    before = names()
    savepoint = db.session.begin_nested()
    db.session.add(Method(name="Rullet tilbage"))
    db.session.flush()
    assert "Rullet tilbage" in names()
    savepoint.rollback()
    assert names() == before


@pytest.fixture
def form_renders(app):
    """The filter form's renders (templates/courses/_run_filter_form.html), one entry per render."""
    from flask import template_rendered

    renders: list[None] = []

    def note(sender, template, context, **extra):
        if template.name == "courses/_run_filter_form.html":
            renders.append(None)

    template_rendered.connect(note, app)
    yield renders
    template_rendered.disconnect(note, app)


def test_the_filter_form_is_rendered_once_per_version_of_its_choices(client, login_as, coordinator, run, form_renders):
    """The filter form's HTML is remembered (issue 22): the same list again renders no form, and a programme
    added (a new version of the choices) is offered on the next request, by a fresh render."""
    login_as(coordinator)
    first = page(client)
    again = page(client)
    assert len(form_renders) == 1
    assert again == first
    factories.make_programme(name="Helt ny indsats")
    db.session.commit()
    after = page(client)
    assert len(form_renders) == 2
    assert ">Helt ny indsats</option>" in after and ">Helt ny indsats</option>" not in first


def test_the_filter_form_is_remembered_per_language_and_query(client, login_as, coordinator, run, form_renders):
    """English and Danish each get their own form, and a query string its own values and messages: never
    another's from the cache."""
    login_as(coordinator)
    assert "Søg i titel og beskrivelse" in page(client)
    client.set_cookie("lang", "en")
    english = page(client)
    assert "Search title and description" in english and "Søg i titel og beskrivelse" not in english
    client.set_cookie("lang", "da")
    assert "Søg i titel og beskrivelse" in page(client)
    assert len(form_renders) == 2
    searched = client.get("/runs?q=kommunikation&month=2").get_data(as_text=True)
    assert 'value="kommunikation"' in searched and "Vælg en måned på listen." in searched
    plain = page(client)
    assert 'value="kommunikation"' not in plain and "Vælg en måned på listen." not in plain
    assert len(form_renders) == 3
