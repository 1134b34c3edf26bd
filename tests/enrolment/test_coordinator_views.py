"""The coordinator's enrolment pages through HTTP, as a browser: the participants section of the run page,
on-behalf enrolment, cancellation with promotion, approval, promotion by hand, moves, history, capacity
changes in the run form, and access (staff 403, provider 403, anonymous to login, no CSRF 400, 404)."""

from __future__ import annotations

import re
from datetime import UTC, date

import pytest
from sqlalchemy import func, select

from app.core.exceptions import DomainError
from app.courses import services as course_services
from app.courses.forms import CourseRunForm
from app.courses.models import RunKind, RunStatus
from app.enrolment import services
from app.enrolment.models import Enrolment, EnrolmentEvent, EnrolmentStatus, EventKind
from app.extensions import db
from tests import factories
from tests.conftest import post_action, post_form
from tests.enrolment.spring import DAYS, NOW, TODAY, hold_a
from tests.querycount import recorded_statements

pytestmark = pytest.mark.usefixtures("spring")


@pytest.fixture
def run(app, fic_provider):
    return hold_a(fic_provider, capacity=2)


@pytest.fixture
def as_coordinator(client, login_as, coordinator):
    login_as(coordinator)
    return coordinator


def html(response) -> str:
    return response.get_data(as_text=True)


def run_url(run) -> str:
    return f"/runs/{run.id}"


