"""Capacity under concurrency, through the services: many threads, each with its own session and
transaction (as requests have), released at once against a real database (a SQLite file, or
PostgreSQL in the TEST_DATABASE_URL pass). No run is ever overbooked and the waiting list stays FIFO
and gapless, whatever arrives at once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.enrolment import services
from app.enrolment.models import Enrolment, EnrolmentEvent, EnrolmentStatus, EventKind
from app.extensions import db
from tests import factories
from tests.concurrency.harness import (
    Outcome,
    assert_run_invariants,
    in_own_transaction,
    release_together,
    run_state,
)

pytestmark = pytest.mark.concurrency

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 1)
DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))
DEADLINE = date(2026, 4, 1)
CAPACITY = 10
ROUNDS = 3

CONFIRMED, WAITLISTED = EnrolmentStatus.CONFIRMED, EnrolmentStatus.WAITLISTED


class Scene:
    """Fresh runs (capacity 10) open to one staff role, and staff members holding that role."""

    def __init__(self) -> None:
        self.role = factories.make_staff_role()

    def run(self, capacity: int = CAPACITY) -> int:
        run = factories.make_course_run(days=DAYS, capacity=capacity, enrolment_deadline=DEADLINE)
        run.eligible_roles.append(self.role)
        db.session.commit()
        return run.id

    def staff(self, n: int) -> list[int]:
        return [factories.make_user(staff_role=self.role).id for _ in range(n)]


def enrol_task(app, run_id: int, user_id: int):
    """A staff member enrolling themself; the task's value is the status they got."""

    def work():
        user = db.session.get(User, user_id)
        return services.enrol(user, run_id, user, NOW, TODAY).status

    return in_own_transaction(app, work)


def cancel_task(app, enrolment_id: int, user_id: int):
    """A staff member cancelling their own enrolment (before the deadline)."""

    def work():
        user = db.session.get(User, user_id)
        return services.cancel(user, enrolment_id, NOW, TODAY).status

    return in_own_transaction(app, work)


def enrol_one_by_one(run_id: int, user_ids: list[int]) -> list[int]:
    """Set a scene through the services, one enrolment after the other; returns the enrolment ids."""
    ids = []
    for user_id in user_ids:
        user = db.session.get(User, user_id)
        ids.append(services.enrol(user, run_id, user, NOW, TODAY).id)
        db.session.commit()
    return ids


def failures(outcomes: list[Outcome]) -> str:
    kinds = Counter(o.kind for o in outcomes)
    odd = [o for o in outcomes if o.kind != "ok"]
    return f"outcomes {dict(kinds)} (busy = lock wait timed out); first others: {odd[:3]}"


def test_fifty_enrolling_at_once_fill_ten_seats_and_queue_forty_in_order(shared_app):
    scene = Scene()
    staff = scene.staff(50)
    for round_no in range(1, ROUNDS + 1):
        run_id = scene.run()
        db.session.close()  # the test holds no transaction (nor SQLite's write lock) while threads race

        outcomes = release_together([enrol_task(shared_app, run_id, user_id) for user_id in staff])

        assert all(o.kind == "ok" for o in outcomes), f"round {round_no}: {failures(outcomes)}"
        assert Counter(o.value for o in outcomes) == {CONFIRMED: 10, WAITLISTED: 40}, f"round {round_no}"
        state = run_state(run_id)
        assert_run_invariants(state, confirmed=10, waiting=40)
        assert sorted(state.confirmed_users + state.waiting_users) == sorted(staff)
        # Queue numbers are drawn gaplessly from the run's counter, 1..40.
        assert [e.queue_number for e in state.waitlisted] == list(range(1, 41))
        assert state.queue_counter == 40
        # FIFO: enrolment ids are assigned while the run's lock is held, so id order is arrival order.
        # The first ten in got the seats and the queue follows arrival exactly.
        assert max(e.id for e in state.confirmed) < min(e.id for e in state.waitlisted), f"round {round_no}"
        assert [e.id for e in state.waitlisted] == sorted(e.id for e in state.waitlisted), f"round {round_no}"
        # The history has one event per enrolment, of the matching kind.
        kinds = Counter(db.session.scalars(select(EnrolmentEvent.kind).where(EnrolmentEvent.course_run_id == run_id)))
        assert kinds == {EventKind.CONFIRMED: 10, EventKind.WAITLISTED: 40}
        db.session.close()


