"""The staff member's side of enrolment over HTTP, as a browser does it (CSRF included): the panel on the
run page, POST /runs/<id>/enrol, POST /runs/<id>/cancel, the run list's seats and own status, and every
refusal's message (never a 500)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.courses.models import RunKind, RunStatus
from app.enrolment import services
from app.enrolment.models import Enrolment, EnrolmentStatus
from app.extensions import db
from tests import factories
from tests.conftest import csrf_token_from, post_form

TODAY = date(2026, 3, 1)
DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))
DEADLINE = date(2026, 4, 1)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: TODAY)


@pytest.fixture
def run(app):
    return factories.make_course_run(
        days=DAYS, capacity=2, enrolment_deadline=DEADLINE, title="Familierådslagning, hold 1"
    )


@pytest.fixture
def me(run):
    (user,) = factories.make_eligible_staff(run, 1, name="Sofie Sagsbehandler")
    return user


def html(response) -> str:
    return response.get_data(as_text=True)


def run_url(run) -> str:
    return f"/runs/{run.id}"


def enrol(client, run, data=None, **kw):
    """Submit the enrol form of the run page, as the browser does."""
    return post_form(client, f"/runs/{run.id}/enrol", data or {}, form_url=run_url(run), **kw)


def cancel(client, run, **kw):
    return post_form(client, f"/runs/{run.id}/cancel", {}, form_url=run_url(run), **kw)


def rows(run) -> list[tuple[int, EnrolmentStatus]]:
    db.session.expire_all()
    found = db.session.scalars(select(Enrolment).where(Enrolment.course_run_id == run.id).order_by(Enrolment.id))
    return [(e.user_id, e.status) for e in found]


def fill(run, n: int) -> list:
    """`n` other staff members with confirmed seats."""
    others = factories.make_eligible_staff(run, n)
    for other in others:
        factories.make_enrolment(run, other)
    return others


# -- the panel and enrolling --------------------------------------------------------------------------


def test_the_panel_offers_the_enrol_form_with_seats_left(client, login_as, run, me):
    login_as(me)
    page = html(client.get(run_url(run)))
    assert "Din tilmelding" in page
    assert "2 ledige pladser af 2." in page
    assert f'action="/runs/{run.id}/enrol"' in page
    assert 'Bemærkning <span class="weight-normal">(valgfri)</span>' in page
    assert "F.eks. kost eller tilgængelighed." in page
    assert "Udbyderen ser bemærkningen på deltagerlisten." in page
    assert ">Tilmeld</button>" in page
    assert 'name="practice_case"' not in page  # a standard run has no practice case
    assert "afventer kursuskoordinatorens godkendelse" not in page


def test_staff_member_enrols_and_is_confirmed(client, login_as, run, me):
    login_as(me)
    response = enrol(client, run, {"note": "  Vegetar  "})
    assert response.status_code == 302
    assert response.location == f"/runs/{run.id}#tilmelding"
    enrolment = db.session.scalars(select(Enrolment)).one()
    assert (enrolment.user_id, enrolment.status) == (me.id, EnrolmentStatus.CONFIRMED)
    assert enrolment.note == "Vegetar"
    assert enrolment.practice_case is None
    db.session.refresh(run)
    assert run.seats_taken == 1

    page = html(client.get(response.location))
    assert "Du er tilmeldt Familierådslagning, hold 1." in page
    assert "Du er tilmeldt kursusforløbet." in page
    assert "Afmeld mig" in page
    assert 'name="note"' not in page  # no second form once enrolled


def test_a_full_run_offers_and_gives_the_waiting_list_with_the_position(client, login_as, run, me):
    fill(run, 2)
    (first_waiting,) = factories.make_eligible_staff(run, 1)
    factories.make_enrolment(run, first_waiting, status="waitlisted")
    login_as(me)
    page = html(client.get(run_url(run)))
    assert "Kursusforløbet er fuldt. Tilmelder du dig" in page and "pladser)" not in page
    assert ">Skriv mig på ventelisten</button>" in page

    response = enrol(client, run)
    assert response.status_code == 302
    assert rows(run)[-1] == (me.id, EnrolmentStatus.WAITLISTED)
    db.session.refresh(run)
    assert run.seats_taken == 2  # never above capacity
    page = html(client.get(response.location))
    assert "Du er sat på ventelisten som nr. 2." in page
    assert "Du er nr. 2 på ventelisten" in page
    assert "Forlad ventelisten" in page


def test_a_run_that_requires_approval_says_so_and_the_enrolment_waits(client, login_as, run, me):
    run.requires_approval = True
    db.session.commit()
    login_as(me)
    assert "Kursuskoordinatoren skal godkende din tilmelding, før du får en plads." in html(client.get(run_url(run)))
    response = enrol(client, run)
    assert rows(run) == [(me.id, EnrolmentStatus.REQUESTED)]
    db.session.refresh(run)
    assert run.seats_taken == 0
    page = html(client.get(response.location))
    assert "Din tilmelding til Familierådslagning, hold 1 afventer godkendelse fra kursuskoordinatoren." in page
    assert "Afventer godkendelse" in page


def test_a_special_run_requires_the_practice_case_at_its_field(client, login_as, run, me):
    run.kind = RunKind.SPECIAL
    db.session.commit()
    login_as(me)
    page = html(client.get(run_url(run)))
    assert 'name="practice_case"' in page
    assert "Skriv ikke navne, CPR-numre eller andre oplysninger om borgere." in page
    assert "din egen praktiske opgave" in page

    response = enrol(client, run, {"practice_case": "   ", "note": "Vegetar"})
    assert response.status_code == 200
    page = html(response)
    assert 'id="practice_case-error"' in page
    assert "Beskriv den sag eller det netværksmøde, du vil arbejde med i forløbet." in page
    assert "Vegetar" in page  # what was typed is kept
    assert rows(run) == []

    response = enrol(client, run, {"practice_case": "Netværksmøde om skolefravær i min egen sag"})
    assert response.status_code == 302
    enrolment = db.session.scalars(select(Enrolment)).one()
    assert enrolment.practice_case == "Netværksmøde om skolefravær i min egen sag"


def test_a_standard_run_ignores_a_practice_case(client, login_as, run, me):
    login_as(me)
    enrol(client, run, {"practice_case": "sneaked in"})
    assert db.session.scalars(select(Enrolment)).one().practice_case is None


@pytest.mark.parametrize(
    ("data", "field"),
    [({"note": "x" * 501}, "note"), ({"practice_case": "x" * 2001}, "practice_case")],
)
def test_too_long_texts_are_refused_at_the_field(client, login_as, run, me, data, field):
    run.kind = RunKind.SPECIAL
    db.session.commit()
    login_as(me)
    response = enrol(client, run, {"practice_case": "Min sag", **data})
    assert response.status_code == 200
    page = html(response)
    assert f'id="{field}-error"' in page
    assert "Skriv højst" in page
    assert rows(run) == []


def test_a_field_error_from_the_service_lands_at_the_field(client, login_as, run, me, monkeypatch):
    """The service's own length check (in case form and service ever differ) is mapped onto the field."""
    monkeypatch.setattr(services, "NOTE_MAX", 3)
    login_as(me)
    response = enrol(client, run, {"note": "Vegetar"})
    assert response.status_code == 200
    assert 'id="note-error"' in html(response)
    assert "Skriv højst 3 tegn." in html(response)
    assert rows(run) == []


