"""The run list as a place to find a course (issue 21): staff see the soonest runs first and filter by month,
method, provider, venue and free seats; the search reads the description too; the year filter offers only
years with runs; the columns differ per access level; coordinators and providers see seats taken of the
capacity and the waiting list's length. All through GET /runs, the way a browser asks."""

from __future__ import annotations

import re
from datetime import date, time

import pytest

from app.courses.models import CourseDay, RunStatus
from app.extensions import db
from tests import factories

TODAY = date(2008, 9, 1)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: TODAY)


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def titles(page: str, candidates) -> list[str]:
    """The candidate titles in the order they first appear on the page."""
    found = [(page.find(f">{t}</a>"), t) for t in candidates if f">{t}</a>" in page]
    return [t for _pos, t in sorted(found)]


SOS, NET, FAM = "Signs of Safety i Aarhus", "Netværksmøder i Valby", "Familierådslagning"
ALL = (SOS, NET, FAM)


@pytest.fixture
def scene(app, fic_provider):
    """Three runs open to one staff role: different months, methods, providers, venues; one full."""
    role = factories.make_staff_role("Sagsbehandler")
    sos, net = factories.make_method("Signs of Safety"), factories.make_method("Netværksmøder")
    vilde = factories.make_provider("Vilde Læreprocesser")
    make = factories.make_course_run
    runs = {
        "sos": make(
            provider=vilde,
            title=SOS,
            description="Grundkursus i sikkerhedsplaner sammen med familien. " + "Langt forløb. " * 20,
            venue="Aarhus Rådhus, mødesal 2",
            methods=[sos],
            eligible_roles=[role],
            days=(date(2008, 10, 6), date(2008, 10, 7), date(2009, 1, 7)),
        ),
        "net": make(
            provider=fic_provider,
            title=NET,
            description="Om at samle forældrenes netværk.",
            methods=[net],
            capacity=1,
            seats_taken=1,
            eligible_roles=[role],
            days=(date(2008, 9, 15), date(2008, 9, 16), date(2008, 12, 16)),
        ),
        "fam": make(
            provider=fic_provider,
            title=FAM,
            methods=[net, sos],
            eligible_roles=[role],
            enrolment_deadline=date(2009, 2, 1),
            days=(date(2011, 3, 2), date(2011, 3, 3), date(2011, 6, 3)),
        ),
    }
    runs["fam"].days[1].venue = "Odense Kongrescenter"
    # Not for staff: a draft in 2013 (the staff member's years and months must not offer it).
    make(title="Kladde", status=RunStatus.DRAFT, eligible_roles=[role], days=(date(2013, 5, 1),) * 3)
    db.session.commit()
    return {**runs, "role": role, "methods": {"sos": sos, "net": net}, "vilde": vilde, "fic": fic_provider}


@pytest.fixture
def staff(login_as, scene):
    person = factories.make_user(access_level="staff", staff_role=scene["role"])
    login_as(person)
    return person


def test_staff_see_the_soonest_run_first(client, staff):
    assert titles(html(client.get("/runs")), ALL) == [NET, SOS, FAM]
    assert titles(html(client.get("/runs?sort=-first_day")), ALL) == [FAM, SOS, NET]
    assert titles(html(client.get("/runs?sort=title")), ALL) == [FAM, NET, SOS]
    # staff have no status column to sort by: the default again
    assert titles(html(client.get("/runs?sort=status")), ALL) == [NET, SOS, FAM]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("month=2008-10", [SOS]),
        ("month=2011-03", [FAM]),
        ("venue=aarhus", [SOS]),
        ("venue=ODENSE", [FAM]),  # a day's own venue counts
        ("venue=%25", []),  # a wildcard is a character, not "anything"
        ("free=y", [SOS, FAM]),
        ("q=forældrenes", [NET]),  # found in the description
        ("q=safety", [SOS]),  # and in the title
        ("year=2011", [FAM]),
        ("month=2008-10&free=y&venue=aarhus", [SOS]),
    ],
)
def test_staff_filters(client, staff, query, expected):
    page = html(client.get(f"/runs?{query}"))
    assert titles(page, ALL) == expected
    assert "Nulstil filtre" in page


def test_staff_filter_by_method_and_provider(client, staff, scene):
    methods = scene["methods"]
    assert titles(html(client.get(f"/runs?method={methods['sos'].id}")), ALL) == [SOS, FAM]
    assert titles(html(client.get(f"/runs?method={methods['net'].id}")), ALL) == [NET, FAM]
    assert titles(html(client.get(f"/runs?provider={scene['vilde'].id}")), ALL) == [SOS]
    assert titles(html(client.get(f"/runs?provider={scene['fic'].id}&method={methods['sos'].id}")), ALL) == [FAM]


@pytest.mark.parametrize("query", ["month=2008-13", "month=abc", "month=2013-05", "method=x", "free=maybe"])
def test_junk_filters_are_ignored_with_a_message_never_a_failure(client, staff, query):
    page = html(client.get(f"/runs?{query}"))
    if query.startswith("month"):  # 2013-05 is the draft's month: not a choice for staff
        assert "Vælg en måned på listen." in page
        assert titles(page, ALL) == [NET, SOS, FAM]


