"""Leader approval under concurrency (issue 24), through the services: approvals by two leaders and the
coordinator (deciding in the leader's place), released at once against a real database (a SQLite file, or
PostgreSQL in the TEST_DATABASE_URL pass). A pending request holds no seat, so approvals race for the
seats that are left like enrolments do: never overbooked, the waiting list gapless, and a request decided
twice at once is decided once."""

from __future__ import annotations

from collections import Counter

import pytest

from app.accounts.models import User
from app.enrolment import approval, services
from app.enrolment.models import EnrolmentStatus
from app.extensions import db
from tests import factories
from tests.concurrency.harness import assert_run_invariants, in_own_transaction, release_together, run_state
from tests.concurrency.test_service_concurrency import DAYS, DEADLINE, NOW, ROUNDS, TODAY, failures

pytestmark = pytest.mark.concurrency

CONFIRMED, WAITLISTED, REQUESTED = EnrolmentStatus.CONFIRMED, EnrolmentStatus.WAITLISTED, EnrolmentStatus.REQUESTED


class Scene:
    """A unit led by two leaders, staff in it, and runs (requiring the leader's approval) open to them."""

    def __init__(self) -> None:
        self.role = factories.make_staff_role()
        self.unit = factories.make_unit()
        self.leaders = [factories.make_user(staff_role=self.role).id for _ in range(2)]
        for leader_id in self.leaders:
            factories.make_leader(self.unit, db.session.get(User, leader_id))
        self.coordinator = factories.make_user(access_level="coordinator").id

    def run(self, capacity: int) -> int:
        run = factories.make_course_run(
            days=DAYS, capacity=capacity, enrolment_deadline=DEADLINE, requires_leader_approval=True
        )
        run.eligible_roles.append(self.role)
        db.session.commit()
        return run.id

    def staff(self, n: int) -> list[int]:
        return [factories.make_user(staff_role=self.role, unit=self.unit).id for _ in range(n)]

    def requests(self, run_id: int, user_ids: list[int]) -> list[int]:
        """Each person asks for a seat (one after the other); returns the enrolment ids, all awaiting the leader."""
        ids = []
        for user_id in user_ids:
            user = db.session.get(User, user_id)
            enrolment = services.enrol(user, run_id, user, NOW, TODAY)
            assert (enrolment.status, enrolment.awaits_leader) == (REQUESTED, True)
            ids.append(enrolment.id)
        db.session.commit()
        return ids


def leader_task(app, leader_id: int, enrolment_id: int, approve: bool = True):
    def work():
        return approval.decide(db.session.get(User, leader_id), enrolment_id, approve, None, NOW).status

    return in_own_transaction(app, work)


def coordinator_task(app, coordinator_id: int, enrolment_id: int):
    def work():
        return services.approve(db.session.get(User, coordinator_id), enrolment_id, NOW).status

    return in_own_transaction(app, work)


def test_concurrent_approvals_into_the_last_seat_never_overbook(shared_app):
    """A run with one seat left (capacity 3, two confirmed by earlier approvals) and eight requests: both
    leaders and the coordinator approve all eight at once. One gets the seat, seven queue, gaplessly."""
    scene = Scene()
    for round_no in range(1, ROUNDS + 1):
        run_id = scene.run(capacity=3)
        early, late = scene.staff(2), scene.staff(8)
        for enrolment_id in scene.requests(run_id, early):
            approval.decide(db.session.get(User, scene.leaders[0]), enrolment_id, True, None, NOW)
        db.session.commit()
        pending = scene.requests(run_id, late)
        assert_run_invariants(run_state(run_id), confirmed=2, waiting=0)
        db.session.close()

        tasks = []
        for index, enrolment_id in enumerate(pending):
            if index % 4 == 3:
                tasks.append(coordinator_task(shared_app, scene.coordinator, enrolment_id))
            else:
                tasks.append(leader_task(shared_app, scene.leaders[index % 2], enrolment_id))
        outcomes = release_together(tasks)

        assert all(o.kind == "ok" for o in outcomes), f"round {round_no}: {failures(outcomes)}"
        assert Counter(o.value for o in outcomes) == {CONFIRMED: 1, WAITLISTED: 7}, f"round {round_no}"
        state = run_state(run_id)
        assert_run_invariants(state, confirmed=3, waiting=7)
        assert state.seats_taken == state.capacity == 3
        assert [e.queue_number for e in state.waitlisted] == list(range(1, 8)), f"round {round_no}"
        db.session.close()


def test_one_request_decided_at_once_by_both_leaders_and_the_coordinator_is_decided_once(shared_app):
    """Leader 1 approves, leader 2 rejects and the coordinator approves the same request at the same moment
    (a run with one seat): exactly one decision wins, the others are refused, and the seat count matches."""
    scene = Scene()
    for round_no in range(1, ROUNDS + 1):
        run_id = scene.run(capacity=1)
        (enrolment_id,) = scene.requests(run_id, scene.staff(1))
        db.session.close()

        outcomes = release_together(
            [
                leader_task(shared_app, scene.leaders[0], enrolment_id, approve=True),
                leader_task(shared_app, scene.leaders[1], enrolment_id, approve=False),
                coordinator_task(shared_app, scene.coordinator, enrolment_id),
            ]
        )

        assert sorted(o.kind for o in outcomes) == ["DomainError", "DomainError", "ok"], f"round {round_no}: {outcomes}"
        winner = next(o.value for o in outcomes if o.kind == "ok")
        state = run_state(run_id)
        if winner == CONFIRMED:
            assert_run_invariants(state, confirmed=1, waiting=0)
        else:
            assert winner == EnrolmentStatus.REJECTED
            assert_run_invariants(state, confirmed=0, waiting=0)
        db.session.close()
