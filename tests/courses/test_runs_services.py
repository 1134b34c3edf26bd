"""Course-run services: create, update (sequence bumps only for changed days, UIDs stable), publish, cancel,
and the visibility rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time

import pytest
from sqlalchemy import select

from app.core.exceptions import DomainError, NotAllowed, ValidationFailed
from app.courses import services
from app.courses.follow_up import explain
from app.courses.models import CourseRun, DayKind, RunKind, RunStatus
from app.courses.services import CourseDayData, CourseRunData
from app.extensions import db
from tests import factories

CLOSED = {date(2009, 6, 5): "Grundlovsdag (lukket fra kl. 12)"}


@pytest.fixture
def ref(app):
    return {
        "programme": factories.make_programme(name="Styrket forældreansvar"),
        "provider": factories.make_provider(name="Vilde Læreprocesser"),
        "methods": [factories.make_method("Signs of Safety"), factories.make_method("Familierådslagning")],
        "roles": [factories.make_staff_role("Sagsbehandler"), factories.make_staff_role("Hjemmevejleder")],
    }


def run_data(ref, **overrides) -> CourseRunData:
    values = dict(
        programme_id=ref["programme"].id,
        provider_id=ref["provider"].id,
        title="Styrket forældreansvar, hold 2",
        kind=RunKind.STANDARD,
        method_ids=tuple(m.id for m in ref["methods"]),
        staff_role_ids=(ref["roles"][0].id,),
        capacity=35,
        enrolment_deadline=date(2008, 9, 15),
        venue="FIC, Kursuslokalet, Valby",
        price_ore=18_750_000,
        teaching_day_1=CourseDayData(date(2008, 9, 30)),
        teaching_day_2=CourseDayData(date(2008, 10, 1)),
        follow_up=CourseDayData(None),
        description="To undervisningsdage og en opfølgningsdag.",
    )
    values.update(overrides)
    return CourseRunData(**values)


def create(coordinator, ref, **overrides) -> CourseRun:
    return services.create_course_run(coordinator, run_data(ref, **overrides), CLOSED, 3)


def days_by_position(run):
    return {d.position: d for d in run.days}


# -- create -------------------------------------------------------------------------------------------


def test_create_makes_a_draft_with_three_days_and_stores_the_proposal(coordinator, ref):
    run = create(coordinator, ref)
    db.session.expire_all()
    run = db.session.get(CourseRun, run.id)
    assert run.status == RunStatus.DRAFT
    assert [(d.position, d.kind, d.day) for d in run.days] == [
        (1, DayKind.TEACHING, date(2008, 9, 30)),
        (2, DayKind.TEACHING, date(2008, 10, 1)),
        (3, DayKind.FOLLOW_UP, date(2009, 1, 2)),
    ]
    assert all(d.starts_at == time(9) and d.ends_at == time(15, 30) and d.sequence == 0 for d in run.days)
    assert len({d.ical_uid for d in run.days}) == 3
    assert run.follow_up_proposed_on == date(2009, 1, 2)
    assert run.follow_up_reason_parts == {
        "kind": "teaching_day_2_plus_months",
        "months": 3,
        "day": "2009-01-02",
        "anchor": "2009-01-01",
        "skipped": [{"day": "2009-01-01"}],  # a public holiday: its name is no part, it follows the language
    }
    assert run.follow_up_reason is None
    assert explain(run) == (
        "Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder = 1. januar 2009, som er nytårsdag; "
        "flyttet til næste arbejdsdag)"
    )
    assert not run.follow_up_overridden
    assert [m.name for m in run.methods] == ["Familierådslagning", "Signs of Safety"]
    assert [r.name for r in run.eligible_roles] == ["Sagsbehandler"]
    assert run.price_ore == 18_750_000
    assert run.title == "Styrket forældreansvar, hold 2"


def test_create_uses_the_closed_days_given(coordinator, ref):
    run = create(
        coordinator,
        ref,
        teaching_day_1=CourseDayData(date(2009, 3, 4)),
        teaching_day_2=CourseDayData(date(2009, 3, 5)),
        enrolment_deadline=date(2009, 3, 1),
    )
    assert run.follow_up_day.day == date(2009, 6, 8)
    assert {"day": "2009-06-05", "closed": "Grundlovsdag (lukket fra kl. 12)"} in run.follow_up_reason_parts["skipped"]
    assert "Grundlovsdag (lukket fra kl. 12)" in explain(run)


def test_create_with_the_coordinators_own_follow_up_day_keeps_the_proposal_on_record(coordinator, ref):
    run = create(coordinator, ref, follow_up=CourseDayData(date(2009, 1, 8), time(10), time(14), "Rådhuset"))
    follow_up = run.follow_up_day
    assert (follow_up.day, follow_up.starts_at, follow_up.ends_at, follow_up.venue) == (
        date(2009, 1, 8),
        time(10),
        time(14),
        "Rådhuset",
    )
    assert follow_up.effective_venue == "Rådhuset"
    assert run.days[0].effective_venue == "FIC, Kursuslokalet, Valby"
    assert run.follow_up_proposed_on == date(2009, 1, 2)
    assert run.follow_up_overridden


def test_the_stored_reason_is_parts_each_reader_gets_in_their_language(app, coordinator, ref):
    from flask_babel import force_locale

    with force_locale("en"):
        run = create(coordinator, ref)
        english = explain(run)
    assert english == (
        "Suggestion: 2 January 2009 (teaching day 2 + 3 months = 1 January 2009, which is New Year's Day; "
        "moved to the next working day)"
    )
    with force_locale("da"):
        assert explain(run).startswith(
            "Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder = 1. januar 2009, som er nytårsdag"
        )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"teaching_day_2": CourseDayData(date(2008, 9, 30))}, "day2_date"),
        ({"teaching_day_2": CourseDayData(date(2008, 9, 29))}, "day2_date"),
        ({"follow_up": CourseDayData(date(2008, 10, 1))}, "follow_up_date"),
        ({"enrolment_deadline": date(2008, 10, 1)}, "enrolment_deadline"),
        ({"teaching_day_1": CourseDayData(date(2008, 9, 30), time(12), time(12))}, "day1_end"),
        ({"follow_up": CourseDayData(None, time(15), time(9))}, "follow_up_end"),
        ({"capacity": 0}, "capacity"),
        ({"price_ore": -1}, "price"),
        ({"title": "  "}, "title"),
        ({"venue": ""}, "venue"),
        ({"method_ids": ()}, "methods"),
        ({"method_ids": (999_999,)}, "methods"),
        ({"staff_role_ids": ()}, "staff_roles"),
        ({"staff_role_ids": (999_999,)}, "staff_roles"),
        ({"programme_id": 999_999}, "programme_id"),
        ({"provider_id": 999_999}, "provider_id"),
    ],
)
def test_create_refuses_broken_rules_at_the_field(coordinator, ref, overrides, field):
    with pytest.raises(ValidationFailed) as info:
        create(coordinator, ref, **overrides)
    assert field in info.value.errors
    assert db.session.query(CourseRun).count() == 0


def test_create_refuses_an_inactive_provider(coordinator, ref):
    ref["provider"].active = False
    with pytest.raises(ValidationFailed) as info:
        create(coordinator, ref)
    assert "provider_id" in info.value.errors


def test_only_coordinators_create(staff_member, ref):
    with pytest.raises(NotAllowed):
        create(staff_member, ref)


# -- update -------------------------------------------------------------------------------------------


def test_update_bumps_the_sequence_of_changed_days_only_and_never_the_uid(coordinator, ref):
    run = create(coordinator, ref)
    uids = {d.position: d.ical_uid for d in run.days}
    data = run_data(ref, teaching_day_1=CourseDayData(date(2008, 9, 30), time(9, 30), time(15, 30)))
    services.update_course_run(coordinator, run, data, CLOSED, 3)
    days = days_by_position(run)
    assert (days[1].starts_at, days[1].sequence) == (time(9, 30), 1)
    assert days[2].sequence == 0 and days[3].sequence == 0
    assert {d.position: d.ical_uid for d in run.days} == uids

    # The run's title is every day's SUMMARY: a new title is a change of every day.
    data = replace(data, title="Nyt navn")
    services.update_course_run(coordinator, run, data, CLOSED, 3)
    assert run.title == "Nyt navn"
    assert [d.sequence for d in run.days] == [2, 1, 1]

    # A venue change of one day is a change of that day; saving the same data again changes nothing.
    data = replace(data, teaching_day_2=CourseDayData(date(2008, 10, 1), venue="Rådhuset, lokale 1"))
    services.update_course_run(coordinator, run, data, CLOSED, 3)
    services.update_course_run(coordinator, run, data, CLOSED, 3)
    assert [d.sequence for d in run.days] == [2, 2, 1]
    assert {d.position: d.ical_uid for d in run.days} == uids


def test_a_change_of_what_every_event_shows_bumps_every_day(coordinator, ref):
    """Issue 19: the run's title is every event's SUMMARY, and the run's venue the LOCATION of every day
    without a venue of its own; the day rows don't change, but what the calendars show does."""
    run = create(coordinator, ref)
    data = run_data(ref, title="Nyt navn")
    services.update_course_run(coordinator, run, data, CLOSED, 3)
    assert run.title == "Nyt navn"
    assert [d.sequence for d in run.days] == [1, 1, 1]
    data = replace(data, teaching_day_2=CourseDayData(date(2008, 10, 1), venue="Rådhuset, lokale 1"))
    services.update_course_run(coordinator, run, data, CLOSED, 3)
    data = replace(data, venue="Et andet kursuscenter")  # day 2 keeps its own venue
    services.update_course_run(coordinator, run, data, CLOSED, 3)
    assert [d.sequence for d in run.days] == [2, 2, 2]
    data = replace(data, description="Ny beskrivelse")  # not part of any event
    services.update_course_run(coordinator, run, data, CLOSED, 3)
    assert [d.sequence for d in run.days] == [2, 2, 2]