def test_the_filters_stay_in_the_query_string_and_the_form_shows_them(client, staff):
    page = html(client.get("/runs?venue=aarhus&free=y&month=2008-10&sort=title"))
    assert 'value="aarhus"' in page
    assert re.search(r'<input[^>]*checked[^>]*name="free"|<input[^>]*name="free"[^>]*checked', page)
    assert re.search(r'<option selected value="2008-10">|<option value="2008-10" selected', page)
    assert 'name="sort" value="title"' in page
    # the page links keep the filters; the reset link drops them all
    assert 'href="/runs"' in page and "Nulstil filtre" in page


def test_the_month_and_year_choices_offer_only_periods_with_runs_the_person_may_see(client, staff):
    page = html(client.get("/runs"))
    assert "form-error-message" not in page  # nothing chosen is not an error
    years = re.findall(r'<option value="(\d{4})"', page)
    assert years == ["2011", "2009", "2008"]  # not 2010 (no run), not 2013 (a draft)
    months = re.findall(r'<option value="(\d{4}-\d\d)">([^<]*)<', page)
    assert months == [("2008-09", "september 2008"), ("2008-10", "oktober 2008"), ("2011-03", "marts 2011")]


def test_the_coordinators_years_include_every_run_but_skip_empty_years(client, login_as, coordinator, scene):
    login_as(coordinator)
    years = re.findall(r'<option value="(\d{4})"', html(client.get("/runs")))
    assert years == ["2013", "2011", "2009", "2008"]


def test_staff_columns_venue_and_description_without_status(client, staff, scene):
    page = html(client.get("/runs"))
    assert '<th scope="col">Sted</th>' in page
    assert "Aarhus Rådhus, mødesal 2" in page
    assert "Grundkursus i sikkerhedsplaner sammen med familien." in page
    assert "Langt forløb. " * 10 not in page  # one line: the description is cut short
    assert "Status" not in page  # neither a column nor a filter
    assert "kl. 09.00–15.30" in page  # the days' times
    assert "Læs mere og tilmeld dig" in page  # the card's action


def test_coordinator_columns_and_seats_taken_with_the_waiting_list(client, login_as, coordinator, scene):
    run = scene["sos"]
    run.capacity = 10
    for person in factories.make_eligible_staff(run, 11):
        factories.make_enrolment(run, person, status="confirmed" if run.seats_taken < 8 else "waitlisted")
    db.session.commit()
    login_as(coordinator)
    page = html(client.get("/runs"))
    assert ">Status</a>" in page  # a sortable column
    assert '<th scope="col">Sted</th>' not in page
    assert '<span aria-hidden="true">8/10</span>' in page
    assert "8 af 10 pladser besat" in page
    assert "3 på venteliste" in page
    assert '<span aria-hidden="true">1/1</span>' in page  # the full run, no waiting list
    assert page.count("på venteliste") == 2  # the table and the card, for the one run with a waiting list


def test_provider_sees_seats_taken_and_the_waiting_list_of_own_runs(client, login_as, scene):
    run = scene["fam"]
    for person in factories.make_eligible_staff(run, 2):
        factories.make_enrolment(run, person)
    (late,) = factories.make_eligible_staff(run, 1)
    factories.make_enrolment(run, late, status="waitlisted")
    db.session.commit()
    login_as(factories.make_user(access_level="provider", provider=scene["fic"]))
    page = html(client.get("/runs"))
    assert '<span aria-hidden="true">2/20</span>' in page
    assert "1 på venteliste" in page
    assert 'name="provider"' not in page


def test_a_days_time_is_shown_as_kept(client, staff, scene):
    day: CourseDay = scene["net"].days[0]
    day.starts_at, day.ends_at = time(8, 15), time(12, 0)
    db.session.commit()
    assert "kl. 08.15–12.00" in html(client.get("/runs"))


def test_the_rarer_filters_fold_away_unless_one_is_set(client, staff, scene):
    closed = html(client.get("/runs?venue=aarhus"))
    assert '<details class="details filters-more">' in closed
    opened = html(client.get(f"/runs?method={scene['methods']['sos'].id}"))
    assert '<details class="details filters-more" open>' in opened


def _card_sort_form(page: str) -> tuple[dict[str, str], list[str], str]:
    """The phone cards' sort form as a browser submits it: its hidden fields, its options, the selected one."""
    form = re.search(r'<form method="get" action="/runs" class="run-cards-sort">(.*?)</form>', page, re.S)
    assert form, "the cards have a sort form"
    body = form.group(1)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', body))
    options = re.findall(r'<option value="([^"]+)"', body)
    selected = re.search(r'<option value="([^"]+)" selected', body)
    return hidden, options, selected.group(1) if selected else ""


def test_staff_sort_the_phone_cards_with_the_tables_orders_and_keep_the_filters(client, staff):
    page = html(client.get("/runs?free=y&venue=a"))
    hidden, options, selected = _card_sort_form(page)
    assert options == ["first_day", "-first_day", "title", "-title"]  # no status: staff have no status column
    assert selected == "first_day"
    assert hidden == {"free": "y", "venue": "a"}
    assert "Sortér efter" in page
    sorted_page = html(client.get("/runs", query_string={**hidden, "sort": "-title"}))
    assert titles(sorted_page, ALL) == [SOS, FAM]
    assert _card_sort_form(sorted_page) == ({"free": "y", "venue": "a"}, options, "-title")


def test_coordinators_sort_the_phone_cards_by_status_too(client, login_as, coordinator, scene):
    login_as(coordinator)
    hidden, options, selected = _card_sort_form(html(client.get("/runs")))
    assert options == ["first_day", "-first_day", "title", "-title", "status", "-status"]
    assert (hidden, selected) == ({}, "-first_day")
