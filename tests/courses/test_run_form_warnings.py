"""The run form's warnings (issue 21): a budget overrun and implausible dates (a weekend, a public holiday or a
closed day, a run wholly in the past) come back as one summary at the top of the page, linking to the fields
and to one "Gem alligevel" checkbox; nothing is saved until it is ticked, then everything is."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from app.courses.models import CourseRun, RunKind
from app.courses.services import CourseDayData, CourseRunData, date_warnings
from app.extensions import db
from tests import factories
from tests.conftest import post_form
from tests.courses.test_runs_views import html, payload, run_count

TODAY = date(2008, 9, 1)


@pytest.fixture(autouse=True)
def today(clock):
    clock.set(TODAY)


@pytest.fixture
def ref(app, coordinator):
    """The form's reference data (as tests/courses/test_runs_views.py's), committed with the coordinator."""
    data = {
        "programme": factories.make_programme(name="Styrket forældreansvar"),
        "provider": factories.make_provider(name="Vilde Læreprocesser"),
        "methods": [factories.make_method("Signs of Safety"), factories.make_method("Netværksmøder")],
        "roles": [factories.make_staff_role("Sagsbehandler"), factories.make_staff_role("Hjemmevejleder")],
    }
    db.session.commit()
    return data


def summary(page: str) -> str:
    """The warning summary's markup, asserting it comes before the form (at the top of the page)."""
    start = page.index('id="warning-summary"')
    assert start < page.index('<form method="post" novalidate'), "the summary is above the form"
    return page[start : page.index("</div>\n</div>", start)]


def test_a_budget_overrun_is_summarised_at_the_top_with_a_link_to_the_confirmation(client, login_as, coordinator, ref):
    factories.make_allocation(ref["programme"], ref["provider"], 2008, 20_000)
    db.session.commit()
    login_as(coordinator)
    response = post_form(client, "/runs/new", payload(ref))
    page = html(response)
    assert response.status_code == 200 and run_count() == 0
    top = summary(page)
    assert "Budgetrammen overskrides" in top and "21.500 kr. for meget" in top
    assert 'href="#confirm_anyway"' in top
    assert 'tabindex="-1"' in page[page.index("<div", page.index("warning-summary") - 80) :][:200]
    assert 'id="confirm_anyway"' in page and 'name="confirm_anyway"' in page
    assert 'id="error-summary"' not in page, "nothing is wrong with the fields"

    saved = post_form(client, "/runs/new", payload(ref, confirm_anyway="y"))
    assert saved.status_code == 302 and run_count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        (
            {"day1_date": "2008-09-27"},
            "day1_date",
            "1. undervisningsdag er 27. september 2008, som ikke er en arbejdsdag (lørdag).",
        ),
        ({"day2_date": "2008-10-05"}, "day2_date", "(søndag)"),
        ({"follow_up_date": "2008-12-25"}, "follow_up_date", "(juledag)"),
        ({"follow_up_date": "2009-01-05"}, "follow_up_date", "(Kommunens kursusdag)"),
    ],
)
def test_a_day_off_is_warned_about_and_saved_only_when_confirmed(
    client, login_as, coordinator, ref, overrides, field, says
):
    factories.make_closed_day(date(2009, 1, 5), "Kommunens kursusdag")
    db.session.commit()
    login_as(coordinator)
    response = post_form(client, "/runs/new", payload(ref, **overrides))
    assert response.status_code == 200 and run_count() == 0
    top = summary(html(response))
    assert f'href="#{field}"' in top and says in top
    assert "Budgetrammen" not in top

    saved = post_form(client, "/runs/new", payload(ref, confirm_anyway="y", **overrides))
    assert saved.status_code == 302 and run_count() == 1


def test_a_run_wholly_in_the_past_is_warned_about(client, login_as, coordinator, ref, clock):
    clock.set(date(2009, 6, 1))
    login_as(coordinator)
    response = post_form(client, "/runs/new", payload(ref))
    assert response.status_code == 200 and run_count() == 0
    assert "Alle kursusforløbets dage ligger før i dag. Er datoerne rigtige?" in summary(html(response))
    assert post_form(client, "/runs/new", payload(ref, confirm_anyway="y")).status_code == 302
    assert run_count() == 1


