"""Programme dashboard: the target computations (activity, result, effect, status), the budget per provider and
year, the run form's over-commitment warning, access, and a statement count independent of the enrolments."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from app.courses.models import CourseRun, RunStatus
from app.extensions import db
from app.programmes.dashboard import Status, budget_after, programme_figures
from tests import factories
from tests.conftest import post_form
from tests.querycount import recorded_statements

DEADLINE = date(2009, 12, 31)
IN_TIME = (date(2008, 9, 30), date(2008, 10, 1), date(2009, 1, 2))
LATE = (date(2009, 10, 6), date(2009, 10, 7), date(2010, 1, 7))  # follow-up day after the deadline
BEFORE, AFTER = date(2009, 6, 1), date(2010, 3, 1)


@pytest.fixture
def programme(app):
    return factories.make_programme(
        name="Styrket forældreansvar", target_deadline=DEADLINE, target_runs=2, target_completed_staff=3
    )


@pytest.fixture
def vilde(app):
    return factories.make_provider(name="Vilde Læreprocesser")


def run_in(programme, provider, days=IN_TIME, status=RunStatus.COMPLETED, **kw):
    return factories.make_course_run(programme=programme, provider=provider, days=days, status=status, **kw)


def attend(run, user, *, missing: tuple[int, ...] = (), status="confirmed"):
    """Enrol `user` and mark them present on every day except the positions in `missing` (marked absent)."""
    enrolment = factories.make_enrolment(run, user, status=status)
    for day in run.days:
        factories.make_attendance(enrolment, day, present=day.position not in missing)
    return enrolment


@pytest.fixture
def people(app):
    caseworker = factories.make_staff_role("Sagsbehandler", name_en="Caseworker")
    counsellor = factories.make_staff_role("Hjemmevejleder")
    amager, valby = factories.make_unit("Team Amager"), factories.make_unit("Team Valby")
    return {
        name: factories.make_user(name=name, staff_role=role, unit=unit)
        for name, role, unit in (
            ("anna", caseworker, amager),
            ("bo", caseworker, valby),
            ("cai", counsellor, amager),
            ("dea", counsellor, valby),
            ("eva", caseworker, amager),
            ("finn", caseworker, valby),
        )
    }


# --- activity -------------------------------------------------------------------------------------


def test_activity_counts_completed_runs_by_their_follow_up_day(programme, fic_provider):
    run_in(programme, fic_provider)  # completed in time
    run_in(programme, fic_provider, days=LATE)  # completed, but its follow-up day is after the deadline
    run_in(programme, fic_provider, status=RunStatus.CANCELLED)
    run_in(programme, fic_provider, status=RunStatus.DRAFT)  # planned
    run_in(
        programme,
        fic_provider,
        status=RunStatus.PUBLISHED,
        days=(date(2009, 8, 4), date(2009, 8, 5), date(2009, 11, 5)),
    )  # published, not started on BEFORE
    run_in(
        programme,
        fic_provider,
        status=RunStatus.PUBLISHED,
        days=(date(2009, 5, 26), date(2009, 5, 27), date(2009, 8, 27)),
    )  # running on BEFORE
    run_in(programme, fic_provider, status=RunStatus.PUBLISHED, days=LATE)  # cannot count any more

    a = programme_figures(programme.id, BEFORE).activity

    assert (a.completed, a.completed_late, a.cancelled, a.too_late) == (1, 1, 1, 1)
    assert (a.planned, a.published, a.running, a.can_still_count) == (1, 1, 1, 3)
    assert a.status == Status.ON_TRACK  # 1 + 3 >= 2


def test_activity_status_before_and_after_the_deadline(programme, fic_provider):
    run_in(programme, fic_provider)
    assert programme_figures(programme.id, BEFORE).activity.status == Status.AT_RISK  # 1 of 2, nothing pending
    assert programme_figures(programme.id, AFTER).activity.status == Status.NOT_MET
    run_in(programme, fic_provider)
    assert programme_figures(programme.id, BEFORE).activity.status == Status.MET
    assert programme_figures(programme.id, AFTER).activity.status == Status.MET


def test_another_programmes_runs_do_not_count(programme, fic_provider):
    run_in(factories.make_programme(), fic_provider)
    assert programme_figures(programme.id, AFTER).activity.completed == 0


# --- result ---------------------------------------------------------------------------------------


def test_result_counts_distinct_people_present_on_every_day_before_the_deadline(programme, fic_provider, vilde, people):
    one = run_in(programme, fic_provider)
    two = run_in(programme, vilde)
    late = run_in(programme, fic_provider, days=LATE)
    cancelled = run_in(programme, fic_provider, status=RunStatus.CANCELLED)
    attend(one, people["anna"])  # completed
    attend(one, people["bo"], missing=(3,))  # missed the follow-up day: enrolled, not completed
    attend(one, people["cai"])  # completed twice (two providers): counts once
    attend(two, people["cai"])
    attend(late, people["dea"])  # completed after the deadline
    attend(cancelled, people["eva"])  # a cancelled run counts for nothing
    factories.make_enrolment(two, people["finn"], status="waitlisted")  # not enrolled on a seat

    r = programme_figures(programme.id, AFTER).result

    assert r.completed == 2  # anna, cai
    assert r.enrolled == 4  # anna, bo, cai, dea
    assert r.not_completed == 2  # bo, dea
    assert r.completed_late == 1  # dea
    assert r.status == Status.NOT_MET  # 2 of 3
    roles = {row.label: (row.completed, row.not_completed) for row in r.by_role}
    assert roles == {"Sagsbehandler": (1, 1), "Hjemmevejleder": (1, 1)}
    assert next(row.label_en for row in r.by_role if row.label == "Sagsbehandler") == "Caseworker"
    units = {row.label: (row.completed, row.not_completed) for row in r.by_unit}
    assert units == {"Team Amager": (2, 0), "Team Valby": (0, 2)}
    providers = {row.label: (row.completed, row.not_completed) for row in r.by_provider}
    assert providers == {"Familien i Centrum": (2, 2), "Vilde Læreprocesser": (1, 0)}  # cai once per provider


def test_completions_by_month_count_each_person_once_at_their_first_completion_in_time(
    programme, fic_provider, vilde, people
):
    october = run_in(programme, fic_provider, days=(date(2008, 9, 2), date(2008, 9, 3), date(2008, 10, 14)))
    january = run_in(programme, vilde)  # follow-up day 2 January 2009
    late = run_in(programme, fic_provider, days=LATE)
    attend(october, people["anna"])
    attend(october, people["cai"])
    attend(january, people["cai"])  # completed again later: still counted in October only
    attend(january, people["bo"])
    attend(january, people["dea"], missing=(3,))  # not completed
    attend(late, people["eva"])  # after the deadline: not on the line

    r = programme_figures(programme.id, AFTER).result

    assert [(m.year, m.month, m.completed) for m in r.by_month] == [(2008, 10, 2), (2009, 1, 1)]
    assert sum(m.completed for m in r.by_month) == r.completed == 3


def test_attendance_not_registered_is_not_completion(programme, fic_provider, people):
    run = run_in(programme, fic_provider)
    enrolment = factories.make_enrolment(run, people["anna"])
    factories.make_attendance(enrolment, run.days[0])
    factories.make_attendance(enrolment, run.days[1])  # the follow-up day not registered at all
    r = programme_figures(programme.id, AFTER).result
    assert (r.completed, r.enrolled) == (0, 1)


def test_result_status_on_track_counts_the_seats_of_runs_that_can_still_count(programme, fic_provider, people):
    run = run_in(programme, fic_provider)
    attend(run, people["anna"])
    assert programme_figures(programme.id, BEFORE).result.status == Status.AT_RISK  # 1 + 0 seats < 3
    run_in(
        programme,
        fic_provider,
        status=RunStatus.PUBLISHED,
        capacity=2,
        days=(date(2009, 8, 4), date(2009, 8, 5), date(2009, 11, 5)),
    )
    f = programme_figures(programme.id, BEFORE)
    assert f.result.seats_that_can_count == 2
    assert f.result.status == Status.ON_TRACK


def test_an_empty_programme(programme):
    f = programme_figures(programme.id, BEFORE)
    assert (f.activity.completed, f.result.completed, f.result.enrolled, f.budget, f.runs) == (0, 0, 0, [], [])
    assert f.effect.status == Status.NO_DATA
    assert programme_figures(programme.id, AFTER).effect.status == Status.NOT_MET


def test_unknown_programme_raises(app):
    with pytest.raises(LookupError):
        programme_figures(999, BEFORE)


# --- effect ---------------------------------------------------------------------------------------


def _summary(methods):
    from app.programmes import feedback

    return feedback.FeedbackSummary(
        invited=10,
        answered=8,
        earlier={"yes": 5, "partly": 2, "no": 1},
        methods=[
            feedback.MethodEffect(
                method_id=i, method_name=name, before=before, since=since, responses=sum(since.values())
            )
            for i, (name, before, since) in enumerate(methods, 1)
        ],
    )


@pytest.mark.parametrize(
    ("methods", "before_deadline", "after_deadline"),
    [
        # the share answering monthly or weekly rises, all methods taken together
        (
            [
                ("Signs of Safety", {"never": 3, "rarely": 1}, {"monthly": 2, "weekly": 2}),
                ("Netværksmøder", {"weekly": 2}, {"weekly": 1, "rarely": 1}),
            ],
            Status.ON_TRACK,
            Status.MET,
        ),
        # it falls
        ([("Signs of Safety", {"weekly": 4}, {"rarely": 2, "monthly": 2})], Status.AT_RISK, Status.NOT_MET),
        # unchanged is not a rise
        ([("Signs of Safety", {"monthly": 1, "never": 1}, {"weekly": 1, "rarely": 1})], Status.AT_RISK, Status.NOT_MET),
    ],
)
def test_effect_is_met_when_the_share_of_regular_use_rises(
    programme, monkeypatch, methods, before_deadline, after_deadline
):
    seen = {}

    def summary_for_programme(programme_id, *, until=None):
        seen.update(programme_id=programme_id, until=until)
        return _summary(methods)

    from app.programmes import feedback

    monkeypatch.setattr(feedback, "summary_for_programme", summary_for_programme)
    before = programme_figures(programme.id, BEFORE).effect
    assert before.status == before_deadline
    assert programme_figures(programme.id, AFTER).effect.status == after_deadline
    assert seen == {"programme_id": programme.id, "until": DEADLINE}
    assert (before.invited, before.answered, before.response_percent) == (10, 8, 80)


def test_effect_per_method_shares(programme, monkeypatch):
    from app.programmes import feedback

    monkeypatch.setattr(
        feedback,
        "summary_for_programme",
        lambda pid, until=None: _summary(
            [("Signs of Safety", {"never": 3, "monthly": 1}, {"monthly": 2, "weekly": 2})]
        ),
    )
    method = programme_figures(programme.id, BEFORE).effect.methods[0]
    assert (method.before_percent, method.since_percent, method.rose) == (25, 100, True)


# --- budget ---------------------------------------------------------------------------------------


def test_budget_per_provider_and_year(programme, fic_provider, vilde):
    factories.make_allocation(programme, fic_provider, 2008, 375_000)
    factories.make_allocation(programme, fic_provider, 2009, 375_000)
    factories.make_allocation(programme, vilde, 2008, 125_000)
    run_in(programme, fic_provider, price_ore=18_750_000)  # 2008, completed: committed and spent
    run_in(programme, fic_provider, status=RunStatus.PUBLISHED, price_ore=18_750_000)  # 2008, committed
    run_in(programme, fic_provider, status=RunStatus.CANCELLED, days=LATE, price_ore=10_000_000)  # not committed
    run_in(programme, vilde, status=RunStatus.DRAFT, price_ore=15_000_000)  # a draft commits too: over
    run_in(
        programme,
        vilde,
        status=RunStatus.DRAFT,
        price_ore=4_000_000,
        days=(date(2010, 2, 2), date(2010, 2, 3), date(2010, 5, 4)),
    )  # 2010: no allocation
    run_in(factories.make_programme(), fic_provider, price_ore=99_900_000)  # another programme's

    lines = {(x.provider_name, x.year): x for x in programme_figures(programme.id, BEFORE).budget}

    assert list(lines) == [
        ("Familien i Centrum", 2008),
        ("Vilde Læreprocesser", 2008),
        ("Familien i Centrum", 2009),
        ("Vilde Læreprocesser", 2010),
    ]
    fic08 = lines["Familien i Centrum", 2008]
    assert (fic08.allocated_ore, fic08.committed_ore, fic08.spent_ore, fic08.remainder_ore) == (
        37_500_000,
        37_500_000,
        18_750_000,
        0,
    )
    assert not fic08.over_committed
    fic09 = lines["Familien i Centrum", 2009]
    assert (fic09.committed_ore, fic09.spent_ore, fic09.remainder_ore) == (0, 0, 37_500_000)
    vilde08 = lines["Vilde Læreprocesser", 2008]
    assert vilde08.over_committed and vilde08.remainder_ore == -2_500_000
    vilde10 = lines["Vilde Læreprocesser", 2010]
    assert (vilde10.has_allocation, vilde10.allocated_ore, vilde10.over_committed) == (False, 0, True)
    f = programme_figures(programme.id, BEFORE)
    assert [(x.provider_name, x.year) for x in f.over_committed] == [
        ("Vilde Læreprocesser", 2008),
        ("Vilde Læreprocesser", 2010),
    ]
    assert f.budget_totals == (87_500_000, 56_500_000, 18_750_000)


def test_budget_after(programme, fic_provider, vilde):
    factories.make_allocation(programme, fic_provider, 2008, 375_000)
    existing = run_in(programme, fic_provider, status=RunStatus.PUBLISHED, price_ore=30_000_000)

    fits = budget_after(programme.id, fic_provider.id, 2008, 7_500_000)
    assert (fits.allocated_ore, fits.committed_before_ore, fits.committed_after_ore) == (
        37_500_000,
        30_000_000,
        37_500_000,
    )
    assert not fits.over_committed and not fits.pushes_over

    over = budget_after(programme.id, fic_provider.id, 2008, 7_500_001)
    assert over.pushes_over and over.excess_ore == 1

    # editing the run replaces its stored price: 30,000 → 37,500 kr. fits, 40,000 does not
    assert not budget_after(programme.id, fic_provider.id, 2008, 37_500_000, exclude_run_id=existing.id).pushes_over
    assert budget_after(programme.id, fic_provider.id, 2008, 40_000_000, exclude_run_id=existing.id).pushes_over

    # no allocation for the provider that year (the programme has others): any price is over
    none = budget_after(programme.id, vilde.id, 2008, 100)
    assert none.allocated_ore is None and none.pushes_over
    # a programme with no allocations at all is not budget-managed: no warning
    assert not budget_after(factories.make_programme().id, vilde.id, 2008, 100).pushes_over


def test_an_edit_that_lowers_an_over_committed_amount_needs_no_confirmation(programme, fic_provider):
    factories.make_allocation(programme, fic_provider, 2008, 100_000)
    run = run_in(programme, fic_provider, status=RunStatus.PUBLISHED, price_ore=15_000_000)
    check = budget_after(programme.id, fic_provider.id, 2008, 12_000_000, exclude_run_id=run.id)
    assert check.over_committed and not check.pushes_over


# --- the run form's warning -----------------------------------------------------------------------


@pytest.fixture
def form_ref(app, coordinator, programme, vilde):
    factories.make_allocation(programme, vilde, 2008, 125_000)
    run_in(programme, vilde, status=RunStatus.PUBLISHED, price_ore=10_000_000, title="Hold 1")
    methods = [factories.make_method("Netværksmøder")]
    roles = [factories.make_staff_role("Sagsbehandler")]
    return {"programme": programme, "provider": vilde, "methods": methods, "roles": roles}


def run_payload(ref, **overrides) -> dict:
    data = {
        "programme_id": str(ref["programme"].id),
        "provider_id": str(ref["provider"].id),
        "title": "Netværksmøder i praksis, hold 2",
        "description": "",
        "kind": "special",
        "methods": [str(ref["methods"][0].id)],
        "staff_roles": [str(r.id) for r in ref["roles"]],
        "capacity": "12",
        "enrolment_deadline": "2008-10-15",
        "venue": "Socialcenter Nørrebro",
        "price": "41.500",
        "day1_date": "2008-11-04",
        "day1_start": "09:00",
        "day1_end": "15:30",
        "day1_venue": "",
        "day2_date": "2008-11-05",
        "day2_start": "09:00",
        "day2_end": "15:30",
        "day2_venue": "",
        "follow_up_date": "",
        "follow_up_start": "09:00",
        "follow_up_end": "12:00",
        "follow_up_venue": "",
        "action": "save",
    }
    data.update(overrides)
    return data


def run_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CourseRun))


@pytest.fixture
def as_coordinator(client, login_as, coordinator, monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: date(2008, 9, 1))
    login_as(coordinator)
    return client


def test_the_run_form_warns_before_over_committing_and_saves_when_confirmed(as_coordinator, form_ref):
    before = run_count()
    page = post_form(as_coordinator, "/runs/new", run_payload(form_ref), form_url="/runs/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Budgetrammen overskrides" in html
    assert "141.500 kr." in html and "125.000 kr." in html and "16.500 kr. for meget" in html
    assert 'name="confirm_anyway"' in html
    assert run_count() == before  # nothing saved yet

    saved = post_form(as_coordinator, "/runs/new", run_payload(form_ref, confirm_anyway="y"), form_url="/runs/new")
    assert saved.status_code == 302
    assert run_count() == before + 1


def test_a_price_within_the_budget_saves_without_a_warning(as_coordinator, form_ref):
    before = run_count()
    response = post_form(as_coordinator, "/runs/new", run_payload(form_ref, price="25.000"), form_url="/runs/new")
    assert response.status_code == 302
    saved = db.session.scalar(select(CourseRun).filter_by(title="Netværksmøder i praksis, hold 2"))
    assert run_count() == before + 1 and saved.price_ore == 2_500_000
    assert response.location.endswith(f"/runs/{saved.id}")
    page = as_coordinator.get(response.location).get_data(as_text=True)
    assert "Netværksmøder i praksis, hold 2" in page and "25.000 kr." in page
    assert "Budgetrammen overskrides" not in page


def test_the_edit_form_warns_when_the_new_price_is_over(as_coordinator, form_ref):
    run = db.session.scalar(select(CourseRun).filter_by(title="Hold 1"))
    url = f"/runs/{run.id}/edit"
    page = post_form(as_coordinator, url, run_payload(form_ref, title="Hold 1", price="130.000"))
    assert page.status_code == 200 and "Budgetrammen overskrides" in page.get_data(as_text=True)
    db.session.expire_all()
    assert run.price_ore == 10_000_000
    # its own stored price is replaced, not added: 120.000 kr. fits the 125.000 kr.
    assert post_form(as_coordinator, url, run_payload(form_ref, title="Hold 1", price="120.000")).status_code == 302


# --- the page -------------------------------------------------------------------------------------


@pytest.fixture
def scene(programme, fic_provider, people):
    factories.make_allocation(programme, fic_provider, 2008, 375_000)
    run = run_in(programme, fic_provider, price_ore=40_000_000, title="Familierådslagning, hold 1")
    attend(run, people["anna"])
    attend(run, people["bo"], missing=(3,))
    return run


def test_the_dashboard_shows_numbers_and_bars(client, login_as, coordinator, programme, scene):
    login_as(coordinator)
    response = client.get(f"/programmes/{programme.id}/dashboard")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 af 2 kursusforløb gennemført inden fristen (50 %)" in html
    assert "1 af 3 medarbejdere har gennemført inden fristen (33 %)" in html
    assert '<progress id="bar-activity" max="2" value="1"' in html
    assert "Tilmeldt, ikke gennemført: 1" in html
    assert "Overdisponeret:" in html and "Familien i Centrum i 2008 med 25.000 kr." in html
    assert "Familierådslagning, hold 1" in html
    assert f'href="/programmes/{programme.id}/report.pdf"' in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []  # no inline script


def test_the_programme_page_links_to_the_dashboard(client, login_as, coordinator, programme):
    login_as(coordinator)
    html = client.get(f"/programmes/{programme.id}").get_data(as_text=True)
    assert f'href="/programmes/{programme.id}/dashboard"' in html


@pytest.mark.parametrize("path", ["dashboard", "report.pdf", "report.xlsx"])
def test_staff_are_refused_and_anonymous_sent_to_login(client, login_as, staff_member, programme, path):
    url = f"/programmes/{programme.id}/{path}"
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login")
    login_as(staff_member)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("path", ["dashboard", "report.pdf", "report.xlsx"])
def test_providers_are_refused(client, login_as, provider_user, programme, path):
    login_as(provider_user)
    assert client.get(f"/programmes/{programme.id}/{path}").status_code == 403


@pytest.mark.parametrize("path", ["dashboard", "report.pdf", "report.xlsx"])
def test_unknown_programme_is_404(client, login_as, coordinator, path):
    login_as(coordinator)
    assert client.get(f"/programmes/999/{path}").status_code == 404


def _statements(client, url: str) -> int:
    with recorded_statements() as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_the_statement_count_does_not_grow_with_the_enrolments(client, login_as, coordinator, fic_provider, vilde):
    login_as(coordinator)
    counts = []
    for n in (2, 12):
        programme = factories.make_programme(target_deadline=DEADLINE)
        factories.make_allocation(programme, fic_provider, 2008, 375_000)
        factories.make_allocation(programme, vilde, 2009, 125_000)
        runs = [
            run_in(programme, fic_provider),
            run_in(programme, vilde, days=LATE),
            run_in(programme, vilde, status=RunStatus.PUBLISHED),
        ]
        role, unit = factories.make_staff_role(), factories.make_unit()
        for i in range(n):
            user = factories.make_user(staff_role=role, unit=unit)
            attend(runs[i % 3], user, missing=(3,) if i % 4 == 0 else ())
        url = f"/programmes/{programme.id}/dashboard"
        db.session.expunge_all()  # each request starts as in production: nothing in the identity map
        counts.append(_statements(client, url))
    assert counts[0] == counts[1], counts
