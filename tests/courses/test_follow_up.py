"""The follow-up rule: teaching day 2 + 3 months in one step, then the next working day (pure)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import date, timedelta

import pytest
from flask_babel import force_locale

from app.calendar.workdays import next_working_day
from app.courses.follow_up import explain
from app.courses.services import (
    MAX_SKIPPED_DAYS,
    FollowUpProposal,
    describe_proposal,
    fix_follow_up_day,
    propose_follow_up_day,
)
from app.extensions import db
from tests import factories

GRUNDLOVSDAG = {date(2009, 6, 5): "Grundlovsdag (lukket fra kl. 12)"}
XMAS_EVE = {date(2008, 12, 24): "Juleaftensdag"}

CASES = [
    # (teaching day 2, closed days, anchor, proposal, skipped)
    pytest.param(
        date(2008, 10, 1),
        {},
        date(2009, 1, 1),
        date(2009, 1, 2),
        ((date(2009, 1, 1), "nytårsdag"),),
        id="brief: 1 Oct 2008 -> nytårsdag -> 2 Jan 2009",
    ),
    pytest.param(
        date(2009, 1, 9),
        {},
        date(2009, 4, 9),
        date(2009, 4, 14),
        (
            (date(2009, 4, 9), "skærtorsdag"),
            (date(2009, 4, 10), "langfredag"),
            (date(2009, 4, 11), "lørdag"),
            (date(2009, 4, 12), "søndag"),
            (date(2009, 4, 13), "anden påskedag"),
        ),
        id="lands in Easter 2009",
    ),
    pytest.param(
        date(2009, 3, 5),
        GRUNDLOVSDAG,
        date(2009, 6, 5),
        date(2009, 6, 8),
        (
            (date(2009, 6, 5), "Grundlovsdag (lukket fra kl. 12)"),
            (date(2009, 6, 6), "lørdag"),
            (date(2009, 6, 7), "søndag"),
        ),
        id="configured closed day",
    ),
    pytest.param(date(2009, 3, 5), {}, date(2009, 6, 5), date(2009, 6, 5), (), id="not closed: Grundlovsdag works"),
    pytest.param(
        date(2008, 8, 31),
        {},
        date(2008, 11, 30),
        date(2008, 12, 1),
        ((date(2008, 11, 30), "søndag"),),
        id="31 Aug + 3 months = 30 Nov, a Sunday",
    ),
    pytest.param(
        date(2008, 8, 30),
        {},
        date(2008, 11, 30),
        date(2008, 12, 1),
        ((date(2008, 11, 30), "søndag"),),
        id="30 Aug -> same Sunday",
    ),
    pytest.param(
        date(2008, 8, 29),
        {},
        date(2008, 11, 29),
        date(2008, 12, 1),
        ((date(2008, 11, 29), "lørdag"), (date(2008, 11, 30), "søndag")),
        id="Saturday -> Monday",
    ),
    pytest.param(
        date(2008, 11, 30),
        {},
        date(2009, 2, 28),
        date(2009, 3, 2),
        ((date(2009, 2, 28), "lørdag"), (date(2009, 3, 1), "søndag")),
        id="30 Nov clamps to 28 Feb",
    ),
    pytest.param(date(2011, 11, 30), {}, date(2012, 2, 29), date(2012, 2, 29), (), id="30 Nov clamps to 29 Feb"),
    pytest.param(
        date(2008, 9, 24),
        XMAS_EVE,
        date(2008, 12, 24),
        date(2008, 12, 29),
        (
            (date(2008, 12, 24), "Juleaftensdag"),
            (date(2008, 12, 25), "juledag"),
            (date(2008, 12, 26), "anden juledag"),
            (date(2008, 12, 27), "lørdag"),
            (date(2008, 12, 28), "søndag"),
        ),
        id="closed Christmas Eve, then Christmas",
    ),
    pytest.param(
        date(2008, 9, 24),
        {},
        date(2008, 12, 24),
        date(2008, 12, 24),
        (),
        id="Christmas Eve is a working day where it is not closed (Copenhagen)",
    ),
    pytest.param(
        date(2023, 2, 5),
        {},
        date(2023, 5, 5),
        date(2023, 5, 8),
        ((date(2023, 5, 5), "store bededag"), (date(2023, 5, 6), "lørdag"), (date(2023, 5, 7), "søndag")),
        id="Store Bededag 2023",
    ),
    pytest.param(date(2024, 1, 26), {}, date(2024, 4, 26), date(2024, 4, 26), (), id="no Store Bededag in 2024"),
    pytest.param(date(2008, 9, 17), {}, date(2008, 12, 17), date(2008, 12, 17), (), id="a plain Wednesday"),
]


@pytest.mark.parametrize(("teaching_day_2", "closed", "anchor", "day", "skipped"), CASES)
def test_proposal(teaching_day_2, closed, anchor, day, skipped):
    proposal = propose_follow_up_day(teaching_day_2, closed)
    assert proposal.anchor == anchor
    assert proposal.day == day
    assert proposal.skipped == skipped
    assert proposal.moved == (day != anchor)
    # The proposal agrees with the calendar module's own "next working day".
    assert proposal.day == next_working_day(anchor, closed)


def test_the_month_offset_is_a_parameter():
    assert propose_follow_up_day(date(2008, 10, 1), {}, months=2).day == date(2008, 12, 1)
    assert propose_follow_up_day(date(2008, 10, 1), {}, months=6).day == date(2009, 4, 1)
    with pytest.raises(ValueError):
        propose_follow_up_day(date(2008, 10, 1), {}, months=0)


def test_reasons_can_be_given_in_english():
    proposal = propose_follow_up_day(date(2008, 10, 1), {}, language="en")
    assert proposal.skipped == ((date(2009, 1, 1), "New Year's Day"),)


def test_a_proposal_is_a_frozen_value():
    proposal = propose_follow_up_day(date(2008, 10, 1), {})
    assert isinstance(proposal, FollowUpProposal)
    with pytest.raises(FrozenInstanceError):
        proposal.day = date(2009, 1, 5)  # type: ignore[misc]


def test_a_season_of_closed_days_is_refused_rather_than_moving_for_months():
    closed = {date(2009, 1, 1) + timedelta(days=n): "Lukket" for n in range(120)}
    with pytest.raises(ValueError):
        propose_follow_up_day(date(2008, 10, 1), closed)


def test_exactly_max_skipped_days_are_passed_over_and_one_more_is_refused():
    closed = {date(2009, 1, 1) + timedelta(days=n): "Lukket" for n in range(MAX_SKIPPED_DAYS)}
    proposal = propose_follow_up_day(date(2008, 10, 1), closed)
    assert (proposal.day, len(proposal.skipped)) == (date(2009, 3, 2), MAX_SKIPPED_DAYS)  # 60 days on: a Monday
    closed[date(2009, 3, 2)] = "Lukket"
    with pytest.raises(ValueError, match="no working day within 60 days"):
        propose_follow_up_day(date(2008, 10, 1), closed)


def test_the_end_of_the_calendar_is_a_value_error_not_a_crash():
    with pytest.raises(ValueError):
        propose_follow_up_day(date(9999, 12, 1), {})


# describe_proposal needs Flask-Babel (an app context).


def test_description_of_a_moved_proposal(app):
    text = describe_proposal(propose_follow_up_day(date(2008, 10, 1), {}))
    assert text == (
        "Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder = 1. januar 2009, som er nytårsdag; "
        "flyttet til næste arbejdsdag)"
    )


def test_description_of_an_unmoved_proposal(app):
    assert describe_proposal(propose_follow_up_day(date(2008, 9, 17), {})) == (
        "Forslag: 17. december 2008 (undervisningsdag 2 + 3 måneder)"
    )
    assert describe_proposal(propose_follow_up_day(date(2008, 9, 17), {}, months=1)) == (
        "Forslag: 17. oktober 2008 (undervisningsdag 2 + 1 måned)"
    )


def test_description_lists_every_day_passed_over(app):
    text = describe_proposal(propose_follow_up_day(date(2009, 1, 9), {}))
    assert text == (
        "Forslag: 14. april 2009 (undervisningsdag 2 + 3 måneder = 9. april 2009, som er skærtorsdag; "
        "10. april 2009 (langfredag), 11. april 2009 (lørdag), 12. april 2009 (søndag) og "
        "13. april 2009 (anden påskedag) er heller ikke arbejdsdage; flyttet til næste arbejdsdag)"
    )
    text = describe_proposal(propose_follow_up_day(date(2008, 8, 29), {}))
    assert "= 29. november 2008, som er lørdag; 30. november 2008 (søndag) er heller ikke en arbejdsdag;" in text


def test_description_names_the_closed_day_reason(app):
    text = describe_proposal(propose_follow_up_day(date(2009, 3, 5), GRUNDLOVSDAG))
    assert text.startswith(
        "Forslag: 8. juni 2009 (undervisningsdag 2 + 3 måneder = 5. juni 2009, som er Grundlovsdag (lukket fra kl. 12);"
    )


def test_description_follows_the_language(app):
    with force_locale("en"):
        text = describe_proposal(propose_follow_up_day(date(2008, 10, 1), {}, language="en"))
    assert "2 January 2009" in text
    assert "New Year's Day" in text


# --- fix_follow_up_day: the follow-up job applies the rule again ----------------------------------------------
# Teaching day 2 on 1 October 2008: + 3 months is New Year's Day, so the rule proposes Friday 2 January 2009.


def follow_up_run(follow_up: date, proposed_on: date):
    return factories.make_course_run(
        days=(date(2008, 9, 30), date(2008, 10, 1), follow_up), follow_up_proposed_on=proposed_on
    )


def test_the_job_moves_the_follow_up_day_past_a_closed_day_added_since(app):
    run = follow_up_run(date(2009, 1, 2), date(2009, 1, 2))
    factories.make_closed_day(date(2009, 1, 2), "Lukket mellem jul og nytår")
    assert fix_follow_up_day(run) is True
    follow_up = run.days[2]
    assert (follow_up.day, follow_up.sequence, run.follow_up_proposed_on) == (date(2009, 1, 5), 1, date(2009, 1, 5))
    assert {"day": "2009-01-02", "closed": "Lukket mellem jul og nytår"} in run.follow_up_reason_parts["skipped"]
    assert "Lukket mellem jul og nytår" in explain(run)


def test_the_job_leaves_a_day_that_still_follows_the_rule(app):
    run = follow_up_run(date(2009, 1, 2), date(2009, 1, 2))
    assert fix_follow_up_day(run) is False
    assert (run.days[2].day, run.days[2].sequence, run.follow_up_proposed_on) == (date(2009, 1, 2), 0, date(2009, 1, 2))


def test_the_job_moves_the_day_back_when_a_closed_day_was_removed(app):
    """Saved while 2 January was closed (proposal 5 January); the closed day is gone by the evening of day 2."""
    run = follow_up_run(date(2009, 1, 5), date(2009, 1, 5))
    assert fix_follow_up_day(run) is True
    assert (run.days[2].day, run.days[2].sequence) == (date(2009, 1, 2), 1)


def test_the_job_keeps_a_day_the_coordinator_chose(app):
    run = follow_up_run(date(2009, 1, 9), date(2009, 1, 2))
    assert run.follow_up_overridden
    factories.make_closed_day(date(2009, 1, 2))
    assert fix_follow_up_day(run) is False
    assert (run.days[2].day, run.days[2].sequence) == (date(2009, 1, 9), 0)


def test_a_run_without_a_follow_up_day_is_left_alone(app):
    run = follow_up_run(date(2009, 1, 2), date(2009, 1, 2))
    run.days.remove(run.follow_up_day)
    db.session.flush()
    assert fix_follow_up_day(run) is False
    assert [d.position for d in run.days] == [1, 2]