def fresh(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def enrolments_of(run) -> list[tuple[int, EnrolmentStatus]]:
    rows = db.session.scalars(select(Enrolment).where(Enrolment.course_run_id == run.id).order_by(Enrolment.id))
    return [(e.user_id, e.status) for e in rows]


def field_error(page: str, field_id: str) -> str:
    """The error message shown next to the field (the forms macro's markup)."""
    match = re.search(rf'<span class="form-error-message" id="{field_id}-error">.*?</span>(.*?)</span>', page, re.S)
    assert match, f"no error at field {field_id}"
    return match.group(1).strip()


def staff_with_unit(run, n: int) -> list:
    unit = factories.make_unit("Børne- og Familieteam Nørrebro")
    return factories.make_eligible_staff(run, n, unit=unit)


# -- the participants section ----------------------------------------------------------------------


def test_run_page_lists_confirmed_waiting_and_history_with_counts(client, as_coordinator, run):
    a, b, c, d = staff_with_unit(run, 4)
    factories.make_enrolment(run, a, note="Vegetar")
    factories.make_enrolment(run, b)
    waiting = factories.make_enrolment(run, c, status="waitlisted")
    factories.make_enrolment(run, d, status="cancelled")
    page = html(client.get(run_url(run)))
    assert "Tilmeldte (2)" in page
    assert "Venteliste (1)" in page
    assert "2 af 2 pladser er besat – der er 0 ledige pladser." in page
    assert "Historik: afmeldte, afviste og flyttede (1)" in page
    assert a.email in page and "Vegetar" in page and "Børne- og Familieteam Nørrebro" in page
    assert a.staff_role.name in page
    assert f'formaction="/enrolments/{waiting.id}/promote"' in page
    assert "Tilmeld medarbejder" in page
    assert "Registrér fremmøde for 1. undervisningsdag" in page


def fresh_enrolment(run, user) -> Enrolment:
    return db.session.scalars(
        select(Enrolment)
        .where(Enrolment.course_run_id == run.id, Enrolment.user_id == user.id)
        .order_by(Enrolment.id.desc())
    ).first()


def test_provider_sees_the_lists_and_attendance_links_but_no_actions(client, login_as, provider_user, run):
    a, b = staff_with_unit(run, 2)
    factories.make_enrolment(run, a, note="Kørestol")
    factories.make_enrolment(run, b, status="waitlisted")
    login_as(provider_user)
    page = html(client.get(run_url(run)))
    assert a.name in page and "Kørestol" in page and b.name in page
    assert "/attendance" in page
    for action in ("/cancel", "/promote", "/move", "/history", "/approve", '/enrolments"', "/complete"):
        assert action not in page
    assert "Tilmeld medarbejder" not in page


def count_queries(client, url: str) -> int:
    with recorded_statements() as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_the_run_page_costs_the_same_queries_for_3_or_15_participants(client, as_coordinator, fic_provider):
    counts = []
    for n in (3, 15):
        run = factories.make_course_run(provider=fic_provider, days=DAYS, capacity=n, enrolment_deadline=DAYS[0])
        role = factories.make_staff_role()
        run.eligible_roles.append(role)
        for i in range(n + 2):
            user = factories.make_user(staff_role=role, unit=factories.make_unit())
            factories.make_enrolment(run, user, status="confirmed" if i < n else "waitlisted")
        counts.append(count_queries(client, run_url(run)))
    assert counts[0] == counts[1]


# -- enrol on someone's behalf ---------------------------------------------------------------------


def test_coordinator_enrols_staff_confirmed_then_on_the_waiting_list(client, as_coordinator, run):
    a, b, c = factories.make_eligible_staff(run, 3)
    for user in (a, b):
        response = post_form(client, f"/runs/{run.id}/enrolments", {"user_id": str(user.id), "note": "Gluten"})
        assert response.status_code == 302
        assert response.location == f"/runs/{run.id}#deltagere"
    response = post_form(client, f"/runs/{run.id}/enrolments", {"user_id": str(c.id)}, follow_redirects=True)
    assert "Kursusforløbet er fuldt. " + c.name + " er sat på ventelisten som nr. 1." in html(response)
    assert enrolments_of(run) == [
        (a.id, EnrolmentStatus.CONFIRMED),
        (b.id, EnrolmentStatus.CONFIRMED),
        (c.id, EnrolmentStatus.WAITLISTED),
    ]
    event_ = db.session.scalars(select(EnrolmentEvent).order_by(EnrolmentEvent.id)).first()
    assert (event_.kind, event_.actor_id) == (EventKind.CONFIRMED, as_coordinator.id)
    assert fresh_enrolment(run, a).note == "Gluten"


def test_on_behalf_enrolment_after_the_deadline_and_into_an_approval_run(client, as_coordinator, run):
    run.requires_approval = True
    run.enrolment_deadline = date(2026, 2, 1)
    db.session.commit()
    (a,) = factories.make_eligible_staff(run, 1)
    response = post_form(client, f"/runs/{run.id}/enrolments", {"user_id": str(a.id)}, follow_redirects=True)
    assert f"{a.name} er tilmeldt kursusforløbet." in html(response)
    assert enrolments_of(run) == [(a.id, EnrolmentStatus.CONFIRMED)]


def test_special_run_form_asks_for_the_practice_case(client, as_coordinator, fic_provider):
    run = factories.make_course_run(provider=fic_provider, days=DAYS, kind=RunKind.SPECIAL, enrolment_deadline=DAYS[0])
    (a,) = factories.make_eligible_staff(run, 1)
    assert 'name="practice_case"' in html(client.get(f"/runs/{run.id}/enrolments"))
    post_form(
        client, f"/runs/{run.id}/enrolments", {"user_id": str(a.id), "practice_case": "Netværksmøde om skolestart"}
    )
    assert fresh_enrolment(run, a).practice_case == "Netværksmøde om skolestart"
    assert "Netværksmøde om skolestart" in html(client.get(run_url(run)))


def test_standard_run_form_has_no_practice_case(client, as_coordinator, run):
    assert 'name="practice_case"' not in html(client.get(run_url(run)))
    assert 'name="practice_case"' not in html(client.get(f"/runs/{run.id}/enrolments"))


def test_an_unknown_person_is_refused_with_a_message(client, as_coordinator, run):
    response = post_form(client, f"/runs/{run.id}/enrolments", {"user_id": "999999"})
    assert response.status_code == 200
    assert "Medarbejderen findes ikke længere. Søg igen." in html(response)
    assert enrolments_of(run) == []


def test_already_enrolled_is_refused_with_the_name(client, as_coordinator, run):
    (a,) = factories.make_eligible_staff(run, 1, name="Ulla Ungemedarbejder")
    factories.make_enrolment(run, a, status="waitlisted")
    response = post_form(client, f"/runs/{run.id}/enrolments", {"user_id": str(a.id)})
    assert "Ulla Ungemedarbejder står allerede på ventelisten." in html(response)
    assert enrolments_of(run) == [(a.id, EnrolmentStatus.WAITLISTED)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"user_id": ""}, "Søg medarbejderen frem, og vælg Tilmeld ud for navnet."),
        ({"user_id": "abc"}, "Søg medarbejderen frem, og vælg Tilmeld ud for navnet."),
        ({"user_id": "{coordinator}"}, "Kun aktive medarbejdere kan tilmeldes."),
        ({"user_id": "{staff}", "note": "n" * 501}, "Skriv højst 500 tegn."),
    ],
)
def test_bad_on_behalf_input_shows_a_message_and_enrols_nobody(client, as_coordinator, run, data, message):
    (a,) = factories.make_eligible_staff(run, 1)
    data = {
        k: v.replace("{staff}", str(a.id)).replace("{coordinator}", str(as_coordinator.id)) for k, v in data.items()
    }
    response = post_form(client, f"/runs/{run.id}/enrolments", data)
    assert response.status_code == 200
    assert message in html(response)
    assert enrolments_of(run) == []


