"""Course-run pages: list (filters, sorting, pagination, scoping per access level, query count), detail
(access), the create/edit form with every bad input, the proposal button and JSON, publish and cancel."""

from __future__ import annotations

import re
from datetime import date, time

import pytest
from sqlalchemy import func, select

from app.courses.models import CourseRun, RunKind, RunStatus
from app.extensions import db
from tests import factories
from tests.conftest import post_action, post_form
from tests.querycount import recorded_statements

TODAY = date(2008, 9, 1)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: TODAY)


@pytest.fixture
def ref(app, coordinator):
    """Reference data for the form. Committed (with the coordinator): a refused form rolls back the
    request's session, which in tests is the one the fixtures were built in."""
    data = {
        "programme": factories.make_programme(name="Styrket forældreansvar"),
        "provider": factories.make_provider(name="Vilde Læreprocesser"),
        "methods": [factories.make_method("Signs of Safety"), factories.make_method("Netværksmøder")],
        "roles": [factories.make_staff_role("Sagsbehandler"), factories.make_staff_role("Hjemmevejleder")],
    }
    db.session.commit()
    return data


def payload(ref, **overrides) -> dict:
    data = {
        "programme_id": str(ref["programme"].id),
        "provider_id": str(ref["provider"].id),
        "title": "Netværksmøder i praksis, hold 1",
        "description": "",
        "kind": "special",
        "methods": [str(ref["methods"][1].id)],
        "staff_roles": [str(r.id) for r in ref["roles"]],
        "capacity": "12",
        "enrolment_deadline": "2008-09-15",
        "venue": "Socialcenter Nørrebro, mødelokale 2",
        "price": "41.500",
        "day1_date": "2008-09-30",
        "day1_start": "09:00",
        "day1_end": "15:30",
        "day1_venue": "",
        "day2_date": "2008-10-01",
        "day2_start": "09:00",
        "day2_end": "15:30",
        "day2_venue": "",
        "follow_up_date": "",
        "follow_up_start": "09:00",
        "follow_up_end": "12:00",
        "follow_up_venue": "Rådhuset",
        "action": "save",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def run_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CourseRun))


def html(response) -> str:
    return response.get_data(as_text=True)


def input_value(page: str, name: str) -> str | None:
    """The value attribute of the input named `name` (attributes render in alphabetical order)."""
    match = re.search(rf'<input [^>]*name="{name}"[^>]*value="([^"]*)"', page)
    return match.group(1) if match else None


# -- create -------------------------------------------------------------------------------------------


def test_coordinator_creates_a_run_through_the_form(client, login_as, coordinator, ref):
    login_as(coordinator)
    response = post_form(client, "/runs/new", payload(ref))
    assert response.status_code == 302
    run = db.session.scalars(select(CourseRun)).one()
    assert response.location == f"/runs/{run.id}"
    assert run.status == RunStatus.DRAFT
    assert run.kind == RunKind.SPECIAL
    assert run.price_ore == 4_150_000
    assert run.capacity == 12
    assert [m.name for m in run.methods] == ["Netværksmøder"]
    assert {r.name for r in run.eligible_roles} == {"Sagsbehandler", "Hjemmevejleder"}
    assert [(d.day, d.starts_at, d.ends_at, d.venue) for d in run.days] == [
        (date(2008, 9, 30), time(9), time(15, 30), None),
        (date(2008, 10, 1), time(9), time(15, 30), None),
        (date(2009, 1, 2), time(9), time(12), "Rådhuset"),
    ]
    assert run.follow_up_proposed_on == date(2009, 1, 2)

    page = html(client.get(response.location))
    assert "Kursusforløbet Netværksmøder i praksis, hold 1 er oprettet som kladde." in page
    assert (
        "Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder = 1. januar 2009, som er nytårsdag; "
        "flyttet til næste arbejdsdag)" in page
    )
    assert "Opfølgningsdagen følger forslaget." in page
    assert "41.500 kr." in page


