"""Read-only enrolment queries shared by the services, the calendar sync and the pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import selectinload

from app.accounts.models import User
from app.core.access import AccessLevel
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


#: The fewest characters a person search looks for, and the most people one answer lists.
SEARCH_MIN_CHARS = 2
SEARCH_MAX_RESULTS = 20


@dataclass(frozen=True)
class Candidates:
    """The answer to a search for staff to enrol on a run: the people (name order), whether more matched
    than are listed, and person id -> their active enrolment on the run (enrolled already: no button)."""

    people: list[User]
    more: bool
    enrolled: dict[int, Enrolment]


def enrolment_candidates(run_id: int, text: str, limit: int = SEARCH_MAX_RESULTS) -> Candidates | None:
    """Active staff whose name or email contains every word of `text` (case-insensitive), with unit and
    role loaded; None for a text shorter than SEARCH_MIN_CHARS (no search made). Anonymised rows are no
    people (app.privacy)."""
    words = text.split()
    if len("".join(words)) < SEARCH_MIN_CHARS:
        return None
    stmt = (
        select(User)
        .options(selectinload(User.unit), selectinload(User.staff_role))
        .where(User.access_level == AccessLevel.STAFF, User.active.is_(True), User.anonymised_at.is_(None))
        .order_by(User.name, User.id)
        .limit(limit + 1)
    )
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(User.name.ilike(pattern, escape="\\"), User.email.ilike(pattern, escape="\\")))
    people = list(db.session.scalars(stmt))
    more = len(people) > limit
    people = people[:limit]
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