def test_a_run_whose_follow_up_day_is_still_ahead_is_not_in_the_past(client, login_as, coordinator, ref, clock):
    clock.set(date(2008, 11, 1))  # both teaching days passed; the proposed follow-up day (2 Jan 2009) has not
    login_as(coordinator)
    assert post_form(client, "/runs/new", payload(ref)).status_code == 302


def test_one_confirmation_covers_every_warning_of_the_submission(client, login_as, coordinator, ref):
    factories.make_allocation(ref["programme"], ref["provider"], 2008, 20_000)
    db.session.commit()
    login_as(coordinator)
    bad = {"day1_date": "2008-09-27", "follow_up_date": "2008-12-25"}
    top = summary(html(post_form(client, "/runs/new", payload(ref, **bad))))
    assert "Budgetrammen overskrides" in top and "(lørdag)" in top and "(juledag)" in top
    assert top.count('href="#confirm_anyway"') == 1
    assert post_form(client, "/runs/new", payload(ref, confirm_anyway="y", **bad)).status_code == 302


def test_an_edit_does_not_warn_again_about_the_dates_already_saved(client, login_as, coordinator, ref):
    login_as(coordinator)
    post_form(client, "/runs/new", payload(ref, day1_date="2008-09-27", confirm_anyway="y"))
    run = db.session.scalars(select(CourseRun)).one()
    changed_title = payload(ref, day1_date="2008-09-27", title="Nyt navn")
    response = post_form(client, f"/runs/{run.id}/edit", changed_title)
    assert response.status_code == 302
    db.session.refresh(run)
    assert run.title == "Nyt navn"
    # moving it to another Saturday is a new date: warned about
    again = post_form(client, f"/runs/{run.id}/edit", payload(ref, day1_date="2008-09-20"))
    assert again.status_code == 200 and "(lørdag)" in summary(html(again))


def test_the_warnings_are_in_english_for_an_english_user(client, login_as, coordinator, ref):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login_as(coordinator)
    response = post_form(client, "/runs/new", payload(ref, day1_date="2008-09-27", price="41,500"))
    top = summary(html(response))
    # (the date in the interface language's format: app.core.templating.dk_date decides it)
    assert re.search(r"Teaching day 1 is [^<]*27[^<]*2008, which is not a working day \(Saturday\)\.", top)
    assert "Save anyway" in html(response)


def _data(**days) -> CourseRunData:
    def day(d):
        return CourseDayData(day=d)

    return CourseRunData(
        programme_id=1,
        provider_id=1,
        title="t",
        kind=RunKind.SPECIAL,
        method_ids=(),
        staff_role_ids=(),
        capacity=1,
        enrolment_deadline=date(2008, 9, 1),
        venue="v",
        price_ore=0,
        teaching_day_1=day(days.get("day1", date(2008, 9, 30))),
        teaching_day_2=day(days.get("day2", date(2008, 10, 1))),
        follow_up=day(days.get("follow_up")),
    )


def test_the_rule_takes_today_as_a_parameter(app):
    assert date_warnings(_data(), {}, date(2008, 9, 1), 3) == []
    assert [w.field for w in date_warnings(_data(), {}, date(2009, 2, 1), 3)] == ["day1_date"]
    assert date_warnings(_data(), {}, date(2009, 1, 2), 3) == [], "the proposed follow-up day is today"
    weekend = date_warnings(_data(day1=date(2008, 9, 28)), {}, date(2008, 9, 1), 3)
    assert [w.field for w in weekend] == ["day1_date"]


def test_a_provider_without_an_allocation_is_warned_without_a_double_full_stop(client, login_as, coordinator, ref):
    factories.make_allocation(ref["programme"], factories.make_provider(name="Anden udbyder"), 2008, 20_000)
    db.session.commit()
    login_as(coordinator)
    top = summary(html(post_form(client, "/runs/new", payload(ref))))
    assert "Med dette kursusforløb bliver der disponeret 41.500 kr. i alt." in top
    assert "kr.." not in top
