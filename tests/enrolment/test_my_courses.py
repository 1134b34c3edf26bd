""" "Mine kurser" (GET /me/courses): the staff member's own runs with status, every course day (date, weekday,
time, place), attendance and completion, overlaps, history; the staff home page and navigation."""

from __future__ import annotations

from datetime import date, time

import pytest

from app.courses.models import RunStatus
from app.extensions import db
from tests import factories
from tests.querycount import recorded_statements

TODAY = date(2026, 3, 1)
DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))
DEADLINE = date(2026, 4, 1)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: TODAY)


@pytest.fixture
def run(app):
    return factories.make_course_run(
        days=DAYS,
        capacity=2,
        enrolment_deadline=DEADLINE,
        title="Familierådslagning, hold 1",
        venue="Kursuscenter Valby",
    )


@pytest.fixture
def me(run):
    (user,) = factories.make_eligible_staff(run, 1, name="Sofie Sagsbehandler")
    return user


def html(response) -> str:
    return response.get_data(as_text=True)


def another_run(me, title: str, days=(date(2026, 5, 5), date(2026, 5, 6), date(2026, 8, 5)), **kw):
    other = factories.make_course_run(days=days, enrolment_deadline=DEADLINE, title=title, **kw)
    other.eligible_roles.append(me.staff_role)
    db.session.commit()
    return other


def section(page: str, start: str, end: str | None = None) -> str:
    """The part of `page` from the heading `start` to `end` (or the end)."""
    begin = page.index(start)
    return page[begin : page.index(end, begin) if end else None]


def test_my_courses_shows_my_runs_with_status_and_every_day(client, login_as, run, me):
    run.days[2].venue = "Rådhuset, mødesal 3"
    run.days[2].starts_at, run.days[2].ends_at = time(10), time(13)
    db.session.commit()
    factories.make_enrolment(run, me, note="Vegetar")
    vilde = factories.make_provider(name="Vilde Læreprocesser")
    full = another_run(me, "Signs of Safety, hold 2", capacity=1, provider=vilde)
    seated, first = factories.make_eligible_staff(full, 2)
    factories.make_enrolment(full, seated)
    factories.make_enrolment(full, first, status="waitlisted")
    factories.make_enrolment(full, me, status="waitlisted")
    waiting = another_run(
        me, "Netværksmøder, hold 1", days=(date(2026, 6, 2), date(2026, 6, 3), date(2026, 9, 2)), requires_approval=True
    )
    factories.make_enrolment(waiting, me, status="requested")

    login_as(me)
    response = client.get("/me/courses")
    assert response.status_code == 200
    page = html(response)
    assert "<h1>Mine kurser</h1>" in page
    mine = section(page, "Mine tilmeldinger")
    # the run, linked, with its status, provider and days
    assert f'<a href="/runs/{run.id}">Familierådslagning, hold 1</a>' in mine
    assert 'class="badge badge-success">Tilmeldt</span>' in mine
    assert f"Udbyder: {run.provider.name}" in mine
    assert "<td>tirsdag</td>" in mine and "<td>onsdag</td>" in mine
    assert "14. april 2026" in mine and "15. april 2026" in mine and "15. juli 2026" in mine
    assert "kl. 09.00–kl. 15.30" in mine
    assert "kl. 10.00–kl. 13.00" in mine
    assert "Kursuscenter Valby" in mine and "Rådhuset, mødesal 3" in mine
    assert "1. undervisningsdag" in mine and "Opfølgningsdag" in mine
    # waiting list with the position, and awaiting approval
    assert "Venteliste nr. 2" in mine
    assert "Du er nr. 2 på ventelisten." in mine
    assert "Udbyder: Vilde Læreprocesser" in mine
    assert "Afventer godkendelse" in mine
    # sorted by first day: April, May, June
    assert mine.index("Familierådslagning") < mine.index("Signs of Safety") < mine.index("Netværksmøder, hold 1")
    assert "Tidligere tilmeldinger" not in page


def test_completed_when_present_on_all_three_days(client, login_as, run, me):
    enrolment = factories.make_enrolment(run, me)
    for day in run.days:
        factories.make_attendance(enrolment, day, present=True)
    partly = another_run(me, "Positive Inquiry, hold 1")
    other_enrolment = factories.make_enrolment(partly, me)
    factories.make_attendance(other_enrolment, partly.days[0], present=True)
    factories.make_attendance(other_enrolment, partly.days[1], present=False)

    login_as(me)
    page = html(client.get("/me/courses"))
    completed = section(page, "Familierådslagning, hold 1", "Positive Inquiry, hold 1")
    assert 'class="badge badge-success">Gennemført</span>' in completed
    assert completed.count("<td>Mødt</td>") == 3
    partial = section(page, "Positive Inquiry, hold 1")
    assert "Gennemført" not in partial
    assert 'class="badge badge-success">Tilmeldt</span>' in partial
    assert partial.count("<td>Mødt</td>") == 1
    assert partial.count("<td>Ikke mødt</td>") == 1
    assert "Ikke registreret" in partial


