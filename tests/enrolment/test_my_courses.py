""" "Mine kurser" (GET /me/courses): the staff member's own runs with status, every course day (date, weekday,
time, place), attendance and completion, overlaps, history; the staff home page and navigation."""

from __future__ import annotations

from datetime import date, time

import pytest

from app.courses.models import RunStatus
from app.extensions import db
from tests import factories
from tests.conftest import post_form
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
    mine = section(page, "Kommende kurser")
    # the run, linked, with its status, provider and days
    assert f'<a href="/runs/{run.id}">Familierådslagning, hold 1</a>' in mine
    assert 'class="badge badge-success">Tilmeldt</span>' in mine
    assert f"Udbyder: {run.provider.name}" in mine
    assert "tirsdag 14. april 2026" in mine and "onsdag 15. april 2026" in mine and "onsdag 15. juli 2026" in mine
    assert "kl. 09.00–15.30" in mine
    assert "kl. 10.00–13.00" in mine
    assert "Kursuscenter Valby" in mine and "Rådhuset, mødesal 3" in mine
    assert "1. undervisningsdag" in mine and "Opfølgningsdag" in mine
    # waiting list with the position, and awaiting approval
    assert "Venteliste nr. 2" in mine
    assert "Du er nr. 2 på ventelisten." in mine
    assert "Udbyder: Vilde Læreprocesser" in mine
    assert "Afventer godkendelse" in mine
    # sorted by first day: April, May, June
    assert mine.index("Familierådslagning") < mine.index("Signs of Safety") < mine.index("Netværksmøder, hold 1")
    assert "Tidligere kurser" not in page


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
    assert completed.count("Fremmøde: Mødt") == 3
    partial = section(page, "Positive Inquiry, hold 1")
    assert "Gennemført" not in partial
    assert 'class="badge badge-success">Tilmeldt</span>' in partial
    assert partial.count("Fremmøde: Mødt") == 1
    assert partial.count("Fremmøde: Ikke mødt") == 1
    assert partial.count("Fremmøde:") == 2  # the day not registered says nothing


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
    current = section(page, "Kommende kurser", "Tidligere kurser")
    history = section(page, "Tidligere kurser")
    assert "<summary" in history and "Tidligere kurser (3)" in history
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
    first = page.split('<section class="card collapsed-height my-course"')[1]
    assert "Familierådslagning, hold 1" in first
    assert (
        f'Bemærk: kursusdagene overlapper med dine kursusdage i <a href="/runs/{clash.id}">Signs of Safety, hold 2</a>.'
        in first
    )
    assert page.count("Bemærk: kursusdagene overlapper med dine kursusdage i") == 2


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


# -- issue 21: upcoming first, the past folded away, one card per run, cancel here, the note kept -----------


def cancel_url(run) -> str:
    return f"/runs/{run.id}/cancel"


def test_upcoming_runs_come_first_soonest_first_and_the_rest_is_folded_away(client, login_as, run, me):
    june = another_run(me, "Juni-forløb", days=(date(2026, 6, 2), date(2026, 6, 3), date(2026, 9, 2)))
    factories.make_enrolment(june, me)
    factories.make_enrolment(run, me)  # April: sooner, though enrolled later
    held = another_run(me, "Holdt forløb", days=(date(2025, 9, 2), date(2025, 9, 3), date(2025, 12, 3)))
    factories.make_enrolment(held, me)  # confirmed, but its days are over
    older = another_run(me, "Ældre forløb", days=(date(2025, 1, 7), date(2025, 1, 8), date(2025, 4, 8)))
    factories.make_enrolment(older, me)
    left = another_run(me, "Afmeldt forløb")
    factories.make_enrolment(left, me, status="cancelled")

    login_as(me)
    page = html(client.get("/me/courses"))
    upcoming = section(page, "<h2>Kommende kurser</h2>", "Tidligere kurser")
    assert upcoming.index("Familierådslagning, hold 1") < upcoming.index("Juni-forløb")
    for title in ("Holdt forløb", "Ældre forløb", "Afmeldt forløb"):
        assert title not in upcoming
    past = section(page, '<details class="details my-courses-past">', "</details>")
    assert "Tidligere kurser (3)" in section(past, "<summary", "</summary>")
    assert "<details " in past and " open" not in section(past, "<details", ">")  # folded: no JS needed
    # the latest first among the past ones
    assert past.index("Afmeldt forløb") < past.index("Holdt forløb") < past.index("Ældre forløb")


