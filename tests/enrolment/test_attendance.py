"""Attendance per course day (coordinator and the run's own provider) and marking a run completed, through
HTTP as a browser: the form, bad ids, future days, access, completion on the run page."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.courses.models import RunStatus
from app.enrolment.models import Attendance, Enrolment
from app.extensions import db
from tests import factories
from tests.conftest import post_action, post_form

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))
AFTER = date(2026, 8, 1)


class Clock:
    today = AFTER


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    state = Clock()
    monkeypatch.setattr("app.core.clock.today", lambda: state.today)
    monkeypatch.setattr("app.core.clock.utcnow", lambda: NOW)
    return state


@pytest.fixture
def run(app, fic_provider):
    return factories.make_course_run(
        provider=fic_provider, days=DAYS, capacity=3, enrolment_deadline=date(2026, 4, 1), title="Hold A"
    )


@pytest.fixture
def people(run):
    unit = factories.make_unit("Socialcenter Amager")
    a, b, c = factories.make_eligible_staff(run, 3, unit=unit)
    return {
        "a": factories.make_enrolment(run, a),
        "b": factories.make_enrolment(run, b),
        "waiting": factories.make_enrolment(run, c, status="waitlisted"),
    }


def html(response) -> str:
    return response.get_data(as_text=True)


def url(run, day) -> str:
    return f"/runs/{run.id}/days/{day.id}/attendance"


def marks(run) -> dict[tuple[int, int], bool]:
    db.session.expire_all()
    rows = db.session.execute(
        select(Attendance.enrolment_id, Attendance.course_day_id, Attendance.present)
        .join(Enrolment)
        .where(Enrolment.course_run_id == run.id)
    )
    return {(e, d): p for e, d, p in rows}


def attendance_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(Attendance))


def checked_ids(page: str) -> set[str]:
    return set(re.findall(r'<input [^>]*checked[^>]*name="present" type="checkbox" value="(\d+)"', page))


# -- the form --------------------------------------------------------------------------------------


def test_coordinator_registers_who_was_present(client, login_as, coordinator, run, people):
    login_as(coordinator)
    day1 = run.days[0]
    page = html(client.get(url(run, day1)))
    assert "Fremmøde: 1. undervisningsdag" in page
    assert people["a"].user.name in page and "Socialcenter Amager" in page
    assert people["waiting"].user.name not in page  # only confirmed participants
    assert checked_ids(page) == set()

    response = post_form(client, url(run, day1), {"present": [str(people["a"].id)], "action": "save"})
    assert response.status_code == 302
    assert response.location == f"/runs/{run.id}#fremmoede"
    assert marks(run) == {(people["a"].id, day1.id): True, (people["b"].id, day1.id): False}
    page = html(client.get(response.location))
    assert "Fremmødet for 1. undervisningsdag er gemt: 1 af 2 mødt." in page
    assert "2 af 2 registreret, 1 mødt" in page
    assert "Ikke mødt" in page

    # the form shows what was registered, and a correction replaces it
    assert checked_ids(html(client.get(url(run, day1)))) == {str(people["a"].id)}
    post_form(client, url(run, day1), {"present": [str(people["b"].id)], "action": "save"})
    assert marks(run) == {(people["a"].id, day1.id): False, (people["b"].id, day1.id): True}


@pytest.mark.parametrize(
    ("language", "link", "saved"),
    [
        ("da", "Registrér fremmøde for opfølgningsdagen", "Fremmødet for opfølgningsdagen er gemt: 2 af 2 mødt."),
        ("en", "Record attendance for the follow-up day", "Attendance for the follow-up day has been saved: 2 of 2"),
    ],
)
def test_the_follow_up_day_is_named_in_its_definite_form(
    client, login_as, coordinator, run, people, language, link, saved
):
    """Issue 21: the day's label lower-cased into a sentence read "for opfølgningsdag" / "for Follow-up day"."""
    coordinator.locale = language
    login_as(coordinator)
    assert link in html(client.get(f"/runs/{run.id}"))
    response = post_form(client, url(run, run.days[2]), {"action": "all"})
    assert saved in html(client.get(response.location))