def test_enrolment_into_a_draft_run_is_refused_with_a_message(client, as_coordinator, run):
    run.status = RunStatus.DRAFT
    db.session.commit()
    (a,) = factories.make_eligible_staff(run, 1)
    response = post_form(client, f"/runs/{run.id}/enrolments", {"user_id": str(a.id)})
    assert "Kun offentliggjorte kursusforløb kan have deltagere. Dette kursusforløb er en kladde." in html(response)
    assert enrolments_of(run) == []


def test_a_busy_run_answers_503_with_the_message(client, as_coordinator, run, monkeypatch):
    (a,) = factories.make_eligible_staff(run, 1)

    def busy(*args, **kwargs):
        raise services.Busy(services.busy_message())

    monkeypatch.setattr(services, "lock_run", busy)
    response = post_form(client, f"/runs/{run.id}/enrolments", {"user_id": str(a.id)})
    assert response.status_code == 503
    assert "Der er mange tilmeldinger til kursusforløbet lige nu." in html(response)
    assert enrolments_of(run) == []


# -- cancel, approve, reject, promote --------------------------------------------------------------


def test_cancel_by_the_coordinator_promotes_the_first_on_the_waiting_list(client, as_coordinator, run):
    a, b, c, d = factories.make_eligible_staff(run, 4)
    first = factories.make_enrolment(run, a)
    factories.make_enrolment(run, b)
    third = factories.make_enrolment(run, c, status="waitlisted")
    fourth = factories.make_enrolment(run, d, status="waitlisted")
    response = post_action(client, f"/enrolments/{first.id}/cancel", from_url=run_url(run), follow_redirects=True)
    assert f"{a.name} er afmeldt." in html(response)
    assert fresh(first).status == EnrolmentStatus.CANCELLED
    assert fresh(third).status == EnrolmentStatus.CONFIRMED
    assert services.waitlist_positions([run.id]) == {fourth.id: 1}
    assert fresh(run).seats_taken == 2
    promoted = db.session.scalars(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id == third.id)).one()
    assert (promoted.kind, promoted.actor_id) == (EventKind.PROMOTED, None)


def test_cancelling_twice_is_refused_with_a_message(client, as_coordinator, run):
    (a,) = factories.make_eligible_staff(run, 1)
    enrolment = factories.make_enrolment(run, a, status="cancelled")
    response = post_action(client, f"/enrolments/{enrolment.id}/cancel", from_url=run_url(run), follow_redirects=True)
    assert "Tilmeldingen er allerede afmeldt." in html(response)