def test_a_double_submit_gives_one_enrolment_and_says_already_enrolled(client, login_as, run, me):
    login_as(me)
    token = csrf_token_from(html(client.get(run_url(run))))
    first = client.post(f"/runs/{run.id}/enrol", data={"csrf_token": token})
    second = client.post(f"/runs/{run.id}/enrol", data={"csrf_token": token})
    assert (first.status_code, second.status_code) == (302, 302)
    assert rows(run) == [(me.id, EnrolmentStatus.CONFIRMED)]
    page = html(client.get(second.location))
    assert "Du er allerede tilmeldt dette kursusforløb." in page
    db.session.refresh(run)
    assert run.seats_taken == 1


def test_a_double_submit_of_an_invalid_form_still_says_already_enrolled(client, login_as, run, me):
    factories.make_enrolment(run, me)
    login_as(me)
    response = post_form(client, f"/runs/{run.id}/enrol", {"note": "x" * 600}, form_url="/me/courses")
    assert response.status_code == 302
    assert "Du er allerede tilmeldt dette kursusforløb." in html(client.get(response.location))


# -- refusals -----------------------------------------------------------------------------------------


def _other_role(run, user):
    user.staff_role = factories.make_staff_role("Hjemmevejleder")
    db.session.commit()


def _draft(run, user):
    run.status = RunStatus.DRAFT
    db.session.commit()