def test_cancellations_racing_new_enrolments_promote_the_waiting_list_in_order(shared_app):
    """A full run (10 confirmed, 10 waiting): 5 confirmed cancel while 10 new people enrol, all at once.

    The five freed seats go to the first five of the ORIGINAL waiting list, in queue order (nobody is
    skipped, no newcomer jumps the queue), the newcomers queue behind the rest, positions stay gapless.
    """
    scene = Scene()
    confirmed, waiting, newcomers = scene.staff(10), scene.staff(10), scene.staff(10)
    for round_no in range(1, ROUNDS + 1):
        run_id = scene.run()
        confirmed_enrolments = enrol_one_by_one(run_id, confirmed)
        enrol_one_by_one(run_id, waiting)
        assert_run_invariants(run_state(run_id), confirmed=10, waiting=10)
        db.session.close()

        cancels = [cancel_task(shared_app, e, u) for e, u in zip(confirmed_enrolments[:5], confirmed[:5], strict=True)]
        enrols = [enrol_task(shared_app, run_id, user_id) for user_id in newcomers]
        outcomes = release_together(cancels + enrols)

        assert all(o.kind == "ok" for o in outcomes), f"round {round_no}: {failures(outcomes)}"
        assert [o.value for o in outcomes[:5]] == [EnrolmentStatus.CANCELLED] * 5
        state = run_state(run_id)
        assert_run_invariants(state, confirmed=10, waiting=15)
        assert sorted(state.confirmed_users) == sorted(confirmed[5:] + waiting[:5]), f"round {round_no}"
        assert state.waiting_users[:5] == waiting[5:], f"round {round_no}: the rest of the original queue"
        assert sorted(state.waiting_users[5:]) == sorted(newcomers), f"round {round_no}: newcomers behind them"
        # The promotions happened in queue order, one per freed seat.
        promoted = db.session.scalars(
            select(Enrolment.user_id)
            .join(EnrolmentEvent, EnrolmentEvent.enrolment_id == Enrolment.id)
            .where(EnrolmentEvent.course_run_id == run_id, EnrolmentEvent.kind == EventKind.PROMOTED)
            .order_by(EnrolmentEvent.id)
        ).all()
        assert promoted == waiting[:5], f"round {round_no}: promoted {promoted}"
        cancelled = db.session.scalars(
            select(Enrolment.user_id).where(
                Enrolment.course_run_id == run_id, Enrolment.status == EnrolmentStatus.CANCELLED
            )
        ).all()
        assert sorted(cancelled) == sorted(confirmed[:5])
        db.session.close()


def test_a_double_clicked_enrolment_enrols_once(shared_app):
    """Each of three people submits the enrolment twice at the same moment (a run with 2 seats):
    exactly one active enrolment each, the second click is refused as "already enrolled"."""
    scene = Scene()
    for round_no in range(1, ROUNDS + 1):
        run_id = scene.run(capacity=2)
        people = scene.staff(3)
        db.session.close()

        outcomes = release_together([enrol_task(shared_app, run_id, user_id) for user_id in people for _ in (1, 2)])

        for index, user_id in enumerate(people):
            pair = sorted(o.kind for o in outcomes[2 * index : 2 * index + 2])
            assert pair == ["Conflict", "ok"], (
                f"round {round_no}, user {user_id}: {outcomes[2 * index : 2 * index + 2]}"
            )
        refusals = {o.value for o in outcomes if o.kind == "Conflict"}
        assert refusals <= {
            "Du er allerede tilmeldt dette kursusforløb.",
            "Du er allerede på ventelisten til dette kursusforløb.",
        }, refusals
        state = run_state(run_id)
        assert_run_invariants(state, confirmed=2, waiting=1)
        assert sorted(state.active_per_user) == sorted(people)
        db.session.close()