def test_approval_flow(client, as_coordinator, run):
    run.requires_approval = True
    db.session.commit()
    a, b, c, d = factories.make_eligible_staff(run, 4)
    requested = []
    for user in (a, b, c, d):
        requested.append(services.enrol(user, run.id, user, NOW, TODAY))
        db.session.commit()
    assert all(e.status == EnrolmentStatus.REQUESTED for e in requested)
    page = html(client.get(run_url(run)))
    assert "Afventer godkendelse (4)" in page
    assert "Tilmeldte (0)" in page

    for e in requested[:2]:
        response = post_action(client, f"/enrolments/{e.id}/approve", from_url=run_url(run), follow_redirects=True)
        assert f"{e.user.name} er godkendt og tilmeldt." in html(response)
    response = post_action(
        client, f"/enrolments/{requested[2].id}/approve", from_url=run_url(run), follow_redirects=True
    )
    assert f"{c.name} er godkendt. Kursusforløbet er fuldt, så {c.name} er sat på ventelisten som nr. 1." in html(
        response
    )
    response = post_action(
        client, f"/enrolments/{requested[3].id}/reject", from_url=run_url(run), follow_redirects=True
    )
    assert f"Tilmeldingen fra {d.name} er afvist." in html(response)
    assert [fresh(e).status for e in requested] == [
        EnrolmentStatus.CONFIRMED,
        EnrolmentStatus.CONFIRMED,
        EnrolmentStatus.WAITLISTED,
        EnrolmentStatus.REJECTED,
    ]
    response = post_action(
        client, f"/enrolments/{requested[3].id}/approve", from_url=run_url(run), follow_redirects=True
    )
    assert "Kun tilmeldinger, der afventer godkendelse, kan godkendes." in html(response)
    assert fresh(requested[3]).status == EnrolmentStatus.REJECTED
    history = html(client.get(f"/enrolments/{requested[3].id}/history"))
    assert "Tilmelding sendt til godkendelse" in history and "Afvist" in history


def test_promote_by_hand_any_waiting_person_when_a_seat_is_free(client, as_coordinator, run):
    a, b, c, d = factories.make_eligible_staff(run, 4)
    factories.make_enrolment(run, a)
    factories.make_enrolment(run, b)
    first_waiting = factories.make_enrolment(run, c, status="waitlisted")
    second_waiting = factories.make_enrolment(run, d, status="waitlisted")
    response = post_action(
        client, f"/enrolments/{second_waiting.id}/promote", from_url=run_url(run), follow_redirects=True
    )
    assert "Der er ingen ledige pladser. Sæt antallet af pladser op, eller afmeld en deltager først." in html(response)
    assert fresh(second_waiting).status == EnrolmentStatus.WAITLISTED

    run = fresh(run)
    run.capacity = 3
    db.session.commit()
    response = post_action(
        client, f"/enrolments/{second_waiting.id}/promote", from_url=run_url(run), follow_redirects=True
    )
    assert f"{d.name} er rykket op fra ventelisten og er nu tilmeldt." in html(response)
    assert fresh(second_waiting).status == EnrolmentStatus.CONFIRMED
    assert services.waitlist_positions([run.id]) == {first_waiting.id: 1}
    assert fresh(run).seats_taken == 3


# -- move ------------------------------------------------------------------------------------------


@pytest.fixture
def target(run, fic_provider):
    return factories.make_course_run(
        programme=run.programme,
        provider=fic_provider,
        days=(date(2026, 5, 5), date(2026, 5, 6), date(2026, 8, 6)),
        capacity=5,
        enrolment_deadline=date(2026, 4, 20),
        title="Hold B",
    )


