"""Leader approval of enrolments (issue 24): the leader's decisions, their page's list, and the expiry job.

A run's approval setting is two switches (`CourseRun.requires_leader_approval`, `requires_approval`), so four
choices: none, the coordinator, the leader, the leader and then the coordinator. A staff member's own
enrolment on a run that requires the leader waits as `requested` with `awaits_leader` set, if the person
has a leader (app.enrolment.approval_mail.approvers); else it waits for the coordinator.

The seat rule is the existing one for requests: a request holds no seat and no place in the queue. When
the last approval comes (the leader's, or the coordinator's after the leader's), the enrolment is placed
as any other: confirmed if a seat is free, else at the end of the waiting list — under the run's lock with
the conditional seat UPDATE (app.enrolment.services), so concurrent approvals never overbook. No calendar
invitation goes out before the seat is confirmed (invitations follow the status, and `requested` holds no
day).

The coordinator decides in the leader's place with the run page's approve/reject (app.enrolment.services
`approve`/`reject`: they take any request, awaiting the leader or not). A request still waiting for the
leader when enrolment closes (the day after the enrolment deadline) lapses: `expire_pending` (a scheduler
job) rejects it with an `expired` event and tells the person and their leaders. A request waiting for the
coordinator does not lapse: the coordinator may enrol people after the deadline anyway.

Every decision goes through `services._record`: an enrolment event and an audit entry
(`enrolment.leader_approved`, `enrolment.approved`, `enrolment.leader_rejected`, `enrolment.expired`).
Services never commit.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app.accounts.directory.leaders import Leadership, load_leadership
from app.accounts.models import User
from app.core import clock
from app.core.exceptions import DomainError, NotAllowed
from app.courses.models import CourseRun, RunStatus
from app.enrolment import approval_mail, services
from app.enrolment.models import Enrolment, EnrolmentStatus, EventKind
from app.extensions import db

logger = logging.getLogger(__name__)

__all__ = ["REASON_MAX", "decide", "expire_pending", "may_decide", "pending_for"]

#: Longest reason a leader may give (characters).
REASON_MAX = 500


def _awaiting_leader():
    return Enrolment.status == EnrolmentStatus.REQUESTED, Enrolment.awaits_leader.is_(True)


def may_decide(leader: User, enrolment: Enrolment, leadership: Leadership | None = None) -> bool:
    """`leader` leads the person's unit (not themself), and the request waits for a leader."""
    person = enrolment.user
    if not leader.is_staff or person.id == leader.id or person.unit_id is None:
        return False
    if enrolment.status != EnrolmentStatus.REQUESTED or not enrolment.awaits_leader:
        return False
    return leader.id in (leadership or load_leadership()).leaders_of(person.unit_id)


def pending_for(leader: User) -> list[Enrolment]:
    """The requests waiting for `leader`: of people in the units they lead, not their own; soonest run first."""
    units = load_leadership().units_led_by(leader.id)
    if not units or not leader.is_staff:
        return []
    return list(
        db.session.scalars(
            select(Enrolment)
            .join(User, User.id == Enrolment.user_id)
            .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
            .where(*_awaiting_leader(), User.unit_id.in_(units), User.id != leader.id)
            .options(
                joinedload(Enrolment.user).joinedload(User.unit),
                joinedload(Enrolment.run).selectinload(CourseRun.days),
            )
            .order_by(CourseRun.first_day, CourseRun.id, Enrolment.created_at, Enrolment.id)
        ).unique()
    )


def decide(actor: User, enrolment_id: int, approve: bool, reason: str | None, now: datetime) -> Enrolment:
    """The leader approves or rejects a request of one of their staff, with an optional reason (mailed to
    the person, not stored). Approved: waits for the coordinator if the run requires that too, else placed
    (confirmed if a seat is free, else the waiting list).

    :raises NotAllowed: `actor` does not lead the person (or it is their own request).
    :raises DomainError: no longer waiting for the leader; the run is not published; reason too long (field).
    :raises Busy: the run is locked by others for too long.
    """
    reason = services._clean_text(reason, REASON_MAX, "reason")
    enrolment, run = services._locked_enrolment(enrolment_id)
    if enrolment.status != EnrolmentStatus.REQUESTED or not enrolment.awaits_leader:
        raise DomainError(_("Anmodningen er allerede besluttet eller bortfaldet."))
    if not may_decide(actor, enrolment):
        raise NotAllowed(_("Du kan kun beslutte anmodninger fra dine egne medarbejdere."))
    if approve and run.status != RunStatus.PUBLISHED:
        raise DomainError(_("Kursusforløbet er %(status)s.", status=run.status.in_sentence))
    enrolment.awaits_leader = False
    if not approve:
        services._set_status(enrolment, EnrolmentStatus.REJECTED, now)
        event = services._record(enrolment, EventKind.LEADER_REJECTED, actor, now)
    elif run.requires_approval:
        event = services._record(enrolment, EventKind.LEADER_APPROVED, actor, now)
    else:
        placed = services._place(run, enrolment, now)
        detail = None if placed == EnrolmentStatus.CONFIRMED else f"queue {enrolment.queue_number}"
        event = services._record(enrolment, EventKind.APPROVED, actor, now, detail=detail)
    approval_mail.decided_by_leader(enrolment, event, now, reason)
    return enrolment


def expire_pending(now: datetime, today: date | None = None) -> int:
    """Reject, as lapsed, every request still waiting for the leader on a run whose enrolment deadline has
    passed; tell the person and their leaders. Each run is locked while its requests lapse. Returns how
    many lapsed. The scheduler job commits."""
    today = today or now.astimezone(clock.local_tz()).date()
    rows = db.session.execute(
        select(Enrolment.id, Enrolment.course_run_id)
        .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
        .where(*_awaiting_leader(), CourseRun.enrolment_deadline < today)
        .order_by(Enrolment.course_run_id, Enrolment.id)
    ).all()
    count = 0
    for enrolment_id, run_id in rows:
        services.lock_run(run_id)
        enrolment = db.session.scalars(
            select(Enrolment)
            .where(Enrolment.id == enrolment_id)
            .options(selectinload(Enrolment.user))
            .execution_options(populate_existing=True)
        ).one()
        if enrolment.status != EnrolmentStatus.REQUESTED or not enrolment.awaits_leader:
            continue
        enrolment.awaits_leader = False
        services._set_status(enrolment, EnrolmentStatus.REJECTED, now)
        event = services._record(enrolment, EventKind.EXPIRED, None, now)
        approval_mail.expired(enrolment, event, now)
        count += 1
    if count:
        logger.info("leader approval: %d request(s) lapsed at the enrolment deadline", count)
    return count