def test_a_given_follow_up_date_overrides_the_proposal(client, login_as, coordinator, ref):
    login_as(coordinator)
    post_form(client, "/runs/new", payload(ref, follow_up_date="2009-01-08"))
    run = db.session.scalars(select(CourseRun)).one()
    assert run.follow_up_day.day == date(2009, 1, 8)
    assert run.follow_up_proposed_on == date(2009, 1, 2)
    page = html(client.get(f"/runs/{run.id}"))
    assert "Kursuskoordinatoren har valgt 8. januar 2009 i stedet for forslaget (2. januar 2009)." in page


def test_the_form_accepts_danish_dates_times_and_amounts(client, login_as, coordinator, ref):
    login_as(coordinator)
    response = post_form(
        client,
        "/runs/new",
        payload(ref, day1_date="30-09-2008", day2_date="01.10.2008", day1_start="08.30", price="41.500,50 kr."),
    )
    assert response.status_code == 302
    run = db.session.scalars(select(CourseRun)).one()
    assert run.days[0].starts_at == time(8, 30)
    assert run.days[1].day == date(2008, 10, 1)
    assert run.price_ore == 4_150_050


BAD_INPUTS = [
    pytest.param({"day1_date": "30-13-2008"}, "Skriv en gyldig dato for 1. undervisningsdag", id="date not a date"),
    pytest.param({"day2_date": "i morgen"}, "Skriv en gyldig dato for 2. undervisningsdag", id="date junk"),
    pytest.param({"day1_date": ""}, "Skriv datoen for 1. undervisningsdag.", id="date missing"),
    pytest.param(
        {"day2_date": "2008-09-30"},
        "2. undervisningsdag skal ligge efter 1. undervisningsdag.",
        id="day 2 same as day 1",
    ),
    pytest.param(
        {"day2_date": "2008-09-29"},
        "2. undervisningsdag skal ligge efter 1. undervisningsdag.",
        id="day 2 before day 1",
    ),
    pytest.param(
        {"day1_end": "09:00"},
        "Sluttidspunktet skal ligge efter starttidspunktet (1. undervisningsdag).",
        id="end equals start",
    ),
    pytest.param(
        {"day2_start": "16:00"},
        "Sluttidspunktet skal ligge efter starttidspunktet (2. undervisningsdag).",
        id="end before start",
    ),
    pytest.param({"follow_up_end": "kl. 3"}, "Skriv et gyldigt sluttidspunkt for opfølgningsdagen", id="time junk"),
    pytest.param({"capacity": "0"}, "Antal pladser skal være mellem 1 og 1.000.", id="capacity 0"),
    pytest.param({"capacity": "-3"}, "Antal pladser skal være mellem 1 og 1.000.", id="capacity negative"),
    pytest.param({"capacity": "tolv"}, "Antal pladser skal være et helt tal.", id="capacity not a number"),
    pytest.param(
        {"follow_up_date": "2008-10-01"},
        "Opfølgningsdagen skal ligge efter 2. undervisningsdag.",
        id="follow-up on day 2",
    ),
    pytest.param(
        {"follow_up_date": "2008-09-01"},
        "Opfølgningsdagen skal ligge efter 2. undervisningsdag.",
        id="follow-up before day 2",
    ),
    pytest.param(
        {"enrolment_deadline": "2008-10-01"},
        "Tilmeldingsfristen kan ikke ligge efter 1. undervisningsdag.",
        id="deadline after day 1",
    ),
    pytest.param({"methods": None}, "Vælg mindst én metode.", id="no method"),
    pytest.param({"staff_roles": None}, "Vælg mindst én stillingsbetegnelse.", id="no role"),
    pytest.param({"methods": ["999999"]}, "Vælg metoder på listen.", id="unknown method"),
    pytest.param({"staff_roles": ["abc"]}, "Vælg stillingsbetegnelser på listen.", id="junk role"),
    pytest.param({"programme_id": "999999"}, "Vælg en indsats på listen.", id="unknown programme"),
    pytest.param({"programme_id": "xyz"}, "Vælg en indsats.", id="junk programme"),
    pytest.param({"provider_id": ""}, "Vælg en udbyder.", id="no provider"),
    pytest.param({"kind": "luksus"}, "Vælg en af typerne.", id="unknown kind"),
    pytest.param({"title": ""}, "Skriv kursusforløbets titel.", id="no title"),
    pytest.param({"title": "x" * 201}, "Skriv højst 200 tegn.", id="title too long"),
    pytest.param({"venue": "   "}, "Skriv, hvor kursusforløbet holdes.", id="no venue"),
    pytest.param({"price": "-1"}, "Prisen skal være mellem 0 og 100.000.000 kr.", id="negative price"),
    pytest.param({"price": "gratis"}, "Skriv prisen som et tal", id="price junk"),
    pytest.param({"price": "10,1234"}, "Prisen kan højst have to decimaler (øre).", id="price too precise"),
    pytest.param({"price": "10,123"}, "Mener du 10.123 kr.?", id="price ambiguous"),
    pytest.param(
        {"day1_date": "9999-12-30", "day2_date": "9999-12-31"},
        "Datoen skal ligge mellem år 2000 og 2100.",
        id="year 9999",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_INPUTS)
def test_bad_input_shows_a_message_at_the_field_and_creates_nothing(
    client, login_as, coordinator, ref, overrides, message
):
    login_as(coordinator)
    response = post_form(client, "/runs/new", payload(ref, **overrides))
    assert response.status_code == 200
    page = html(response)
    assert message in page
    assert 'class="form-error-message"' in page
    assert "Der er fejl i formularen" in page
    assert run_count() == 0


def test_the_form_keeps_what_was_typed_after_an_error(client, login_as, coordinator, ref):
    login_as(coordinator)
    page = html(post_form(client, "/runs/new", payload(ref, capacity="0", title="Mit forløb")))
    assert input_value(page, "title") == "Mit forløb"
    assert input_value(page, "day1_date") == "2008-09-30"


def test_the_propose_button_fills_in_the_follow_up_day_without_saving(client, login_as, coordinator, ref):
    login_as(coordinator)
    response = post_form(client, "/runs/new", payload(ref, action="propose", capacity="", follow_up_date="2009-05-05"))
    assert response.status_code == 200
    page = html(response)
    assert input_value(page, "follow_up_date") == "2009-01-02"
    assert (
        "Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder = 1. januar 2009, som er nytårsdag; "
        "flyttet til næste arbejdsdag)" in page
    )
    assert "Der er fejl i formularen" not in page  # the rest of the form is not judged yet
    assert 'data-focus="follow_up_date"' in page  # app.js puts the focus on the proposal
    assert run_count() == 0


def test_the_forms_default_button_saves(client, login_as, coordinator, ref):
    """Enter in a field submits the first submit button in the form: it must be "save", not "propose"."""
    login_as(coordinator)
    page = html(client.get("/runs/new"))
    form = page[page.index("data-follow-up-proposal=") :]  # the run form (the header has forms too)
    first_button = form[form.index("<button") : form.index("</button>")]
    assert 'type="submit"' in first_button and 'value="save"' in first_button
    assert "data-focus=" not in page


def test_the_propose_button_needs_teaching_day_2(client, login_as, coordinator, ref):
    login_as(coordinator)
    page = html(post_form(client, "/runs/new", payload(ref, action="propose", day2_date="")))
    assert "Skriv datoen for 2. undervisningsdag." in page
    assert run_count() == 0


def test_proposal_json(client, login_as, coordinator, closed_grundlovsdag):
    login_as(coordinator)
    response = client.get("/runs/follow-up-proposal?teaching_day_2=2009-03-05")
    assert response.status_code == 200
    assert response.json["day"] == "2009-06-08"
    assert "Grundlovsdag (lukket fra kl. 12)" in response.json["text"]
    response = client.get("/runs/follow-up-proposal?teaching_day_2=2008-10-01")
    assert response.json == {
        "day": "2009-01-02",
        "text": "Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder = 1. januar 2009, som er nytårsdag; "
        "flyttet til næste arbejdsdag)",
    }


@pytest.fixture
def closed_grundlovsdag(app):
    return factories.make_closed_day(date(2009, 6, 5), "Grundlovsdag (lukket fra kl. 12)")


@pytest.mark.parametrize("value", ["", "01-10-2008", "2008-02-30", "9999-12-31", "abc"])
def test_proposal_json_bad_date_is_400_json(client, login_as, coordinator, value):
    login_as(coordinator)
    response = client.get(f"/runs/follow-up-proposal?teaching_day_2={value}")
    assert response.status_code == 400
    assert "error" in response.json


def test_proposal_json_is_for_coordinators(client, login_as, staff_member):
    login_as(staff_member)
    assert client.get("/runs/follow-up-proposal?teaching_day_2=2008-10-01").status_code == 403


def test_form_post_without_csrf_is_400(client, login_as, coordinator, ref):
    login_as(coordinator)
    assert client.post("/runs/new", data=payload(ref)).status_code == 400
    assert run_count() == 0


def test_anonymous_is_sent_to_login(client):
    for url in ("/runs", "/runs/new", "/runs/1", "/runs/1/edit", "/methods"):
        response = client.get(url)
        assert response.status_code == 302 and response.location.startswith("/login"), url


# -- edit ---------------------------------------------------------------------------------------------


@pytest.fixture
def created_run(client, login_as, coordinator, ref):
    login_as(coordinator)
    post_form(client, "/runs/new", payload(ref))
    return db.session.scalars(select(CourseRun)).one()


def test_edit_form_shows_the_run_and_leaves_a_following_follow_up_blank(client, created_run):
    page = html(client.get(f"/runs/{created_run.id}/edit"))
    assert input_value(page, "title") == "Netværksmøder i praksis, hold 1"
    assert input_value(page, "day2_date") == "2008-10-01"
    assert input_value(page, "follow_up_date") == ""
    assert input_value(page, "follow_up_end") == "12:00"
    assert input_value(page, "follow_up_venue") == "Rådhuset"
    assert "Lad feltet stå tomt for at følge forslaget, som nu er 2. januar 2009." in page
    assert input_value(page, "price") == "41500"
    assert re.search(r'<input checked [^>]*name="methods"', page)
    assert 'required type="checkbox"' not in page


def test_edit_moves_a_day_and_bumps_only_its_sequence(client, created_run, ref):
    uids = [d.ical_uid for d in created_run.days]
    response = post_form(client, f"/runs/{created_run.id}/edit", payload(ref, day2_date="2008-10-08"))
    assert response.status_code == 302
    db.session.expire_all()
    run = db.session.get(CourseRun, created_run.id)
    assert [d.day for d in run.days] == [date(2008, 9, 30), date(2008, 10, 8), date(2009, 1, 8)]
    assert [d.sequence for d in run.days] == [0, 1, 1]
    assert [d.ical_uid for d in run.days] == uids
    assert run.follow_up_proposed_on == date(2009, 1, 8)


def test_edit_with_bad_input_changes_nothing(client, created_run, ref):
    response = post_form(client, f"/runs/{created_run.id}/edit", payload(ref, day1_end="08:00", title="Nyt"))
    assert response.status_code == 200
    assert "Sluttidspunktet skal ligge efter starttidspunktet (1. undervisningsdag)." in html(response)
    db.session.expire_all()
    run = db.session.get(CourseRun, created_run.id)
    assert run.title == "Netværksmøder i praksis, hold 1"
    assert [d.sequence for d in run.days] == [0, 0, 0]


def test_propose_on_edit_does_not_save(client, created_run, ref):
    response = post_form(client, f"/runs/{created_run.id}/edit", payload(ref, action="propose", day2_date="2009-01-09"))
    page = html(response)
    assert input_value(page, "follow_up_date") == "2009-04-14"
    assert "som er skærtorsdag" in page
    db.session.expire_all()
    assert db.session.get(CourseRun, created_run.id).days[1].day == date(2008, 10, 1)


@pytest.mark.parametrize("status", [RunStatus.CANCELLED, RunStatus.COMPLETED])
def test_editing_a_cancelled_or_completed_run_is_refused(client, login_as, coordinator, status):
    login_as(coordinator)
    run = factories.make_course_run(status=status)
    response = client.get(f"/runs/{run.id}/edit")
    assert response.status_code == 302
    assert "kan ikke længere redigeres" in html(client.get(response.location))
    assert f'href="/runs/{run.id}/edit"' not in html(client.get(f"/runs/{run.id}"))


def test_edit_unknown_run_is_404(client, login_as, coordinator):
    login_as(coordinator)
    assert client.get("/runs/999999/edit").status_code == 404
    assert client.get("/runs/999999").status_code == 404
    assert client.get("/runs/99999999999999999999").status_code == 404  # beyond an integer column: still 404
    assert client.get("/runs/99999999999999999999/edit").status_code == 404


# -- publish / cancel ---------------------------------------------------------------------------------


def test_publish_and_cancel(client, created_run):
    url = f"/runs/{created_run.id}"
    response = post_action(client, f"{url}/publish", from_url=url)
    assert response.status_code == 302
    assert "er offentliggjort" in html(client.get(url))
    db.session.expire_all()
    assert db.session.get(CourseRun, created_run.id).status == RunStatus.PUBLISHED

    # publishing twice is refused with a message, not an error page
    response = post_action(client, f"{url}/publish", from_url=url)
    assert "Kun en kladde kan offentliggøres" in html(client.get(response.location))

    post_action(client, f"{url}/cancel-run", from_url=url)
    db.session.expire_all()
    run = db.session.get(CourseRun, created_run.id)
    assert run.status == RunStatus.CANCELLED
    assert [d.sequence for d in run.days] == [1, 1, 1]
    page = html(client.get(url))
    assert "Aflyst" in page
    assert "Offentliggør</button>" not in page and "Aflys kursusforløb</button>" not in page


def test_publish_without_csrf_is_400(client, created_run):
    assert client.post(f"/runs/{created_run.id}/publish").status_code == 400
    assert client.post(f"/runs/{created_run.id}/cancel-run").status_code == 400
    db.session.expire_all()
    assert db.session.get(CourseRun, created_run.id).status == RunStatus.DRAFT


@pytest.mark.parametrize("who", ["staff_member", "provider_user"])
def test_only_coordinators_create_edit_publish_and_cancel(client, login_as, request, who, fic_provider):
    user = request.getfixturevalue(who)
    role = factories.make_staff_role("Sagsbehandler")
    user.staff_role = role if who == "staff_member" else None
    run = factories.make_course_run(provider=fic_provider, eligible_roles=[role])
    login_as(user)
    assert client.get(f"/runs/{run.id}").status_code == 200  # they may see it...
    for url in ("/runs/new", f"/runs/{run.id}/edit"):  # ...but not change it
        assert client.get(url).status_code == 403, url
    token_page = f"/runs/{run.id}"
    for url in (f"/runs/{run.id}/publish", f"/runs/{run.id}/cancel-run", "/runs/new", f"/runs/{run.id}/edit"):
        assert post_action(client, url, from_url=token_page).status_code == 403, url
    assert run.status == RunStatus.PUBLISHED


# -- detail access ------------------------------------------------------------------------------------


def test_detail_shows_days_and_facts_to_the_coordinator(client, login_as, coordinator):
    role = factories.make_staff_role("Sagsbehandler")
    run = factories.make_course_run(
        title="Styrket forældreansvar, hold 2",
        price_ore=18_750_000,
        eligible_roles=[role],
        methods=[factories.make_method("Signs of Safety")],
    )
    run.days[2].venue = "Rådhuset"
    login_as(coordinator)
    page = html(client.get(f"/runs/{run.id}"))
    for text in (
        "1. undervisningsdag",
        "2. undervisningsdag",
        "Opfølgningsdag",
        "30. september 2008",
        "tirsdag",
        "kl. 09.00–15.30",
        "Rådhuset",
        "Kursuscenter Valby",
        "187.500 kr.",
        "Signs of Safety",
        "Sagsbehandler",
        "Offentliggjort",
    ):
        assert text in page, text


def test_provider_sees_own_runs_but_not_others_or_drafts(client, login_as, provider_user, fic_provider):
    own = factories.make_course_run(provider=fic_provider, price_ore=100_00)
    draft = factories.make_course_run(provider=fic_provider, status=RunStatus.DRAFT)
    other = factories.make_course_run()
    login_as(provider_user)
    page = html(client.get(f"/runs/{own.id}"))
    assert own.title in page
    assert "100 kr." not in page  # the price is the coordinator's
    assert f'href="/runs/{own.id}/edit"' not in page
    assert client.get(f"/runs/{draft.id}").status_code == 404
    assert client.get(f"/runs/{other.id}").status_code == 404


def test_staff_sees_only_published_runs_of_their_role(client, login_as, staff_member):
    role, other_role = factories.make_staff_role("Sagsbehandler"), factories.make_staff_role("Hjemmevejleder")
    staff_member.staff_role = role
    eligible = factories.make_course_run(eligible_roles=[role, other_role])
    ineligible = factories.make_course_run(eligible_roles=[other_role])
    draft = factories.make_course_run(eligible_roles=[role], status=RunStatus.DRAFT)
    login_as(staff_member)
    assert client.get(f"/runs/{eligible.id}").status_code == 200
    assert client.get(f"/runs/{ineligible.id}").status_code == 404
    assert client.get(f"/runs/{draft.id}").status_code == 404


# -- list ---------------------------------------------------------------------------------------------


def titles(page: str, candidates) -> list[str]:
    """The candidate titles in the order they appear on the page."""
    found = [(page.find(f">{t}</a>"), t) for t in candidates if f">{t}</a>" in page]
    return [t for _pos, t in sorted(found)]


@pytest.fixture
def listed(app, fic_provider):
    """Four runs across two programmes, two providers, statuses, kinds and years."""
    p1, p2 = factories.make_programme(name="Indsats A"), factories.make_programme(name="Indsats B")
    vilde = factories.make_provider("Vilde Læreprocesser")
    role = factories.make_staff_role("Sagsbehandler")
    make = factories.make_course_run
    return {
        "alpha": make(
            p1,
            fic_provider,
            title="Alfa familierådslagning",
            eligible_roles=[role],
            days=(date(2008, 9, 16), date(2008, 9, 17), date(2008, 12, 17)),
        ),
        "beta": make(
            p1,
            vilde,
            title="Beta netværksmøder",
            kind=RunKind.SPECIAL,
            eligible_roles=[role],
            days=(date(2009, 2, 24), date(2009, 2, 25), date(2009, 5, 25)),
        ),
        "gamma": make(
            p2,
            fic_provider,
            title="Gamma kladde",
            status=RunStatus.DRAFT,
            eligible_roles=[role],
            days=(date(2009, 10, 6), date(2009, 10, 7), date(2010, 1, 7)),
        ),
        "delta": make(
            p2,
            vilde,
            title="Delta aflyst",
            status=RunStatus.CANCELLED,
            eligible_roles=[role],
            days=(date(2008, 11, 5), date(2008, 11, 6), date(2009, 2, 6)),
        ),
        "programmes": (p1, p2),
        "vilde": vilde,
        "role": role,
    }


ALL = ("Alfa familierådslagning", "Beta netværksmøder", "Gamma kladde", "Delta aflyst")


def test_coordinator_list_newest_first_with_columns(client, login_as, coordinator, listed):
    login_as(coordinator)
    page = html(client.get("/runs"))
    assert titles(page, ALL) == ["Gamma kladde", "Beta netværksmøder", "Delta aflyst", "Alfa familierådslagning"]
    assert "Opret kursusforløb" in page
    for text in (
        "Indsats A",
        "Vilde Læreprocesser",
        "Netværksmøder (særligt forløb)",
        "Kladde",
        "Aflyst",
        "16. sep. 2008",
        "17. dec. 2008",
        "4 kursusforløb",
    ):
        assert text in page, text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sort=first_day", ["Alfa familierådslagning", "Delta aflyst", "Beta netværksmøder", "Gamma kladde"]),
        ("sort=title", ["Alfa familierådslagning", "Beta netværksmøder", "Delta aflyst", "Gamma kladde"]),
        ("sort=-title", ["Gamma kladde", "Delta aflyst", "Beta netværksmøder", "Alfa familierådslagning"]),
        ("sort=status", ["Gamma kladde", "Beta netværksmøder", "Alfa familierådslagning", "Delta aflyst"]),
        ("sort=nonsense", ["Gamma kladde", "Beta netværksmøder", "Delta aflyst", "Alfa familierådslagning"]),
        ("q=NETV", ["Beta netværksmøder"]),
        ("q=a%25", []),
        ("status=draft", ["Gamma kladde"]),
        ("kind=special", ["Beta netværksmøder"]),
        ("year=2010", ["Gamma kladde"]),
        ("year=2008&sort=title", ["Alfa familierådslagning", "Delta aflyst"]),
    ],
)
def test_list_filters_and_sorting(client, login_as, coordinator, listed, query, expected):
    login_as(coordinator)
    response = client.get(f"/runs?{query}")
    assert response.status_code == 200
    assert titles(html(response), ALL) == expected