def test_moving_teaching_day_2_recomputes_the_proposal_and_a_blank_follow_up_follows_it(coordinator, ref):
    run = create(coordinator, ref)
    data = run_data(ref, teaching_day_2=CourseDayData(date(2008, 10, 2)))
    services.update_course_run(coordinator, run, data, CLOSED, 3)
    assert run.follow_up_proposed_on == date(2009, 1, 2)  # 2 Jan 2009 is a Friday: no move
    assert explain(run) == "Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder)"
    assert [d.sequence for d in run.days] == [0, 1, 0]  # the follow-up date happens to stay

    data = run_data(ref, teaching_day_2=CourseDayData(date(2008, 10, 8)))
    services.update_course_run(coordinator, run, data, CLOSED, 3)
    assert run.follow_up_proposed_on == date(2009, 1, 8)
    assert days_by_position(run)[3].day == date(2009, 1, 8)
    assert [d.sequence for d in run.days] == [0, 2, 1]


def test_an_overridden_follow_up_day_stays_when_given_again(coordinator, ref):
    run = create(coordinator, ref, follow_up=CourseDayData(date(2009, 1, 15)))
    data = run_data(ref, teaching_day_2=CourseDayData(date(2008, 10, 8)), follow_up=CourseDayData(date(2009, 1, 15)))
    services.update_course_run(coordinator, run, data, CLOSED, 3)
    assert run.follow_up_day.day == date(2009, 1, 15)
    assert run.follow_up_day.sequence == 0
    assert run.follow_up_proposed_on == date(2009, 1, 8)
    assert run.follow_up_overridden