def test_mark_all_ticks_every_confirmed_participant(client, login_as, coordinator, run, people):
    login_as(coordinator)
    day = run.days[2]
    post_form(client, url(run, day), {"action": "all"})
    assert marks(run) == {(people["a"].id, day.id): True, (people["b"].id, day.id): True}


def test_nobody_ticked_registers_everyone_as_absent(client, login_as, coordinator, run, people):
    login_as(coordinator)
    day = run.days[1]
    post_form(client, url(run, day), {"action": "save"})
    assert marks(run) == {(people["a"].id, day.id): False, (people["b"].id, day.id): False}


def test_the_runs_own_provider_registers_attendance(client, login_as, provider_user, run, people):
    login_as(provider_user)
    day = run.days[0]
    assert client.get(url(run, day)).status_code == 200
    response = post_form(client, url(run, day), {"present": [str(people["b"].id)], "action": "save"})
    assert response.status_code == 302
    assert marks(run)[(people["b"].id, day.id)] is True
    assert "Fremmødet for 1. undervisningsdag er gemt" in html(client.get(response.location))


@pytest.mark.parametrize(
    "values",
    [["abc"], ["{waiting}"], ["{other_run}"], ["999999"], ["{a}", "-1"], ["9" * 5000]],
)
def test_bad_ids_are_refused_with_a_message_and_change_nothing(client, login_as, coordinator, run, people, values):
    other = factories.make_course_run(days=DAYS)
    (stranger,) = factories.make_eligible_staff(other, 1)
    other_enrolment = factories.make_enrolment(other, stranger)
    ids = {"{waiting}": people["waiting"].id, "{other_run}": other_enrolment.id, "{a}": people["a"].id}
    values = [str(ids.get(v, v)) for v in values]
    login_as(coordinator)
    response = post_form(client, url(run, run.days[0]), {"present": values, "action": "save"})
    assert response.status_code == 200
    page = html(response)
    assert (
        "Kun kursusforløbets tilmeldte deltagere kan registreres som mødt." in page
        or "Vi kunne ikke se, hvem du satte kryds ved." in page
    )
    assert attendance_rows() == 0


def test_a_future_day_is_refused_with_the_services_message(client, login_as, coordinator, run, people, clock):
    clock.today = DAYS[0]
    login_as(coordinator)
    day2 = run.days[1]
    page = html(client.get(url(run, day2)))
    assert "Dagen er ikke kommet endnu. Du kan registrere fremmøde fra 15. april 2026." in page
    assert "Gem fremmøde" not in page and "Markér alle som mødt" not in page and 'name="present"' not in page
    assert people["a"].user.name not in page, "no names before the day"
    response = post_form(client, url(run, day2), {"present": [str(people["a"].id)], "action": "save"})
    assert response.status_code == 200
    refused_page = html(response)
    assert refused_page.count("Fremmøde kan først registreres på dagen (15. april 2026).") == 1
    assert "Dagen er ikke kommet endnu" not in refused_page, "the refusal is said once"
    assert "Gem fremmøde" not in refused_page
    assert attendance_rows() == 0
    # JSON bodies are refused the same way, and change nothing
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    as_json = client.post(url(run, day2), json={"present": [people["a"].id]}, headers={"X-CSRFToken": token.group(1)})
    assert as_json.status_code in (200, 400) and attendance_rows() == 0
    # the day itself is fine
    assert post_form(client, url(run, run.days[0]), {"action": "all"}).status_code == 302
    assert attendance_rows() == 2


def test_a_run_without_participants_says_so(client, login_as, coordinator, run):
    login_as(coordinator)
    page = html(client.get(url(run, run.days[0])))
    assert "Der er ingen tilmeldte deltagere på kursusforløbet" in page
    assert 'name="present"' not in page


# -- access ----------------------------------------------------------------------------------------