def test_a_run_cancelled_and_joined_again_is_one_card_with_its_history(client, login_as, clock, run, me):
    clock.set(date(2026, 2, 3))
    assert enrol_on_run_page(client, login_as, run, me).status_code == 302
    clock.set(date(2026, 2, 5))
    login_as(me)  # two days later: a new session
    assert post_form(client, cancel_url(run), form_url="/me/courses").status_code == 302
    clock.set(date(2026, 2, 9))
    assert enrol_on_run_page(client, login_as, run, me).status_code == 302

    page = html(client.get("/me/courses"))
    assert page.count(">Familierådslagning, hold 1</a></h3>") == 1
    assert "Tidligere kurser" not in page  # not again as "Afmeldt" below
    card = section(page, "<h2>Kommende kurser</h2>", "</section>")
    assert 'class="badge badge-success">Tilmeldt</span>' in card
    assert "Historik:</span> Tilmeldt 3. feb. 2026, afmeldt 5. feb. 2026, tilmeldt igen 9. feb. 2026</p>" in card


def enrol_on_run_page(client, login_as, run, me, data=None, login=True):
    if login:
        login_as(me)
    return post_form(client, f"/runs/{run.id}/enrol", data or {}, form_url=f"/runs/{run.id}")


def test_cancel_from_the_page_asks_first_as_the_run_page_does(client, login_as, run, me):
    factories.make_enrolment(run, me)
    login_as(me)
    page = html(client.get("/me/courses"))
    question = "Vil du afmelde dig Familierådslagning, hold 1?"
    button = f'<button type="submit" class="button button-secondary" data-confirm="{question}">Afmeld mig</button>'
    assert f'<form method="post" action="{cancel_url(run)}" class="inline-form">' in page
    assert button in page
    # the run page's button: the same form, the same question
    assert button in html(client.get(f"/runs/{run.id}"))

    response = post_form(client, cancel_url(run), form_url="/me/courses")
    assert response.status_code == 302 and response.location == "/me/courses"
    page = html(client.get(response.location))
    assert "Du er afmeldt Familierådslagning, hold 1." in page
    assert "Tidligere kurser (1)" in page
    assert f'action="{cancel_url(run)}"' not in page


def test_no_cancel_button_after_the_deadline_for_a_seat_but_the_waiting_list_may_leave(
    client, login_as, run, me, monkeypatch
):
    factories.make_enrolment(run, me)
    queue = another_run(me, "Fuldt forløb", capacity=1)
    fill = factories.make_eligible_staff(queue, 1)[0]
    factories.make_enrolment(queue, fill)
    factories.make_enrolment(queue, me, status="waitlisted")
    monkeypatch.setattr("app.core.clock.today", lambda: date(2026, 4, 2))  # the day after the deadline
    login_as(me)
    page = html(client.get("/me/courses"))
    assert f'action="{cancel_url(run)}"' not in page
    assert f'action="{cancel_url(queue)}"' in page and ">Forlad ventelisten</button>" in page


def test_enrolling_again_offers_the_earlier_note_and_the_provider_sees_it(app, client, login_as, clock, run, me):
    clock.set(date(2026, 2, 3))
    assert enrol_on_run_page(client, login_as, run, me, {"note": "Vegetar, kørestol"}).status_code == 302
    clock.set(date(2026, 2, 5))
    login_as(me)  # two days later: a new session
    assert post_form(client, cancel_url(run), form_url="/me/courses").status_code == 302

    form = html(client.get(f"/runs/{run.id}"))  # the same session: the form a moment after cancelling
    textarea = section(form, '<textarea aria-describedby="note-hint"', "</textarea>")
    assert "Vegetar, kørestol" in textarea
    assert "Bemærkningen fra din tidligere tilmelding er udfyldt; ret eller slet den." in form
    clock.set(date(2026, 2, 9))
    assert enrol_on_run_page(client, login_as, run, me, {"note": "Vegetar, kørestol"}).status_code == 302

    provider = factories.make_user(access_level="provider", provider=run.provider, email="udbyder@test.dk")
    other = app.test_client()
    assert post_form(other, "/login", {"email": provider.email, "password": factories.PASSWORD}).status_code == 302
    participants = html(other.get(f"/runs/{run.id}"))
    confirmed = section(participants, 'id="tilmeldte"', "</table>")
    assert "Sofie Sagsbehandler" in confirmed and "Vegetar, kørestol" in confirmed


def test_the_earlier_note_can_be_cleared(client, login_as, run, me):
    factories.make_enrolment(run, me, status="cancelled", note="Glutenfri")
    assert enrol_on_run_page(client, login_as, run, me, {"note": ""}).status_code == 302
    db.session.expire_all()
    notes = sorted((e.note or "") for e in run_enrolments(run))
    assert notes == ["", "Glutenfri"]


def test_no_earlier_note_no_prefill(client, login_as, run, me):
    (colleague,) = factories.make_eligible_staff(run, 1)
    factories.make_enrolment(run, colleague, status="cancelled", note="Kollegaens note")
    login_as(me)
    page = html(client.get(f"/runs/{run.id}"))
    assert "Kollegaens note" not in page
    assert "Bemærkningen fra din tidligere tilmelding" not in page


def run_enrolments(run):
    from sqlalchemy import select

    from app.enrolment.models import Enrolment

    return list(db.session.scalars(select(Enrolment).where(Enrolment.course_run_id == run.id)))