def test_list_filters_by_programme_and_provider(client, login_as, coordinator, listed):
    login_as(coordinator)
    p1, _p2 = listed["programmes"]
    page = html(client.get(f"/runs?programme={p1.id}&provider={listed['vilde'].id}"))
    assert titles(page, ALL) == ["Beta netværksmøder"]
    assert "Nulstil filtre" in page


@pytest.mark.parametrize(
    "query",
    [
        "page=abc",
        "page=-5",
        "page=99999",
        "programme=xyz",
        "programme=999999",
        "provider=1.5",
        "status=lost",
        "kind=%00",
        "year=abc",
        "year=1800",
        "sort=-",
        "q=" + "x" * 500,
    ],
)
def test_junk_in_the_query_string_never_fails(client, login_as, coordinator, listed, query):
    login_as(coordinator)
    response = client.get(f"/runs?{query}")
    # A NUL byte is refused before any view (app.core.security): 400, the normal error page.
    assert response.status_code == (400 if "%00" in query else 200)


def test_providers_have_no_provider_filter_and_a_provider_in_the_url_changes_nothing(
    client, login_as, provider_user, listed
):
    login_as(provider_user)
    page = html(client.get(f"/runs?provider={listed['vilde'].id}"))
    assert titles(page, ALL) == ["Alfa familierådslagning"]
    assert 'name="provider"' not in page
    assert "Den valgte udbyder findes ikke." not in page and "Nulstil filtre" not in page