def test_another_providers_user_gets_404(client, login_as, run, people):
    vilde = factories.make_provider(name="Vilde Læreprocesser")
    login_as(factories.make_user(access_level="provider", provider=vilde))
    assert client.get(url(run, run.days[0])).status_code == 404
    response = post_form(client, url(run, run.days[0]), {"action": "all"}, form_url="/runs")
    assert response.status_code == 404
    assert attendance_rows() == 0


def test_provider_cannot_see_a_draft_runs_attendance(client, login_as, provider_user, run, people):
    run.status = RunStatus.DRAFT
    db.session.commit()
    login_as(provider_user)
    assert client.get(url(run, run.days[0])).status_code == 404


def test_staff_get_403(client, login_as, run, people):
    login_as(people["a"].user)
    assert client.get(url(run, run.days[0])).status_code == 403
    response = post_form(client, url(run, run.days[0]), {"action": "all"}, form_url="/runs")
    assert response.status_code == 403
    assert attendance_rows() == 0


def test_a_day_of_another_run_and_unknown_ids_are_404(client, login_as, coordinator, run, people):
    other = factories.make_course_run(days=DAYS)
    login_as(coordinator)
    assert client.get(url(run, other.days[0])).status_code == 404
    assert client.get(f"/runs/{run.id}/days/999999/attendance").status_code == 404
    assert client.get(f"/runs/999999/days/{run.days[0].id}/attendance").status_code == 404


def test_anonymous_is_sent_to_login_and_no_csrf_is_400(client, login_as, coordinator, run, people):
    response = client.get(url(run, run.days[0]))
    assert response.status_code == 302 and response.location.startswith("/login")
    login_as(coordinator)
    assert client.post(url(run, run.days[0]), data={"action": "all"}).status_code == 400
    assert attendance_rows() == 0


# -- completion ------------------------------------------------------------------------------------


def test_completion_after_all_three_days_and_the_run_marked_completed(client, login_as, coordinator, run, people):
    login_as(coordinator)
    a, b = people["a"], people["b"]
    for day in run.days:
        present = [str(a.id)] if day.position != 3 else [str(a.id), str(b.id)]
        post_form(client, url(run, day), {"present": present, "action": "save"})
    page = html(client.get(f"/runs/{run.id}"))
    assert "1 deltager har gennemført (mødt op på alle tre kursusdage)." in page
    assert f'action="/runs/{run.id}/complete"' in page

    response = post_action(client, f"/runs/{run.id}/complete", from_url=f"/runs/{run.id}", follow_redirects=True)
    page = html(response)
    assert "Kursusforløbet Hold A er markeret som gennemført." in page
    assert "Gennemført" in page
    db.session.expire_all()
    assert db.session.get(type(run), run.id).status == RunStatus.COMPLETED


def test_the_run_cannot_be_completed_while_something_is_missing(client, login_as, coordinator, run, people, clock):
    clock.today = date(2026, 7, 1)  # the follow-up day lies ahead
    login_as(coordinator)
    post_form(client, url(run, run.days[0]), {"action": "all"})
    page = html(client.get(f"/runs/{run.id}"))
    assert "Kursusforløbet kan endnu ikke markeres som gennemført:" in page
    assert "Kursusforløbets sidste dag er ikke passeret endnu." in page
    assert "Fremmøde mangler for 2 deltagere på 2. undervisningsdag (15. april 2026)." in page
    assert f'action="/runs/{run.id}/complete"' not in page

    response = post_action(client, f"/runs/{run.id}/complete", from_url=f"/runs/{run.id}", follow_redirects=True)
    assert "Kursusforløbets sidste dag er ikke passeret endnu." in html(response)
    db.session.expire_all()
    assert db.session.get(type(run), run.id).status == RunStatus.PUBLISHED


def test_only_the_coordinator_completes_a_run(client, login_as, provider_user, run, people):
    login_as(provider_user)
    assert f'action="/runs/{run.id}/complete"' not in html(client.get(f"/runs/{run.id}"))
    response = post_form(client, f"/runs/{run.id}/complete", form_url="/runs")
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(type(run), run.id).status == RunStatus.PUBLISHED