def _cancelled(run, user):
    run.status = RunStatus.CANCELLED
    db.session.commit()


@pytest.mark.parametrize("change", [_other_role, _draft, _cancelled], ids=["other-role", "draft", "cancelled"])
def test_a_direct_post_to_a_run_the_user_may_not_see_is_404(client, login_as, run, me, change):
    """As the run page itself: the existence of a run the user may not see is not theirs to learn."""
    change(run, me)
    login_as(me)
    response = post_form(client, f"/runs/{run.id}/enrol", {}, form_url="/me/courses")
    assert response.status_code == 404
    assert run.title not in html(response)
    assert client.get(run_url(run)).status_code == 404
    assert post_form(client, f"/runs/{run.id}/cancel", {}, form_url="/me/courses").status_code == 404
    assert rows(run) == []


def test_an_invalid_form_for_a_run_the_user_may_not_see_is_404_not_the_field(client, login_as, run, me):
    run.kind, run.status = RunKind.SPECIAL, RunStatus.DRAFT
    db.session.commit()
    login_as(me)
    response = post_form(client, f"/runs/{run.id}/enrol", {"practice_case": ""}, form_url="/me/courses")
    assert response.status_code == 404
    assert rows(run) == []


def test_a_run_the_user_is_enrolled_on_stays_visible_when_their_role_changes(client, login_as, run, me):
    """Their own enrolment is theirs to see: Mine kurser links to the run page, which must then open."""
    factories.make_enrolment(run, me)
    _other_role(run, me)
    login_as(me)
    assert f'href="/runs/{run.id}"' in html(client.get("/me/courses"))
    page = client.get(run_url(run))
    assert page.status_code == 200
    assert client.get(f"/runs/{run.id}.ics").status_code == 200
    response = post_form(client, f"/runs/{run.id}/enrol", {}, form_url="/me/courses")
    assert response.status_code == 302
    assert "ikke åbent for din stillingsbetegnelse" in html(client.get(response.location))
    response = post_form(client, f"/runs/{run.id}/cancel", {}, form_url="/me/courses")
    assert response.status_code == 302
    assert rows(run) == [(me.id, EnrolmentStatus.CANCELLED)]


def test_after_the_deadline_the_panel_and_a_direct_post_say_so(client, login_as, run, me):
    run.enrolment_deadline = date(2026, 2, 28)
    db.session.commit()
    login_as(me)
    page = html(client.get(run_url(run)))
    assert "Tilmeldingsfristen var 28. februar 2026." in page
    assert 'name="note"' not in page

    response = post_form(client, f"/runs/{run.id}/enrol", {}, form_url=run_url(run))
    assert response.status_code == 302
    assert response.location == f"/runs/{run.id}#tilmelding"
    page = html(client.get(response.location))
    assert "Tilmeldingsfristen var 28. februar 2026." in page
    assert rows(run) == []


def test_a_staff_member_without_a_role_sees_no_run_404(client, login_as, run, staff_member):
    login_as(staff_member)
    response = post_form(client, f"/runs/{run.id}/enrol", {}, form_url="/me/courses")
    assert response.status_code == 404
    assert rows(run) == []


def test_busy_run_answers_503_with_the_message(client, login_as, run, me, monkeypatch):
    def busy(run_id):
        raise services.Busy(services.busy_message())

    login_as(me)
    token_page = run_url(run)
    monkeypatch.setattr(services, "lock_run", busy)
    response = post_form(client, f"/runs/{run.id}/enrol", {}, form_url=token_page)
    assert response.status_code == 503
    assert "Vent et øjeblik, og prøv igen." in html(response)
    assert rows(run) == []


def test_unknown_run_is_404(client, login_as, me):
    login_as(me)
    assert post_form(client, "/runs/999999/enrol", {}, form_url="/me/courses").status_code == 404
    assert post_form(client, "/runs/999999/cancel", {}, form_url="/me/courses").status_code == 404


def test_post_without_csrf_token_is_400(client, login_as, run, me):
    login_as(me)
    assert client.post(f"/runs/{run.id}/enrol", data={}).status_code == 400
    assert client.post(f"/runs/{run.id}/cancel", data={}).status_code == 400
    assert rows(run) == []


