"""The follow-up job (scheduler/jobs.py runs it): on the evening of teaching day 2, fix the run's follow-up
day and settle who is invited to it.

Until then the follow-up day is provisional: every confirmed participant holds it in their calendar (the
invitation says the date may still change). On the evening of teaching day 2 (config
FOLLOW_UP_CONFIRM_TIME, default 18:00 local time, or the end of the day if it ends later), `confirm()`:

1. applies the follow-up rule again unless the coordinator overrode the date (teaching day 2 + 3 months,
   next working day: `app.courses.services.fix_follow_up_day`, the foundation's one rule) — closed days
   added since the run was saved move it;
2. raises the follow-up day's sequence (its status changed from provisional to fixed) and stamps
   `CourseRun.follow_up_confirmed_at`;
3. syncs the run's calendars: participants present on the teaching days get the confirmed follow-up day
   (an update that says so), those marked absent on a teaching day get a cancellation. Attendance not
   recorded yet counts as present; recording an absence later withdraws the day then (the attendance
   service syncs again).

Runs whose follow-up day has already begun are not touched (too late to fix; the demo's history too).

`explain()` is the proposal's reason as the coordinator reads it on the run page, in their language, from
the parts stored on the run (app.courses.services.proposal_parts); staff and providers see only the date and
that it is preliminary until the teaching days are held (templates/courses/run_detail.html).
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.audit.services import record
from app.core.clock import local_tz
from app.core.templating import dk_date
from app.courses.models import CourseDay, CourseRun, DayKind, RunStatus
from app.courses.services import (
    RECORD_LANGUAGE,
    describe_proposal,
    fix_follow_up_day,
    follow_up_due_at,
    proposal_from_parts,
)
from app.enrolment.invitations import sync_run
from app.enrolment.services import lock_run
from app.extensions import db

logger = logging.getLogger(__name__)

__all__ = ["confirm", "due_times", "explain"]


def explain(run: CourseRun) -> str:
    """Why the follow-up day was proposed where it was, in the current language: "Forslag: 2. januar 2009
    (undervisningsdag 2 + 3 måneder = 1. januar 2009, som er Nytårsdag; flyttet til næste arbejdsdag)".
    From the stored parts; a row from before them shows its Danish text as written."""
    proposal = proposal_from_parts(run.follow_up_reason_parts, str(get_locale() or RECORD_LANGUAGE))
    if proposal is not None:
        return describe_proposal(proposal)
    if run.follow_up_reason:
        return run.follow_up_reason
    return _("Forslag: %(day)s", day=dk_date(run.follow_up_proposed_on))


def _pending_runs(today: date, run_id: int | None = None) -> list[CourseRun]:
    """Published runs not confirmed yet whose follow-up day has not begun (days loaded, one query each)."""
    follow_up_not_begun = select(CourseDay.course_run_id).where(
        CourseDay.kind == DayKind.FOLLOW_UP, CourseDay.day >= today
    )
    stmt = (
        select(CourseRun)
        .options(selectinload(CourseRun.days))
        .where(
            CourseRun.status == RunStatus.PUBLISHED,
            CourseRun.follow_up_confirmed_at.is_(None),
            CourseRun.id.in_(follow_up_not_begun),
        )
        .order_by(CourseRun.id)
    )
    if run_id is not None:
        stmt = stmt.where(CourseRun.id == run_id)
    return list(db.session.scalars(stmt))


def due_times(now: datetime) -> dict[int, datetime]:
    """run id -> when its follow-up job is due, for every run still waiting for it (past-due ones too).
    Read-only."""
    today = now.astimezone(local_tz()).date()
    return {run.id: when for run in _pending_runs(today) if (when := follow_up_due_at(run)) is not None}


def confirm(run_id: int, now: datetime) -> bool:
    """The `follow_up:<run id>` job's work (the job in scheduler/jobs.py commits it). False when there was
    nothing to do: confirmed already, not published, follow-up day begun, or the evening of teaching day 2 not reached
    (the date moved since the job was scheduled). Safe to run twice and from two processes: the run row is
    locked and `follow_up_confirmed_at` checked under the lock."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    lock_run(run_id)
    today = now.astimezone(local_tz()).date()
    runs = _pending_runs(today, run_id)
    run = runs[0] if runs else None
    when = follow_up_due_at(run) if run is not None else None
    if run is None or when is None or when > now:
        return False
    moved = fix_follow_up_day(run)
    follow_up_day = run.follow_up_day
    assert follow_up_day is not None, "_pending_runs selects only runs with a follow-up day"
    follow_up_day.sequence += 1  # provisional -> fixed: an organizer-side change of status
    run.follow_up_confirmed_at = now
    db.session.flush()
    report = sync_run(run, now, confirmation=True)
    record(
        "run.follow_up_confirmed",
        object_type="run",
        object_id=run.id,
        now=now,  # the system: actor None
        details={"moved": moved, "day": follow_up_day.day.isoformat()},
    )
    logger.info(
        "follow-up day of run %s confirmed%s: %d update(s), %d invitation(s), %d cancellation(s) queued",
        run_id,
        " and moved by the rule" if moved else "",
        report.updates,
        report.invitations,
        report.cancellations,
    )
    return True