def test_a_filter_without_matches_says_so(client, login_as, coordinator, listed):
    login_as(coordinator)
    assert "Ingen kursusforløb passer til filtrene." in html(client.get("/runs?q=findes-ikke"))


def test_empty_list_for_coordinator_invites_to_create(client, login_as, coordinator):
    login_as(coordinator)
    assert "Opret det første kursusforløb." in html(client.get("/runs"))


def test_pagination_in_the_database(app, client, login_as, coordinator):
    app.config["RUNS_PER_PAGE"] = 2
    programme, provider = factories.make_programme(), factories.make_provider()
    for n in range(5):
        factories.make_course_run(
            programme,
            provider,
            title=f"Hold {n}",
            days=(date(2008, 9, 1 + n), date(2008, 9, 10 + n), date(2008, 12, 10 + n)),
        )
    login_as(coordinator)
    candidates = [f"Hold {n}" for n in range(5)]
    assert titles(html(client.get("/runs")), candidates) == ["Hold 4", "Hold 3"]
    page2 = html(client.get("/runs?page=2"))
    assert titles(page2, candidates) == ["Hold 2", "Hold 1"]
    assert 'aria-current="page"' in page2
    assert titles(html(client.get("/runs?page=3")), candidates) == ["Hold 0"]
    assert titles(html(client.get("/runs?page=42")), candidates) == ["Hold 0"]  # clamped to the last page
    assert titles(html(client.get("/runs?page=2&sort=title")), candidates) == ["Hold 2", "Hold 3"]
    assert "sort=title" in html(client.get("/runs?sort=title"))  # the page links keep the sort