def test_anonymous_is_sent_to_login(client, run):
    for url in (f"/runs/{run.id}/enrol", f"/runs/{run.id}/cancel"):
        response = post_form(client, url, {}, form_url="/login")
        assert response.status_code == 302
        assert response.location.startswith("/login")


@pytest.mark.parametrize("who", ["coordinator", "provider_user"])
def test_coordinator_and_provider_cannot_use_the_staff_routes(client, login_as, run, who, request):
    login_as(request.getfixturevalue(who))
    assert post_form(client, f"/runs/{run.id}/enrol", {}, form_url="/runs").status_code == 403
    assert post_form(client, f"/runs/{run.id}/cancel", {}, form_url="/runs").status_code == 403
    assert rows(run) == []


# -- overlaps -----------------------------------------------------------------------------------------


def test_overlapping_course_days_are_warned_before_and_after_enrolling(client, login_as, run, me):
    other = factories.make_course_run(
        days=(DAYS[0], date(2026, 4, 21), date(2026, 7, 21)),
        enrolment_deadline=DEADLINE,
        title="Signs of Safety, hold 2",
    )
    other.eligible_roles.append(me.staff_role)
    db.session.commit()
    factories.make_enrolment(other, me)
    login_as(me)
    page = html(client.get(run_url(run)))
    assert (
        f'Bemærk: kursusdagene overlapper med dine kursusdage i <a href="/runs/{other.id}">Signs of Safety, hold 2</a>.'
        in page
    )
    enrol(client, run)
    page = html(client.get(run_url(run)))
    assert "Du er tilmeldt kursusforløbet." in page
    assert "Bemærk: kursusdagene overlapper med dine kursusdage i" in page


@pytest.mark.parametrize(("language", "sentence"), [("da", "{a}, {b} og {c}."), ("en", "{a}, {b} and {c}.")])
def test_several_overlapping_runs_are_listed_with_og(client, login_as, run, me, language, sentence):
    """Issue 21: "… overlapper med X, Y." had no "og" (and no article); the list is Babel's, per language,
    and a title is text, never markup."""
    links = {}
    for key, title, day in (("a", "Hold <b>A</b>", 21), ("b", "Hold B", 22), ("c", "Hold C", 23)):
        other = factories.make_course_run(
            days=(DAYS[0], date(2026, 4, day), date(2026, 7, day)), enrolment_deadline=DEADLINE, title=title
        )
        other.eligible_roles.append(me.staff_role)
        factories.make_enrolment(other, me)
        links[key] = f'<a href="/runs/{other.id}">{title.replace("<", "&lt;").replace(">", "&gt;")}</a>'
    me.locale = language
    db.session.commit()
    login_as(me)
    page = html(client.get(run_url(run)))
    assert sentence.format(**links) in page


def test_no_overlap_warning_without_overlap(client, login_as, run, me):
    login_as(me)
    assert "overlapper" not in html(client.get(run_url(run)))


# -- cancel -------------------------------------------------------------------------------------------


def test_cancel_before_the_deadline_frees_the_seat_for_the_first_on_the_waiting_list(client, login_as, run, me):
    factories.make_enrolment(run, me)
    (other,) = fill(run, 1)
    first, second = factories.make_eligible_staff(run, 2)
    factories.make_enrolment(run, first, status="waitlisted")
    factories.make_enrolment(run, second, status="waitlisted")
    login_as(me)
    page = html(client.get(run_url(run)))
    assert "Afmeld mig" in page
    assert 'data-confirm="Vil du afmelde dig Familierådslagning, hold 1?"' in page

    response = cancel(client, run)
    assert response.status_code == 302
    assert response.location == "/me/courses"
    assert "Du er afmeldt Familierådslagning, hold 1." in html(client.get(response.location))
    assert rows(run) == [
        (me.id, EnrolmentStatus.CANCELLED),
        (other.id, EnrolmentStatus.CONFIRMED),
        (first.id, EnrolmentStatus.CONFIRMED),
        (second.id, EnrolmentStatus.WAITLISTED),
    ]
    db.session.refresh(run)
    assert run.seats_taken == 2
    assert services.waitlist_positions([run.id]) == {
        db.session.scalars(select(Enrolment.id).where(Enrolment.user_id == second.id)).one(): 1
    }