def test_move_to_another_run_of_the_programme(client, as_coordinator, run, target):
    a, b, c = factories.make_eligible_staff(run, 3)
    moving = factories.make_enrolment(run, a)
    factories.make_enrolment(run, b)
    waiting = factories.make_enrolment(run, c, status="waitlisted")
    other_programme = factories.make_course_run(days=DAYS, title="Andet program")

    page = html(client.get(f"/enrolments/{moving.id}/move"))
    assert "Hold B, 5. maj 2026 (5 ledige pladser)" in page
    assert "Andet program" not in page

    response = post_form(client, f"/enrolments/{moving.id}/move", {"target": str(target.id)}, follow_redirects=True)
    assert f"{a.name} er flyttet til Hold B og er tilmeldt dér." in html(response)
    old = fresh(moving)
    new = fresh_enrolment(target, a)
    assert old.status == EnrolmentStatus.MOVED
    assert (new.status, new.moved_from_id) == (EnrolmentStatus.CONFIRMED, old.id)
    assert fresh(waiting).status == EnrolmentStatus.CONFIRMED  # the freed seat went to the waiting list
    assert fresh(run).seats_taken == 2 and fresh(target).seats_taken == 1

    history = html(client.get(f"/enrolments/{old.id}/history"))
    assert "Flyttet til et andet kursusforløb" in history
    assert f'href="/enrolments/{new.id}/history"' in history
    assert "Flyttet hertil fra et andet kursusforløb" in html(client.get(f"/enrolments/{new.id}/history"))
    assert other_programme.id != target.id


@pytest.mark.parametrize("which", ["same", "other_programme", "junk", "blank"])
def test_move_is_refused_to_the_same_run_another_programme_or_junk(client, as_coordinator, run, target, which):
    (a,) = factories.make_eligible_staff(run, 1)
    moving = factories.make_enrolment(run, a)
    other = factories.make_course_run(days=DAYS, title="Andet program")
    value = {"same": str(run.id), "other_programme": str(other.id), "junk": "abc", "blank": ""}[which]
    response = post_form(client, f"/enrolments/{moving.id}/move", {"target": value})
    assert response.status_code == 200
    expected = (
        "Vælg det kursusforløb, deltageren skal flyttes til."
        if which in ("junk", "blank")
        else "Vælg et kursusforløb på listen."
    )
    assert field_error(html(response), "target") == expected
    assert fresh(moving).status == EnrolmentStatus.CONFIRMED
    assert enrolments_of(target) == []


def test_move_page_without_targets_says_so(client, as_coordinator, run):
    (a,) = factories.make_eligible_staff(run, 1)
    moving = factories.make_enrolment(run, a)
    page = html(client.get(f"/enrolments/{moving.id}/move"))
    assert "Der er ingen andre offentliggjorte kursusforløb i indsatsen" in page
    assert 'name="target"' not in page


def test_moving_an_inactive_enrolment_is_refused(client, as_coordinator, run, target):
    (a,) = factories.make_eligible_staff(run, 1)
    cancelled = factories.make_enrolment(run, a, status="cancelled")
    assert "Tilmeldingen er afmeldt og kan ikke flyttes." in html(client.get(f"/enrolments/{cancelled.id}/move"))
    response = post_form(client, f"/enrolments/{cancelled.id}/move", {"target": str(target.id)}, form_url=run_url(run))
    assert "Kun aktive tilmeldinger kan flyttes. Denne er afmeldt." in html(response)
    assert enrolments_of(target) == []


# -- history ---------------------------------------------------------------------------------------


def test_history_shows_what_when_and_who(client, as_coordinator, run):
    a, b = factories.make_eligible_staff(run, 2, name="Hanne Hjemmevejleder")
    run.capacity = 1
    db.session.commit()
    services.enrol(a, run.id, a, NOW, TODAY)
    waiting = services.enrol(b, run.id, b, NOW, TODAY)
    db.session.commit()
    first = fresh_enrolment(run, a)
    post_action(client, f"/enrolments/{first.id}/cancel", from_url=run_url(run))

    page = html(client.get(f"/enrolments/{first.id}/history"))
    assert "Historik for Hanne Hjemmevejleder" in page
    assert "Tilmeldt" in page and "Afmeldt" in page
    assert "Karin Koordinator" in page  # who cancelled
    assert "1. mar. 2026" in page and "10.00" in page  # when (09.00 UTC is 10.00 in Copenhagen)

    promoted = html(client.get(f"/enrolments/{waiting.id}/history"))
    assert "Sat på venteliste" in promoted
    assert "Rykket op fra ventelisten" in promoted
    assert "Systemet" in promoted


