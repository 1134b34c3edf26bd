"""The competence overview (issue 24): staff × methods per unit and below, for coordinators (all units) and
leaders (the units they lead), through HTTP: the inheritance rule at work, filters, XLSX, audit, budget."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.accounts.models import Unit, User
from app.audit.models import AuditEntry, AuditEntrySubject
from app.courses.models import CourseRun, RunStatus
from app.extensions import db
from tests import factories
from tests.perf.test_query_counts import READ_LOGGED
from tests.querycount import assert_rows, statements_and_body_for_get

#: Before the tests' frozen clock (2 March 2026): completed; after it: upcoming.
PAST = (date(2025, 9, 1), date(2025, 9, 2), date(2025, 12, 1))
FUTURE = (date(2026, 5, 4), date(2026, 5, 5), date(2026, 8, 3))


def attend_all(run, user):
    enrolment = factories.make_enrolment(run, user)
    for day in run.days:
        factories.make_attendance(enrolment, day)
    return enrolment


@pytest.fixture
def world(app):
    """Socialcenter Amager (leader Hanne) > Familieteam (inherits Hanne), Ungeteam (its own leader Ulla);
    Socialcenter Valby apart. Methods FRL and SoS; Pia completed FRL, Per is enrolled on SoS, Ida (Ungeteam)
    completed FRL, Vera is in Valby."""
    amager = factories.make_unit("Socialcenter Amager")
    family = factories.make_unit("Familieteam Amager", parent=amager)
    youth = factories.make_unit("Ungeteam Amager", parent=amager)
    valby = factories.make_unit("Socialcenter Valby")
    caseworker, youth_worker = factories.make_staff_role("Sagsbehandler"), factories.make_staff_role("Ungemedarbejder")
    frl, sos = factories.make_method("Familierådslagning"), factories.make_method("Signs of Safety")
    factories.make_method("Ubrugt metode")  # taught by no run: no column
    done_run = factories.make_course_run(days=PAST, methods=[frl], status=RunStatus.COMPLETED)
    future_run = factories.make_course_run(days=FUTURE, methods=[sos])
    absent_run = factories.make_course_run(days=PAST, methods=[sos], status=RunStatus.COMPLETED)
    head = factories.make_leader(amager, factories.make_user(name="Hanne Centerchef", unit=amager))
    youth_lead = factories.make_leader(youth, factories.make_user(name="Ulla Ungeleder", unit=youth))
    pia = factories.make_user(name="Pia Familie", unit=family, staff_role=caseworker)
    per = factories.make_user(name="Per Familie", unit=family, staff_role=youth_worker)
    ida = factories.make_user(name="Ida Unge", unit=youth, staff_role=caseworker)
    vera = factories.make_user(name="Vera Valby", unit=valby, staff_role=caseworker)
    attend_all(done_run, pia)
    attend_all(done_run, ida)
    factories.make_enrolment(future_run, per)
    absent = factories.make_enrolment(absent_run, pia)  # missed a day: SoS not completed
    factories.make_attendance(absent, absent_run.days[0], present=False)
    return {
        "amager": amager.id,
        "family": family.id,
        "youth": youth.id,
        "valby": valby.id,
        "caseworker": caseworker.id,
        "head": head,
        "youth_lead": youth_lead,
        "pia": pia.id,
        "per": per.id,
        "ida": ida.id,
        "vera": vera.id,
    }


@pytest.fixture
def as_head(client, login_as, world):
    login_as(world["head"])
    return client


def test_coordinator_sees_the_unit_and_everything_below(client, login_as, coordinator, world):
    login_as(coordinator)
    html = client.get(f"/competence/units/{world['amager']}").get_data(as_text=True)
    for name in ("Pia Familie", "Per Familie", "Ida Unge", "Hanne Centerchef"):
        assert name in html
    assert "Vera Valby" not in html
    assert "Familierådslagning" in html and "Signs of Safety" in html and "Ubrugt metode" not in html
    assert "Gennemført 1. december 2025" in html  # the follow-up day
    assert "Tilmeldt (starter 4. maj 2026)" in html
    assert client.get(f"/competence/units/{world['valby']}").status_code == 200
    index = client.get("/competence/").get_data(as_text=True)
    assert "Socialcenter Amager" in index and "Socialcenter Valby" in index


def test_a_leader_sees_only_the_units_they_lead(as_head, world):
    html = as_head.get(f"/competence/units/{world['amager']}").get_data(as_text=True)
    assert "Pia Familie" in html and "Per Familie" in html
    assert "Ida Unge" not in html  # the Ungeteam has its own leader
    assert as_head.get(f"/competence/units/{world['family']}").status_code == 200  # inherited
    assert as_head.get(f"/competence/units/{world['youth']}").status_code == 404
    assert as_head.get(f"/competence/units/{world['valby']}").status_code == 404
    assert as_head.get(f"/competence/units/{world['valby']}/overview.xlsx").status_code == 404
    assert as_head.get("/competence/units/999999").status_code == 404
    index = as_head.get("/competence/").get_data(as_text=True)
    assert "Socialcenter Amager" in index and "Socialcenter Valby" not in index
    assert 'href="/competence/"' in as_head.get("/me/courses").get_data(as_text=True)  # the navigation


def test_the_sub_unit_leader_sees_their_team(client, login_as, world):
    login_as(world["youth_lead"])
    html = client.get(f"/competence/units/{world['youth']}").get_data(as_text=True)
    assert "Ida Unge" in html and "Pia Familie" not in html
    assert client.get(f"/competence/units/{world['amager']}").status_code == 404


def test_staff_who_lead_nothing_are_refused(client, login_as, world):
    login_as(db.session.get(User, world["pia"]))
    assert client.get("/competence/").status_code == 404
    assert client.get(f"/competence/units/{world['family']}").status_code == 404
    assert 'href="/competence/"' not in client.get("/me/courses").get_data(as_text=True)


def test_provider_is_refused(client, login_as, world, provider_user):
    login_as(provider_user)
    assert client.get("/competence/").status_code == 403
    assert client.get(f"/competence/units/{world['amager']}").status_code == 403


def test_filter_by_staff_role_and_unit(client, login_as, coordinator, world):
    login_as(coordinator)
    url = f"/competence/units/{world['amager']}"
    html = client.get(f"{url}?rolle={world['caseworker']}").get_data(as_text=True)
    assert "Pia Familie" in html and "Ida Unge" in html and "Per Familie" not in html
    html = client.get(f"{url}?enhed={world['family']}").get_data(as_text=True)
    assert "Pia Familie" in html and "Per Familie" in html and "Ida Unge" not in html
    # A unit outside the overview, or no id at all: a message next to the field, the filter ignored.
    for bad in (str(world["valby"]), "abc"):
        response = client.get(f"{url}?enhed={bad}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "Vælg en af mulighederne på listen." in html
        assert "Ida Unge" in html and "Per Familie" in html


def test_leader_cannot_filter_into_a_unit_they_do_not_lead(as_head, world):
    html = as_head.get(f"/competence/units/{world['amager']}?enhed={world['youth']}").get_data(as_text=True)
    assert "Vælg en af mulighederne på listen." in html
    assert "Ida Unge" not in html


def test_xlsx_export_reads_back(client, login_as, coordinator, world):
    hostile = factories.make_user(name='=HYPERLINK("x")', unit=db.session.get(Unit, world["family"]))
    login_as(coordinator)
    response = client.get(f"/competence/units/{world['amager']}/overview.xlsx?rolle=&enhed={world['family']}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("no-store")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Navn", "Stillingsbetegnelse", "Enhed", "Familierådslagning", "Signs of Safety")
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {"Pia Familie", "Per Familie", '=HYPERLINK("x")'}
    assert by_name["Pia Familie"][3].date() == date(2025, 12, 1)
    assert by_name["Pia Familie"][4] is None
    assert by_name["Per Familie"][4] == "Tilmeldt (starter 4. maj 2026)"
    assert by_name["Per Familie"][2] == "Socialcenter Amager › Familieteam Amager"
    cell = next(c for c in sheet["A"] if c.value == '=HYPERLINK("x")')
    assert cell.data_type == "s" and cell.quotePrefix
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "competence.export"))
    assert entry.object_id == world["amager"]
    subjects = set(db.session.scalars(select(AuditEntrySubject.user_id).where(AuditEntrySubject.entry_id == entry.id)))
    assert subjects == {world["pia"], world["per"], hostile.id}


def test_a_view_is_audited_naming_everybody_shown(as_head, world):
    as_head.get(f"/competence/units/{world['amager']}")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "competence.view"))
    assert entry.actor_id == world["head"].id and entry.object_id == world["amager"]
    subjects = set(db.session.scalars(select(AuditEntrySubject.user_id).where(AuditEntrySubject.entry_id == entry.id)))
    assert subjects == {world["pia"], world["per"]}  # Hanne herself is no lookup


def test_statements_do_not_grow_with_the_people(client, login_as, coordinator, world):
    login_as(coordinator)
    url = f"/competence/units/{world['family']}"
    run_id = factories.make_course_run(days=FUTURE, methods=[factories.make_method()], capacity=500).id
    counts = []
    for grow in (1, 9, 40):
        family, run = db.session.get(Unit, world["family"]), db.session.get(CourseRun, run_id)
        for _ in range(grow):
            attend_all(run, factories.make_user(unit=family))
        statements, body = statements_and_body_for_get(client, url)
        assert_rows(body, r"Bruger \d+", grow)
        counts.append(len(statements))
    assert len(set(counts)) == 1, counts
    assert counts[0] <= READ_LOGGED, counts


def test_dashboard_result_links_to_the_overview(client, login_as, coordinator):
    login_as(coordinator)
    programme = factories.make_programme()
    html = client.get(f"/programmes/{programme.id}/dashboard").get_data(as_text=True)
    assert 'href="/competence/"' in html