def test_after_cancelling_one_may_enrol_again(client, login_as, run, me):
    factories.make_enrolment(run, me, status="cancelled")
    login_as(me)
    assert 'name="note"' in html(client.get(run_url(run)))
    enrol(client, run)
    assert rows(run) == [(me.id, EnrolmentStatus.CANCELLED), (me.id, EnrolmentStatus.CONFIRMED)]


def test_cancel_after_the_deadline_is_refused_with_whom_to_contact(client, login_as, run, me, coordinator):
    run.enrolment_deadline = date(2026, 2, 28)
    db.session.commit()
    factories.make_enrolment(run, me)
    login_as(me)
    page = html(client.get(run_url(run)))
    assert "Afmeld mig" not in page
    assert "Tilmeldingsfristen er passeret, så du kan ikke selv afmelde dig." in page
    assert "Karin Koordinator (koordinator@test.dk)" in page

    response = cancel(client, run)
    assert response.status_code == 302
    page = html(client.get(response.location))
    assert (
        "Tilmeldingsfristen er passeret, så du kan ikke selv afmelde dig. Kontakt kursuskoordinatoren: "
        "Karin Koordinator (koordinator@test.dk)." in page
    )
    assert rows(run) == [(me.id, EnrolmentStatus.CONFIRMED)]


def test_cancel_without_an_enrolment_says_so_and_leaves_others_untouched(client, login_as, run, me):
    (other,) = fill(run, 1)
    login_as(me)
    response = cancel(client, run)
    assert response.status_code == 302
    assert "Du er ikke tilmeldt dette kursusforløb." in html(client.get(response.location))
    assert rows(run) == [(other.id, EnrolmentStatus.CONFIRMED)]


def test_staff_cannot_cancel_someone_elses_enrolment_by_its_id(client, login_as, run, me):
    (other,) = fill(run, 1)
    enrolment_id = db.session.scalars(select(Enrolment.id)).one()
    login_as(me)
    response = post_form(client, f"/enrolments/{enrolment_id}/cancel", {}, form_url=run_url(run))
    assert response.status_code == 403
    assert rows(run) == [(other.id, EnrolmentStatus.CONFIRMED)]


def test_cancel_on_a_run_the_user_may_not_see_and_never_held_is_404(client, login_as, run, me):
    _draft(run, me)
    login_as(me)
    response = post_form(client, f"/runs/{run.id}/cancel", {}, form_url="/me/courses")
    assert response.status_code == 404


def test_cancel_a_cancelled_enrolment_on_a_run_no_longer_visible_goes_to_my_courses(client, login_as, run, me):
    factories.make_enrolment(run, me, status="cancelled")
    _draft(run, me)
    login_as(me)
    response = post_form(client, f"/runs/{run.id}/cancel", {}, form_url="/me/courses")
    assert response.status_code == 302
    assert response.location == "/me/courses"
    assert "Du er ikke tilmeldt dette kursusforløb." in html(client.get(response.location))


# -- the run list ---------------------------------------------------------------------------------------


def test_the_run_list_shows_seats_left_and_my_own_status(client, login_as, run, me):
    role = me.staff_role
    full = factories.make_course_run(days=DAYS, capacity=1, enrolment_deadline=DEADLINE, title="Fuldt forløb")
    open_run = factories.make_course_run(days=DAYS, capacity=5, enrolment_deadline=DEADLINE, title="Åbent forløb")
    for r in (full, open_run):
        r.eligible_roles.append(role)
    db.session.commit()
    factories.make_enrolment(run, me)
    (other,) = factories.make_eligible_staff(full, 1)
    factories.make_enrolment(full, other)
    factories.make_enrolment(full, me, status="waitlisted")
    login_as(me)
    page = html(client.get("/runs"))
    assert "Ledige pladser" in page
    assert "1 ledig" in page  # run: 2 seats, 1 taken by me
    assert "5 ledige" in page
    assert "Fuldt, venteliste" in page
    assert "Venteliste nr. 1" in page
    # once in the table and once in the phone's card (app.css shows one of them)
    assert page.count('class="badge badge-success">Tilmeldt</span>') == 2
    assert other.name not in page


def test_the_run_list_is_unchanged_for_the_coordinator(client, login_as, run, coordinator):
    login_as(coordinator)
    page = html(client.get("/runs"))
    assert '<th scope="col">Pladser</th>' in page
    assert "Ledige pladser" not in page