# -- capacity in the run form ----------------------------------------------------------------------


@pytest.fixture
def editable_run(run):
    method = factories.make_method()
    run.methods.append(method)
    factories.make_eligible_staff(run, 1)
    db.session.commit()
    return run


def edit_payload(run, **overrides) -> dict:
    data = CourseRunForm.initial_data(run)
    payload = {}
    for name, value in data.items():
        if isinstance(value, list):
            payload[name] = [str(v) for v in value]
        elif value is None:
            payload[name] = ""
        elif name.endswith(("_start", "_end")):
            payload[name] = value.strftime("%H:%M")
        elif isinstance(value, bool):
            if value:
                payload[name] = "y"
        else:
            payload[name] = str(value)
    payload["action"] = "save"
    payload.update(overrides)
    return payload


def test_capacity_below_the_confirmed_is_refused_at_the_field(client, as_coordinator, editable_run):
    run = editable_run
    a, b = factories.make_eligible_staff(run, 2)
    factories.make_enrolment(run, a)
    factories.make_enrolment(run, b)
    response = post_form(client, f"/runs/{run.id}/edit", edit_payload(run, capacity="1"))
    assert response.status_code == 200
    assert field_error(html(response), "capacity") == (
        "Der er 2 tilmeldte, så antallet af pladser kan ikke sættes lavere. Afmeld eller flyt deltagere først."
    )
    assert fresh(run).capacity == 2


def test_raising_the_capacity_promotes_the_waiting_list(client, as_coordinator, editable_run):
    run = editable_run
    a, b, c, d, e = factories.make_eligible_staff(run, 5)
    factories.make_enrolment(run, a)
    factories.make_enrolment(run, b)
    waiting = [factories.make_enrolment(run, u, status="waitlisted") for u in (c, d, e)]
    response = post_form(client, f"/runs/{run.id}/edit", edit_payload(run, capacity="4"))
    assert response.status_code == 302
    assert [fresh(w).status for w in waiting] == [
        EnrolmentStatus.CONFIRMED,
        EnrolmentStatus.CONFIRMED,
        EnrolmentStatus.WAITLISTED,
    ]
    assert services.waitlist_positions([run.id]) == {waiting[2].id: 1}
    run = fresh(run)
    assert (run.capacity, run.seats_taken) == (4, 4)


def test_requires_approval_is_set_in_the_run_form_and_shown(client, as_coordinator, editable_run):
    run = editable_run
    response = post_form(client, f"/runs/{run.id}/edit", edit_payload(run, requires_approval="y"))
    assert response.status_code == 302
    assert fresh(run).requires_approval is True
    page = html(client.get(run_url(run)))
    assert re.search(r"Kræver godkendelse</th><td>Ja</td>", page)
    assert re.search(r'<input [^>]*checked[^>]*name="requires_approval"', html(client.get(f"/runs/{run.id}/edit")))
    post_form(client, f"/runs/{run.id}/edit", edit_payload(fresh(run), requires_approval=None))
    assert fresh(run).requires_approval is False


def test_requires_leader_approval_is_set_in_the_run_form_and_shown(client, as_coordinator, editable_run):
    run = editable_run
    response = post_form(client, f"/runs/{run.id}/edit", edit_payload(run, requires_leader_approval="y"))
    assert response.status_code == 302
    assert (fresh(run).requires_leader_approval, fresh(run).requires_approval) == (True, False)
    assert re.search(r"Kræver lederens godkendelse</th><td>Ja</td>", html(client.get(run_url(run))))
    post_form(client, f"/runs/{run.id}/edit", edit_payload(fresh(run), requires_leader_approval=None))
    assert fresh(run).requires_leader_approval is False


