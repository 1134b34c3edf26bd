"""Read-only enrolment queries shared by the services, the calendar sync and the pages."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, func, select

from app.enrolment.models import Enrolment, EnrolmentStatus
from app.extensions import db

__all__ = ["waitlist_positions"]


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