def _stored_first_day(run_id):
    return db.session.scalar(select(CourseRun.first_day).where(CourseRun.id == run_id))


def test_the_stored_first_day_follows_the_days_however_they_change(coordinator, ref):
    """CourseRun.first_day (what the run list sorts and pages on) is the earliest course day in the database
    after every flush: set on create, moved with teaching day 1, recomputed when a day goes or comes."""
    run = create(coordinator, ref)
    db.session.commit()
    assert _stored_first_day(run.id) == date(2008, 9, 30)

    data = run_data(ref, teaching_day_1=CourseDayData(date(2008, 9, 29)))
    services.update_course_run(coordinator, run, data, CLOSED, 3)
    db.session.commit()
    assert _stored_first_day(run.id) == date(2008, 9, 29)

    day1 = days_by_position(run)[1]
    run.days.remove(day1)  # delete-orphan: the day row goes at the flush
    db.session.commit()
    assert _stored_first_day(run.id) == date(2008, 10, 1)

    db.session.delete(days_by_position(run)[2])  # deleted through the session, not the collection
    db.session.commit()
    db.session.expire_all()
    assert _stored_first_day(run.id) == date(2009, 1, 2)

    data = run_data(ref, teaching_day_1=CourseDayData(date(2008, 9, 28)))
    services.update_course_run(coordinator, run, data, CLOSED, 3)  # puts the missing days back
    db.session.commit()
    assert _stored_first_day(run.id) == date(2008, 9, 28)


def test_update_keeps_an_inactive_provider_the_run_already_has(coordinator, ref):
    run = create(coordinator, ref)
    ref["provider"].active = False
    services.update_course_run(coordinator, run, run_data(ref, capacity=30), CLOSED, 3)
    assert run.capacity == 30


def test_update_refuses_broken_rules_and_changes_nothing(coordinator, ref):
    run = create(coordinator, ref)
    with pytest.raises(ValidationFailed) as info:
        services.update_course_run(
            coordinator, run, run_data(ref, teaching_day_2=CourseDayData(date(2008, 9, 1)), capacity=0), CLOSED, 3
        )
    assert set(info.value.errors) == {"day2_date", "capacity"}
    assert [d.sequence for d in run.days] == [0, 0, 0]
    assert run.capacity == 35