def test_update_course_run_service_checks_capacity_and_fills_new_seats(coordinator, editable_run):
    run = editable_run
    a, b, c = factories.make_eligible_staff(run, 3)
    factories.make_enrolment(run, a)
    factories.make_enrolment(run, b)
    waiting = factories.make_enrolment(run, c, status="waitlisted")
    form_data = CourseRunForm.initial_data(run)
    form = CourseRunForm(data={**form_data, "capacity": 1}, meta={"csrf": False})
    with pytest.raises(DomainError) as info:
        course_services.update_course_run(coordinator, run, form.as_data(), {}, 3, NOW, TODAY)
    assert info.value.field == "capacity"
    db.session.rollback()
    form = CourseRunForm(data={**form_data, "capacity": 3}, meta={"csrf": False})
    course_services.update_course_run(coordinator, run, form.as_data(), {}, 3, NOW, TODAY)
    db.session.commit()
    assert fresh(waiting).status == EnrolmentStatus.CONFIRMED
    event_ = db.session.scalars(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id == waiting.id)).one()
    assert (event_.kind, event_.actor_id, event_.created_at.replace(tzinfo=UTC)) == (
        EventKind.PROMOTED,
        coordinator.id,
        NOW,
    )


# -- access ----------------------------------------------------------------------------------------


@pytest.fixture
def scene(run, target):
    a, b = factories.make_eligible_staff(run, 2)
    confirmed = factories.make_enrolment(run, a)
    requested = factories.make_enrolment(run, b, status="requested")
    return {"run": run, "confirmed": confirmed, "requested": requested, "target": target}


def coordinator_routes(scene) -> list[tuple[str, str]]:
    run, e, r = scene["run"], scene["confirmed"], scene["requested"]
    return [
        ("GET", f"/runs/{run.id}/enrolments"),
        ("GET", f"/runs/{run.id}/enrolments/search?q=an"),
        ("POST", f"/runs/{run.id}/enrolments"),
        ("POST", f"/enrolments/{e.id}/cancel"),
        ("POST", f"/enrolments/{r.id}/approve"),
        ("POST", f"/enrolments/{r.id}/reject"),
        ("POST", f"/enrolments/{e.id}/promote"),
        ("GET", f"/enrolments/{e.id}/move"),
        ("POST", f"/enrolments/{e.id}/move"),
        ("GET", f"/enrolments/{e.id}/history"),
        ("POST", f"/runs/{run.id}/complete"),
    ]


def nothing_changed(scene) -> bool:
    db.session.expire_all()
    return (
        fresh(scene["confirmed"]).status == EnrolmentStatus.CONFIRMED
        and fresh(scene["requested"]).status == EnrolmentStatus.REQUESTED
        and fresh(scene["run"]).status == RunStatus.PUBLISHED
        and db.session.scalar(select(func.count()).select_from(Enrolment)) == 2
    )


@pytest.mark.parametrize("who", ["staff", "provider"])
def test_staff_and_providers_get_403_on_every_coordinator_route(client, login_as, scene, provider_user, who):
    user = factories.make_eligible_staff(scene["run"], 1)[0] if who == "staff" else provider_user
    login_as(user)
    for method, url in coordinator_routes(scene):
        if method == "GET":
            response = client.get(url)
        else:
            response = post_form(
                client, url, {"target": str(scene["target"].id), "user_id": str(user.id)}, form_url="/runs"
            )
        assert response.status_code == 403, (method, url)
    assert nothing_changed(scene)


def test_anonymous_users_are_sent_to_login(client, scene):
    for method, url in coordinator_routes(scene):
        response = client.get(url) if method == "GET" else post_form(client, url, form_url="/login")
        assert response.status_code == 302, (method, url)
        assert response.location.startswith("/login"), (method, url)
    assert nothing_changed(scene)


def test_posts_without_csrf_are_400(client, as_coordinator, scene):
    for method, url in coordinator_routes(scene):
        if method == "POST":
            assert client.post(url, data={"user_id": "1"}).status_code == 400, url
    assert nothing_changed(scene)


def test_unknown_ids_are_404(client, as_coordinator, scene):
    for method, url in coordinator_routes(scene):
        url = re.sub(r"/(runs|enrolments)/\d+", r"/\1/999999", url)
        response = client.get(url) if method == "GET" else post_form(client, url, form_url="/runs")
        assert response.status_code == 404, (method, url)
