"""The enrolment rules, through the services (no HTTP): eligibility, seats, waiting list, approval,
moves, cancellation, attendance and completion."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from app.core.exceptions import Conflict, DomainError, NotAllowed
from app.courses.models import RunKind, RunStatus
from app.enrolment import services
from app.enrolment.models import Enrolment, EnrolmentEvent, EnrolmentStatus, EventKind
from app.extensions import db
from tests import factories

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 1)
DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))


@pytest.fixture
def run(app):
    return factories.make_course_run(days=DAYS, capacity=2, enrolment_deadline=date(2026, 4, 1))


def enrol(run, user, actor=None, today=TODAY, **kw):
    enrolment = services.enrol(actor or user, run.id, user, NOW, today, **kw)
    db.session.commit()
    return enrolment


def statuses(run):
    rows = db.session.scalars(select(Enrolment).where(Enrolment.course_run_id == run.id).order_by(Enrolment.id))
    return [(e.user_id, e.status) for e in rows]


def test_confirmed_while_seats_are_left_then_waiting_list_in_order(run):
    a, b, c, d = factories.make_eligible_staff(run, 4)
    assert enrol(run, a).status == EnrolmentStatus.CONFIRMED
    assert enrol(run, b).status == EnrolmentStatus.CONFIRMED
    third, fourth = enrol(run, c), enrol(run, d)
    assert (third.status, fourth.status) == (EnrolmentStatus.WAITLISTED, EnrolmentStatus.WAITLISTED)
    assert services.waitlist_positions([run.id]) == {third.id: 1, fourth.id: 2}
    db.session.refresh(run)
    assert run.seats_taken == 2 and run.seats_left == 0


def test_each_change_is_recorded_with_who_and_when(run, coordinator):
    (staff,) = factories.make_eligible_staff(run, 1)
    enrolment = enrol(run, staff, note="Vegetar")
    services.cancel(coordinator, enrolment.id, NOW, TODAY)
    db.session.commit()
    events = db.session.scalars(select(EnrolmentEvent).order_by(EnrolmentEvent.id)).all()
    assert [(e.kind, e.actor_id) for e in events] == [
        (EventKind.CONFIRMED, staff.id),
        (EventKind.CANCELLED, coordinator.id),
    ]
    assert all(e.created_at is not None for e in events)
    assert enrolment.note == "Vegetar"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": RunStatus.DRAFT}, "ikke åbent for tilmelding"),
        ({"status": RunStatus.CANCELLED}, "ikke åbent for tilmelding"),
        ({"enrolment_deadline": date(2026, 2, 28)}, "Tilmeldingsfristen var 28. februar 2026"),
    ],
)
def test_runs_staff_cannot_take_are_refused_with_a_reason(run, change, message):
    (staff,) = factories.make_eligible_staff(run, 1)
    for name, value in change.items():
        setattr(run, name, value)
    db.session.commit()
    with pytest.raises(DomainError, match=message):
        enrol(run, staff)
    db.session.rollback()
    assert statuses(run) == []


def test_a_role_the_run_is_not_open_to_is_refused(run):
    factories.make_eligible_staff(run, 1)  # gives the run an eligible role
    other = factories.make_user(staff_role=factories.make_staff_role("Skolesocialrådgiver"))
    with pytest.raises(DomainError, match="ikke åbent for din stillingsbetegnelse"):
        enrol(run, other)


def test_enrolment_on_the_deadline_itself_is_allowed(run):
    (staff,) = factories.make_eligible_staff(run, 1)
    assert enrol(run, staff, today=run.enrolment_deadline).status == EnrolmentStatus.CONFIRMED


def test_staff_cannot_enrol_someone_else_and_providers_cannot_enrol(run, provider_user):
    a, b = factories.make_eligible_staff(run, 2)
    with pytest.raises(NotAllowed):
        services.enrol(a, run.id, b, NOW, TODAY)
    with pytest.raises(NotAllowed):
        services.enrol(provider_user, run.id, a, NOW, TODAY)


def test_enrolling_twice_is_a_conflict_and_a_cancelled_person_may_enrol_again(run):
    (staff,) = factories.make_eligible_staff(run, 1)
    first = enrol(run, staff)
    with pytest.raises(Conflict, match="allerede tilmeldt"):
        enrol(run, staff)
    db.session.rollback()
    services.cancel(staff, first.id, NOW, TODAY)
    db.session.commit()
    again = enrol(run, staff)
    assert again.id != first.id and again.status == EnrolmentStatus.CONFIRMED
    db.session.refresh(run)
    assert run.seats_taken == 1


def test_special_runs_need_a_practice_case_and_standard_runs_keep_none(app):
    special = factories.make_course_run(days=DAYS, kind=RunKind.SPECIAL, enrolment_deadline=date(2026, 4, 1))
    standard = factories.make_course_run(days=DAYS, enrolment_deadline=date(2026, 4, 1))
    (staff,) = factories.make_eligible_staff(special, 1)
    standard.eligible_roles.append(staff.staff_role)
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        enrol(special, staff, practice_case="   ")
    assert refused.value.field == "practice_case"
    db.session.rollback()
    assert enrol(special, staff, practice_case="Netværksmøde om skolefravær").practice_case
    assert enrol(standard, staff, practice_case="ignored").practice_case is None


def test_too_long_note_is_refused_at_the_field(run):
    (staff,) = factories.make_eligible_staff(run, 1)
    with pytest.raises(DomainError) as refused:
        enrol(run, staff, note="x" * (services.NOTE_MAX + 1))
    assert refused.value.field == "note"


def test_cancelling_a_confirmed_seat_promotes_the_first_on_the_waiting_list(run):
    a, b, c, d = factories.make_eligible_staff(run, 4)
    first = enrol(run, a)
    enrol(run, b)
    c_enrolment, d_enrolment = enrol(run, c), enrol(run, d)
    services.cancel(a, first.id, NOW, TODAY)
    db.session.commit()
    db.session.refresh(c_enrolment)
    db.session.refresh(d_enrolment)
    assert c_enrolment.status == EnrolmentStatus.CONFIRMED
    assert d_enrolment.status == EnrolmentStatus.WAITLISTED
    assert services.waitlist_positions([run.id]) == {d_enrolment.id: 1}
    promoted = db.session.scalars(select(EnrolmentEvent).where(EnrolmentEvent.kind == EventKind.PROMOTED)).one()
    assert promoted.enrolment_id == c_enrolment.id and promoted.actor_id is None  # the system did it
    db.session.refresh(run)
    assert run.seats_taken == 2


def test_a_freed_seat_goes_only_to_the_runs_own_waiting_list(run):
    """Another run's waiting list is not this run's: with nobody waiting here, the seat stays free."""
    a, b, c = factories.make_eligible_staff(run, 3)
    enrol(run, a), enrol(run, b)
    waiting = enrol(run, c)
    later = factories.make_course_run(days=DAYS, capacity=2, enrolment_deadline=date(2026, 4, 1))  # a higher id
    later.eligible_roles.append(run.eligible_roles[0])
    db.session.commit()
    (d,) = factories.make_eligible_staff(later, 1)
    leaving = enrol(later, d)
    services.cancel(d, leaving.id, NOW, TODAY)
    db.session.commit()
    db.session.refresh(waiting)
    db.session.refresh(later)
    assert waiting.status == EnrolmentStatus.WAITLISTED
    assert later.seats_taken == 0 and statuses(later) == [(d.id, EnrolmentStatus.CANCELLED)]


def test_a_waiting_list_on_a_later_run_is_not_this_runs_either(run):
    later = factories.make_course_run(days=DAYS, capacity=1, enrolment_deadline=date(2026, 4, 1))  # a higher id
    role = factories.make_staff_role()
    later.eligible_roles.append(role)
    db.session.commit()
    d, e = factories.make_eligible_staff(later, 2)
    enrol(later, d)
    waiting_there = enrol(later, e)
    (a,) = factories.make_eligible_staff(run, 1)
    leaving = enrol(run, a)
    services.cancel(a, leaving.id, NOW, TODAY)
    db.session.commit()
    db.session.refresh(waiting_there)
    db.session.refresh(run)
    db.session.refresh(later)
    assert waiting_there.status == EnrolmentStatus.WAITLISTED and run.seats_taken == 0
    assert later.seats_taken == 1  # the released seat was this run's alone


def test_the_seat_counter_never_goes_below_zero(run):
    """Releasing a seat is guarded in the UPDATE itself: a counter already at 0 (a row written by hand, a
    repair gone wrong) stays at 0 rather than going negative."""
    (a,) = factories.make_eligible_staff(run, 1)
    enrolment = enrol(run, a)
    run.seats_taken = 0
    db.session.commit()
    services.cancel(a, enrolment.id, NOW, TODAY)
    db.session.commit()
    db.session.refresh(run)
    assert run.seats_taken == 0


def test_a_waiting_list_cancellation_closes_the_gap(run):
    staff = factories.make_eligible_staff(run, 5)
    enrolments = [enrol(run, s) for s in staff]
    services.cancel(staff[3], enrolments[3].id, NOW, TODAY)  # #2 on the waiting list leaves
    db.session.commit()
    assert services.waitlist_positions([run.id]) == {enrolments[2].id: 1, enrolments[4].id: 2}


def test_no_promotion_into_a_run_that_has_started(run, coordinator):
    a, b, c = factories.make_eligible_staff(run, 3)
    first = enrol(run, a)
    enrol(run, b)
    waiting = enrol(run, c)
    services.cancel(coordinator, first.id, NOW, DAYS[0])  # on teaching day 1
    db.session.commit()
    db.session.refresh(waiting)
    assert waiting.status == EnrolmentStatus.WAITLISTED


def test_staff_cancel_until_the_deadline_then_are_told_whom_to_contact(run, coordinator):
    (staff,) = factories.make_eligible_staff(run, 1)
    enrolment = enrol(run, staff)
    with pytest.raises(DomainError, match="Karin Koordinator"):
        services.cancel(staff, enrolment.id, NOW, date(2026, 4, 2))
    db.session.rollback()
    services.cancel(staff, enrolment.id, NOW, run.enrolment_deadline)
    db.session.commit()
    assert enrolment.status == EnrolmentStatus.CANCELLED


def test_staff_cannot_cancel_someone_elses_enrolment(run):
    a, b = factories.make_eligible_staff(run, 2)
    enrolment = enrol(run, a)
    with pytest.raises(NotAllowed):
        services.cancel(b, enrolment.id, NOW, TODAY)
    with pytest.raises(DomainError, match="ikke tilmeldt"):
        services.cancel_own(b, run.id, NOW, TODAY)
    db.session.refresh(enrolment)
    assert enrolment.status == EnrolmentStatus.CONFIRMED


def test_cancelling_twice_is_refused(run):
    (staff,) = factories.make_eligible_staff(run, 1)
    enrolment = enrol(run, staff)
    services.cancel(staff, enrolment.id, NOW, TODAY)
    db.session.commit()
    with pytest.raises(DomainError, match="allerede afmeldt"):
        services.cancel(staff, enrolment.id, NOW, TODAY)


def test_approval_flow(run, coordinator):
    run.requires_approval = True
    run.capacity = 1
    db.session.commit()
    a, b, c = factories.make_eligible_staff(run, 3)
    requests = [enrol(run, s) for s in (a, b, c)]
    assert {e.status for e in requests} == {EnrolmentStatus.REQUESTED}
    db.session.refresh(run)
    assert run.seats_taken == 0  # a request holds no seat
    assert services.approve(coordinator, requests[0].id, NOW).status == EnrolmentStatus.CONFIRMED
    assert services.approve(coordinator, requests[1].id, NOW).status == EnrolmentStatus.WAITLISTED
    assert services.reject(coordinator, requests[2].id, NOW).status == EnrolmentStatus.REJECTED
    db.session.commit()
    with pytest.raises(DomainError):
        services.approve(coordinator, requests[2].id, NOW)
    with pytest.raises(NotAllowed):
        services.approve(a, requests[1].id, NOW)


def test_coordinator_enrols_on_behalf_without_approval_and_after_the_deadline(run, coordinator):
    run.requires_approval = True
    db.session.commit()
    (staff,) = factories.make_eligible_staff(run, 1)
    enrolment = enrol(run, staff, actor=coordinator, today=date(2026, 4, 10))
    assert enrolment.status == EnrolmentStatus.CONFIRMED
    event = db.session.scalars(select(EnrolmentEvent)).one()
    assert event.actor_id == coordinator.id
    with pytest.raises(Conflict) as twice:
        enrol(run, staff, actor=coordinator)
    assert twice.value.field == "email"


def test_promote_by_hand_takes_any_waiting_person_but_never_exceeds_capacity(run, coordinator):
    staff = factories.make_eligible_staff(run, 4)
    enrolments = [enrol(run, s) for s in staff]
    with pytest.raises(DomainError, match="ingen ledige pladser"):
        services.promote(coordinator, enrolments[3].id, NOW)
    db.session.rollback()
    run.capacity = 3
    db.session.commit()
    assert services.promote(coordinator, enrolments[3].id, NOW).status == EnrolmentStatus.CONFIRMED
    db.session.commit()
    assert services.waitlist_positions([run.id]) == {enrolments[2].id: 1}


def test_move_keeps_history_and_frees_the_seat_for_the_waiting_list(run, coordinator):
    target = factories.make_course_run(programme=run.programme, days=DAYS, enrolment_deadline=date(2026, 4, 1))
    a, b, c = factories.make_eligible_staff(run, 3)
    target.eligible_roles.append(a.staff_role)
    db.session.commit()
    moving = enrol(run, a, note="Kørestol")
    enrol(run, b)
    waiting = enrol(run, c)
    assert run.id not in {r.id for r in services.move_targets(moving)}
    assert target.id in {r.id for r in services.move_targets(moving)}
    new = services.move(coordinator, moving.id, target.id, NOW, TODAY)
    db.session.commit()
    db.session.refresh(moving)
    db.session.refresh(waiting)
    assert moving.status == EnrolmentStatus.MOVED and moving.moved_to.id == new.id
    assert new.course_run_id == target.id and new.status == EnrolmentStatus.CONFIRMED and new.note == "Kørestol"
    assert waiting.status == EnrolmentStatus.CONFIRMED
    kinds = [e.kind for e in db.session.scalars(select(EnrolmentEvent).order_by(EnrolmentEvent.id))]
    assert kinds[-3:] == [EventKind.MOVED_OUT, EventKind.MOVED_IN, EventKind.PROMOTED]


def test_move_is_refused_to_another_programme_the_same_run_or_twice(run, coordinator):
    elsewhere = factories.make_course_run(days=DAYS)
    sibling = factories.make_course_run(programme=run.programme, days=DAYS)
    a, b = factories.make_eligible_staff(run, 2)
    enrolment = enrol(run, a)
    with pytest.raises(DomainError, match="samme indsats"):
        services.move(coordinator, enrolment.id, elsewhere.id, NOW, TODAY)
    db.session.rollback()
    with pytest.raises(DomainError, match="andet kursusforløb"):
        services.move(coordinator, enrolment.id, run.id, NOW, TODAY)
    db.session.rollback()
    factories.make_enrolment(sibling, a)
    with pytest.raises(Conflict):
        services.move(coordinator, enrolment.id, sibling.id, NOW, TODAY)


def test_capacity_cannot_drop_below_confirmed(run):
    a, b = factories.make_eligible_staff(run, 2)
    enrol(run, a)
    enrol(run, b)
    with pytest.raises(DomainError) as refused:
        services.check_capacity_change(run, 1)
    assert refused.value.field == "capacity"
    services.check_capacity_change(run, 2)  # down to exactly the confirmed: allowed
    services.check_capacity_change(run, 3)  # up: allowed
    services.check_capacity_change(run, 500)


def test_fill_free_seats_after_a_capacity_rise(run, coordinator):
    staff = factories.make_eligible_staff(run, 4)
    enrolments = [enrol(run, s) for s in staff]
    run.capacity = 3
    db.session.commit()
    promoted = services.fill_free_seats(coordinator, run.id, NOW, TODAY)
    db.session.commit()
    assert [e.id for e in promoted] == [enrolments[2].id]


def test_attendance_on_all_three_days_completes(run, coordinator):
    a, b = factories.make_eligible_staff(run, 2)
    ea, eb = enrol(run, a), enrol(run, b)
    after = DAYS[2]
    for day in run.days:
        present = [ea.id, eb.id] if day.position < 3 else [ea.id]
        services.record_attendance(coordinator, day.id, present, NOW, after)
    db.session.commit()
    participants = services.run_participants(run)
    done = {p.enrolment.id: p.completed for p in participants.confirmed}
    assert done == {ea.id: True, eb.id: False}
    mine = services.my_courses(a, after)
    assert mine[0].completed is True
    assert services.completion_problems(run, after) == []
    services.complete_run(coordinator, run.id, after)
    db.session.commit()
    assert run.status == RunStatus.COMPLETED


def test_attendance_rules(run, coordinator, provider_user):
    (staff,) = factories.make_eligible_staff(run, 1)
    enrolment = enrol(run, staff)
    day1 = run.days[0]
    with pytest.raises(DomainError, match="først registreres på dagen"):
        services.record_attendance(coordinator, day1.id, [enrolment.id], NOW, TODAY)
    with pytest.raises(DomainError, match="Kun tilmeldte"):
        services.record_attendance(coordinator, day1.id, [enrolment.id + 999], NOW, DAYS[0])
    with pytest.raises(NotAllowed):  # FIC's user, another provider's run
        services.record_attendance(provider_user, day1.id, [enrolment.id], NOW, DAYS[0])
    with pytest.raises(NotAllowed):
        services.record_attendance(staff, day1.id, [enrolment.id], NOW, DAYS[0])
    db.session.rollback()
    own_provider_user = factories.make_user(access_level="provider", provider=run.provider)
    assert services.record_attendance(own_provider_user, day1.id, [enrolment.id], NOW, DAYS[0]) == 1
    # Changing one's mind: unticked now, the row is updated, not doubled
    services.record_attendance(coordinator, day1.id, [], NOW, DAYS[0])
    db.session.commit()
    assert services.attendance_map(run) == {(enrolment.id, day1.id): False}


def test_complete_run_explains_what_is_missing(run, coordinator):
    (staff,) = factories.make_eligible_staff(run, 1)
    enrol(run, staff)
    problems = services.completion_problems(run, TODAY)
    assert any("sidste dag" in p for p in problems)
    assert sum("Fremmøde mangler" in p for p in problems) == 3
    # the day in its sentence form: "på opfølgningsdagen", not the label lower-cased ("på opfølgningsdag")
    assert any("Fremmøde mangler for 1 deltager på opfølgningsdagen (" in p for p in problems), problems
    assert any("Fremmøde mangler for 1 deltager på 1. undervisningsdag (" in p for p in problems), problems
    with pytest.raises(DomainError):
        services.complete_run(coordinator, run.id, TODAY)


def test_overlapping_course_days_are_found(run):
    (staff,) = factories.make_eligible_staff(run, 1)
    clash = factories.make_course_run(days=(DAYS[0], date(2026, 5, 1), date(2026, 8, 3)))
    apart = factories.make_course_run(days=(date(2026, 5, 5), date(2026, 5, 6), date(2026, 8, 6)))
    for other in (clash, apart):
        factories.make_enrolment(other, staff)
    assert [r.id for r in services.overlapping_runs(staff.id, run)] == [clash.id]
    enrol(run, staff)
    mine = {c.enrolment.course_run_id: c for c in services.my_courses(staff, TODAY)}
    assert [r.id for r in mine[run.id].overlaps] == [clash.id]
    assert mine[apart.id].overlaps == []


def test_my_courses_positions_and_order(run):
    staff = factories.make_eligible_staff(run, 4)
    for s in staff:
        enrol(run, s)
    last = services.my_courses(staff[3], TODAY)
    assert last[0].position == 2 and last[0].enrolment.status == EnrolmentStatus.WAITLISTED


def test_the_database_refuses_overbooking_and_double_active_enrolments(run):
    """The backstops hold even if a service were bypassed."""
    from sqlalchemy.exc import IntegrityError

    (staff,) = factories.make_eligible_staff(run, 1)
    run.seats_taken = run.capacity + 1
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    factories.make_enrolment(run, staff)
    with pytest.raises(IntegrityError):
        factories.make_enrolment(run, staff, status="waitlisted")


def test_waiting_list_can_be_left_after_the_deadline_but_a_seat_cannot(run):
    a, b, c = factories.make_eligible_staff(run, 3)
    confirmed, _, waiting = enrol(run, a), enrol(run, b), enrol(run, c)
    after = date(2026, 4, 2)
    services.cancel(c, waiting.id, NOW, after)
    db.session.commit()
    assert waiting.status == EnrolmentStatus.CANCELLED
    with pytest.raises(DomainError, match="Kontakt kursuskoordinatoren"):
        services.cancel(a, confirmed.id, NOW, after)


def test_completed_runs_are_history(run, coordinator):
    sibling = factories.make_course_run(programme=run.programme, days=DAYS)
    (staff,) = factories.make_eligible_staff(run, 1)
    enrolment = enrol(run, staff)
    run.status = RunStatus.COMPLETED
    db.session.commit()
    with pytest.raises(DomainError, match="kan ikke længere ændres"):
        services.cancel(coordinator, enrolment.id, NOW, TODAY)
    db.session.rollback()
    with pytest.raises(DomainError, match="kan ikke længere ændres"):
        services.move(coordinator, enrolment.id, sibling.id, NOW, TODAY)


def test_no_move_into_a_run_that_has_started_nor_promotion_in_a_cancelled_one(run, coordinator):
    started = factories.make_course_run(programme=run.programme, days=(date(2026, 2, 20), date(2026, 2, 21), DAYS[2]))
    staff = factories.make_eligible_staff(run, 3)
    enrolments = [enrol(run, s) for s in staff]
    with pytest.raises(DomainError, match="allerede begyndt"):
        services.move(coordinator, enrolments[0].id, started.id, NOW, TODAY)
    db.session.rollback()
    run.status = RunStatus.CANCELLED
    run.capacity = 5
    db.session.commit()
    with pytest.raises(DomainError, match="aflyst"):
        services.promote(coordinator, enrolments[2].id, NOW)