@pytest.mark.parametrize("status", [RunStatus.CANCELLED, RunStatus.COMPLETED])
def test_cancelled_and_completed_runs_cannot_be_edited(coordinator, ref, status):
    run = create(coordinator, ref)
    run.status = status
    with pytest.raises(DomainError) as info:
        services.update_course_run(coordinator, run, run_data(ref, capacity=10), CLOSED, 3)
    assert "kan ikke længere redigeres" in info.value.message
    assert run.capacity == 35


def test_a_published_run_can_be_edited(coordinator, ref):
    run = create(coordinator, ref)
    services.publish_course_run(coordinator, run)
    services.update_course_run(coordinator, run, run_data(ref, capacity=40), CLOSED, 3)
    assert run.capacity == 40 and run.status == RunStatus.PUBLISHED


# -- publish / cancel ---------------------------------------------------------------------------------


def test_publish_only_from_draft(coordinator, ref):
    run = create(coordinator, ref)
    services.publish_course_run(coordinator, run)
    assert run.status == RunStatus.PUBLISHED
    assert [d.sequence for d in run.days] == [0, 0, 0]
    with pytest.raises(DomainError):
        services.publish_course_run(coordinator, run)
    run.status = RunStatus.CANCELLED
    with pytest.raises(DomainError):
        services.publish_course_run(coordinator, run)


@pytest.mark.parametrize("start", [RunStatus.DRAFT, RunStatus.PUBLISHED])
def test_cancel_from_draft_or_published_bumps_every_day(coordinator, ref, start):
    run = create(coordinator, ref)
    run.status = start
    uids = [d.ical_uid for d in run.days]
    services.cancel_course_run(coordinator, run)
    assert run.status == RunStatus.CANCELLED
    assert [d.sequence for d in run.days] == [1, 1, 1]
    assert [d.ical_uid for d in run.days] == uids


@pytest.mark.parametrize("status", [RunStatus.CANCELLED, RunStatus.COMPLETED])
def test_cancel_refused_when_cancelled_or_completed(coordinator, ref, status):
    run = create(coordinator, ref)
    run.status = status
    with pytest.raises(DomainError):
        services.cancel_course_run(coordinator, run)
    assert [d.sequence for d in run.days] == [0, 0, 0]


def test_only_coordinators_publish_and_cancel(coordinator, provider_user, ref):
    run = create(coordinator, ref)
    with pytest.raises(NotAllowed):
        services.publish_course_run(provider_user, run)
    with pytest.raises(NotAllowed):
        services.cancel_course_run(provider_user, run)


# -- visibility ---------------------------------------------------------------------------------------


def test_can_view_run(coordinator, staff_member, provider_user, fic_provider):
    role = factories.make_staff_role("Sagsbehandler")
    other_role = factories.make_staff_role("Hjemmevejleder")
    staff_member.staff_role = role
    no_role = factories.make_user(access_level="staff")
    own = factories.make_course_run(provider=fic_provider, eligible_roles=[role])
    own_draft = factories.make_course_run(provider=fic_provider, status=RunStatus.DRAFT, eligible_roles=[role])
    other = factories.make_course_run(eligible_roles=[other_role])
    db.session.flush()

    def sees(user):
        return [services.can_view_run(user, r.id) for r in (own, own_draft, other)]

    assert sees(coordinator) == [True, True, True]
    assert sees(provider_user) == [True, False, False]
    assert sees(staff_member) == [True, False, False]
    assert sees(no_role) == [False, False, False]
    assert services.can_view_run(coordinator, 999_999) is False


def test_demo_runs_are_created_through_the_services(app, coordinator):
    from app.demo import RunSpec

    ref = {
        "providers": {"Vilde Læreprocesser": factories.make_provider("Vilde Læreprocesser")},
        "methods": {"Netværksmøder": factories.make_method("Netværksmøder")},
        "roles": {"Sagsbehandler": factories.make_staff_role("Sagsbehandler")},
    }
    spec = RunSpec(
        "Netværksmøder i praksis, hold 1",
        "Vilde Læreprocesser",
        RunKind.SPECIAL,
        ("Netværksmøder",),
        12,
        41_500,
        date(2008, 11, 5),
        date(2008, 11, 6),
        "Socialcenter Nørrebro",
        RunStatus.COMPLETED,
    )
    run = services.create_demo_run(coordinator, factories.make_programme(), spec, ref)
    assert run.status == RunStatus.COMPLETED
    assert run.follow_up_day.day == date(2009, 2, 6)
    assert run.enrolment_deadline == date(2008, 10, 22)
    assert run.price_ore == 4_150_000