def test_provider_list_shows_own_runs_except_drafts(client, login_as, provider_user, listed):
    login_as(provider_user)
    page = html(client.get("/runs"))
    assert titles(page, ALL) == ["Alfa familierådslagning"]
    assert "Opret kursusforløb" not in page
    # a provider cannot widen the list by asking for another provider
    assert titles(html(client.get(f"/runs?provider={listed['vilde'].id}")), ALL) == ["Alfa familierådslagning"]


def test_staff_list_shows_eligible_published_runs_before_their_deadline(client, login_as, staff_member, listed):
    staff_member.staff_role = listed["role"]
    other_role = factories.make_staff_role("Hjemmevejleder")
    factories.make_course_run(
        title="Kun hjemmevejledere",
        eligible_roles=[other_role],
        days=(date(2008, 10, 6), date(2008, 10, 7), date(2009, 1, 7)),
    )
    factories.make_course_run(
        title="Fristen er i dag",
        eligible_roles=[listed["role"]],
        enrolment_deadline=TODAY,
        days=(date(2008, 10, 6), date(2008, 10, 7), date(2009, 1, 7)),
    )
    factories.make_course_run(
        title="Fristen var i går",
        eligible_roles=[listed["role"]],
        enrolment_deadline=date(2008, 8, 31),
        days=(date(2008, 10, 6), date(2008, 10, 7), date(2009, 1, 7)),
    )
    login_as(staff_member)
    page = html(client.get("/runs"))
    everything = (*ALL, "Kun hjemmevejledere", "Fristen er i dag", "Fristen var i går")
    # alpha's deadline (16 Sep 2008) is after TODAY; beta's too; gamma is a draft; delta is cancelled.
    # Staff see the soonest run first.
    assert titles(page, everything) == ["Alfa familierådslagning", "Fristen er i dag", "Beta netværksmøder"]
    assert "Opret kursusforløb" not in page
    assert client.get("/runs?status=draft").status_code == 200
    assert titles(html(client.get("/runs?status=draft")), everything) == titles(page, everything)


