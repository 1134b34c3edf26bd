"""Read-only enrolment queries shared by the services, the calendar sync and the pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select

from app.accounts.models import User
from app.accounts.queries import SEARCH_MAX_RESULTS, search_staff
from app.enrolment.models import ACTIVE_STATUSES, Enrolment, EnrolmentStatus
from app.extensions import db

__all__ = ["Candidates", "enrolment_candidates", "waitlist_positions"]


def waitlist_positions(run_ids: Iterable[int]) -> dict[int, int]:
    """enrolment id -> position (1, 2, ...) on its run's waiting list, for the given runs (one query)."""
    run_ids = list(run_ids)
    if not run_ids:
        return {}
    position: ColumnElement[int] = func.row_number().over(
        partition_by=Enrolment.course_run_id, order_by=(Enrolment.queue_number, Enrolment.id)
    )
    rows = db.session.execute(
        select(Enrolment.id, position).where(
            Enrolment.course_run_id.in_(run_ids), Enrolment.status == EnrolmentStatus.WAITLISTED
        )
    )
    return {enrolment_id: pos for enrolment_id, pos in rows}


@dataclass(frozen=True)
class Candidates:
    """The answer to a search for staff to enrol on a run: the people (name order), whether more matched
    than are listed, and person id -> their active enrolment on the run (enrolled already: no button)."""

    people: list[User]
    more: bool
    enrolled: dict[int, Enrolment]


def enrolment_candidates(run_id: int, text: str, limit: int = SEARCH_MAX_RESULTS) -> Candidates | None:
    """The person search (app.accounts.queries.search_staff) with each person's active enrolment on the
    run; None when no search was made."""
    found = search_staff(text, limit)
    if found is None:
        return None
    people, more = found
    enrolled = {
        e.user_id: e
        for e in db.session.scalars(
            select(Enrolment).where(
                Enrolment.course_run_id == run_id,
                Enrolment.user_id.in_([p.id for p in people]),
                Enrolment.status.in_(ACTIVE_STATUSES),
            )
        )
    }
    return Candidates(people=people, more=more, enrolled=enrolled)