def test_history_is_a_separate_section(client, login_as, run, me):
    factories.make_enrolment(run, me, status="cancelled")
    rejected = another_run(me, "Afvist forløb")
    factories.make_enrolment(rejected, me, status="rejected")
    moved_from = another_run(me, "Gammelt forløb")
    old = factories.make_enrolment(moved_from, me, status="moved")
    target = another_run(me, "Nyt forløb", days=(date(2026, 6, 2), date(2026, 6, 3), date(2026, 9, 2)))
    factories.make_enrolment(target, me, moved_from_id=old.id)

    login_as(me)
    page = html(client.get("/me/courses"))
    current = section(page, "Mine tilmeldinger", "Tidligere tilmeldinger")
    history = section(page, "Tidligere tilmeldinger")
    assert "Nyt forløb" in current
    assert "Familierådslagning, hold 1" not in current
    for title, label in (
        ("Familierådslagning, hold 1", "Afmeldt"),
        ("Afvist forløb", "Afvist"),
        ("Gammelt forløb", "Flyttet"),
    ):
        assert title in history
        assert f">{label}</span>" in history
    assert "Nyt forløb" not in history


def test_only_history_still_shows_the_way_to_the_runs(client, login_as, run, me):
    factories.make_enrolment(run, me, status="cancelled")
    login_as(me)
    page = html(client.get("/me/courses"))
    assert "Du har ingen aktuelle tilmeldinger." in page
    assert 'href="/runs"' in page


def test_overlapping_runs_are_warned(client, login_as, run, me):
    factories.make_enrolment(run, me)
    clash = another_run(me, "Signs of Safety, hold 2", days=(DAYS[1], date(2026, 4, 22), date(2026, 7, 22)))
    factories.make_enrolment(clash, me, status="waitlisted")
    login_as(me)
    page = html(client.get("/me/courses"))
    first = page.split('<section class="my-course"')[1]
    assert "Familierådslagning, hold 1" in first
    assert "Bemærk: kursusdage overlapper med" in first
    assert f'<a href="/runs/{clash.id}">Signs of Safety, hold 2</a>' in first
    assert page.count("Bemærk: kursusdage overlapper med") == 2


def test_a_cancelled_run_is_marked_and_not_linked(client, login_as, run, me):
    factories.make_enrolment(run, me)
    run.status = RunStatus.CANCELLED
    db.session.commit()
    login_as(me)
    page = html(client.get("/me/courses"))
    assert "Kursusforløbet er aflyst" in page
    assert f'href="/runs/{run.id}"' not in page


def test_other_peoples_enrolments_are_not_shown(client, login_as, run, me):
    (colleague,) = factories.make_eligible_staff(run, 1, name="Carl Kollega")
    factories.make_enrolment(run, colleague, note="Glutenfri")
    theirs = another_run(me, "Kollegaens forløb")
    factories.make_enrolment(theirs, colleague)
    factories.make_enrolment(run, me)
    login_as(me)
    page = html(client.get("/me/courses"))
    assert "Familierådslagning, hold 1" in page
    assert "Kollegaens forløb" not in page
    assert "Carl Kollega" not in page
    assert "Glutenfri" not in page


def test_empty_state_points_to_the_run_list(client, login_as, me):
    login_as(me)
    page = html(client.get("/me/courses"))
    assert "Du er ikke tilmeldt nogen kursusforløb endnu." in page
    assert '<a href="/runs">Se de kursusforløb, du kan tilmelde dig.</a>' in page


def test_the_page_costs_the_same_number_of_queries_for_1_or_6_runs(client, login_as, run, me):
    def count() -> int:
        db.session.commit()  # the same starting point each time: nothing loaded yet
        with recorded_statements() as statements:
            assert client.get("/me/courses").status_code == 200
        return len(statements)

    factories.make_enrolment(run, me)
    login_as(me)
    few = count()
    for n in range(5):
        other = another_run(me, f"Forløb {n}", days=(date(2026, 5, 5 + n), date(2026, 5, 12 + n), date(2026, 8, 5 + n)))
        factories.make_enrolment(other, me, status="waitlisted" if n % 2 else "confirmed")
    many = count()
    assert many == few + 1  # + the waiting-list positions, one query for all


def test_the_staff_home_page_is_my_courses_and_it_leads_the_navigation(client, login_as, me):
    login_as(me)
    response = client.get("/")
    assert response.status_code == 302
    assert response.location == "/me/courses"
    page = html(client.get("/me/courses"))
    nav = section(page, '<ul class="mainmenu">', "</ul>")
    assert nav.index("<span>Mine kurser</span>") < nav.index("<span>Kursusforløb</span>")
    assert 'aria-current="page"><span>Mine kurser</span>' in nav


@pytest.mark.parametrize("who", ["coordinator", "provider_user"])
def test_coordinator_and_provider_have_no_my_courses(client, login_as, who, request):
    login_as(request.getfixturevalue(who))
    assert client.get("/me/courses").status_code == 403
    assert "Mine kurser" not in html(client.get("/runs"))


def test_anonymous_is_sent_to_login(client):
    response = client.get("/me/courses")
    assert response.status_code == 302
    assert response.location.startswith("/login")