def test_staff_without_a_role_is_told_to_contact_the_coordinator(client, login_as, staff_member, listed):
    login_as(staff_member)
    page = html(client.get("/runs"))
    assert "Kontakt kursuskoordinatoren" in page
    assert titles(page, ALL) == []


def test_staff_with_nothing_open_gets_an_empty_state(client, login_as, staff_member):
    staff_member.staff_role = factories.make_staff_role("Sagsbehandler")
    login_as(staff_member)
    assert "Der er ingen åbne kursusforløb for din stillingsbetegnelse lige nu." in html(client.get("/runs"))


# -- query count --------------------------------------------------------------------------------------


def count_queries(client, url: str) -> int:
    with recorded_statements() as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def make_runs(n: int, programme, provider, role, method) -> None:
    for i in range(n):
        factories.make_course_run(
            programme,
            provider,
            title=f"Forløb {i}",
            eligible_roles=[role],
            methods=[method],
            days=(date(2008, 9, 1), date(2008, 9, 2), date(2008, 12, 2)),
        )


def test_the_list_costs_the_same_number_of_queries_for_3_or_30_runs(client, login_as, coordinator):
    programme, role, method = factories.make_programme(), factories.make_staff_role(), factories.make_method()
    providers = [factories.make_provider() for _ in range(3)]
    make_runs(3, programme, providers[0], role, method)
    login_as(coordinator)
    db.session.commit()
    db.session.expunge_all()  # each request starts as in production: nothing in the identity map
    few = count_queries(client, "/runs")

    programme, role, method = db.session.merge(programme), db.session.merge(role), db.session.merge(method)
    for provider in providers:
        make_runs(9, programme, db.session.merge(provider), role, method)
    db.session.commit()
    db.session.expunge_all()
    many = count_queries(client, "/runs")
    assert few == many
    assert db.session.scalar(select(func.count()).select_from(CourseRun)) == 30


def test_the_price_is_read_the_way_of_the_ui_language(client, login_as, coordinator, ref):
    """In English "41,500" is 41,500 kroner (a Danish-only reading once made it 41.50)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login_as(coordinator)
    response = post_form(client, "/runs/new", payload(ref, price="41,500"))
    assert response.status_code == 302
    assert db.session.scalars(select(CourseRun)).one().price_ore == 4_150_000
