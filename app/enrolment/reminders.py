"""Reminders before course days and the feedback request after the follow-up day (scheduler pollers).

Reminders (config REMINDER_DAYS, default 7 and 1 days before the day's start):
- go to participants who hold the day in their calendar (an active `CalendarInvitation`: confirmed, and
  for a confirmed follow-up day not marked absent) of a published run;
- the reminder "n days before" is due from `start - n days` until the day starts. When several are due at
  once (the scheduler was down over a reminder's moment) only the nearest is sent — a late "7 days" one is
  skipped once the "1 day" one is due; a missed reminder is sent once on restart as long as the day has not
  begun, never after;
- not sent to somebody whose enrolment was confirmed after the reminder's moment (enrolled 2 days before:
  no "7 days before" reminder, the "1 day before" one yes);
- each (day, enrolment, n) once: dedupe key `reminder:<day id>:<enrolment id>:<n>`.

Feedback request (config FEEDBACK_REQUEST_WINDOW_DAYS, default 30): once the follow-up day has ended, each
participant recorded present on it gets one mail (`feedback:<enrolment id>`) asking for their feedback,
for up to that many days after the day (attendance is often recorded a few days late). The mail links to
the participant's feedback form, `feedback_url()`: the absolute address of `/me/feedback/<enrolment id>`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.core.clock import as_utc, local_tz
from app.core.templating import dk_date
from app.courses.models import CourseDay, CourseRun, DayKind, RunStatus
from app.enrolment.invitations import day_end, day_start, my_courses_url
from app.enrolment.models import Attendance, Enrolment, EnrolmentStatus
from app.extensions import db
from app.notifications.models import CalendarInvitation, OutboxMessage
from app.notifications.outbox import queue_notice

logger = logging.getLogger(__name__)

__all__ = ["due_reminder_offset", "feedback_url", "queue_due_feedback_requests", "queue_due_reminders"]


def due_reminder_offset(start: datetime, now: datetime, offsets: tuple[int, ...]) -> int | None:
    """The nearest reminder (in days before `start`) whose moment has come, or None (none due yet, or the
    day has begun)."""
    if now >= start:
        return None
    due = [n for n in offsets if start - timedelta(days=n) <= now]
    return min(due) if due else None


def queue_due_reminders(now: datetime) -> int:
    """Queue every reminder that is due (see the module docstring); the job commits. Returns how many were queued."""
    offsets = current_app.config["REMINDER_DAYS"]
    if not offsets:
        return 0
    local_now = now.astimezone(local_tz())
    horizon = local_now.date() + timedelta(days=max(offsets) + 1)
    rows = db.session.execute(
        select(CalendarInvitation, Enrolment, CourseDay)
        .join(Enrolment, Enrolment.id == CalendarInvitation.enrolment_id)
        .join(CourseDay, CourseDay.id == CalendarInvitation.course_day_id)
        .join(CourseRun, CourseRun.id == CourseDay.course_run_id)
        .options(
            selectinload(Enrolment.user),
            selectinload(CourseDay.run).selectinload(CourseRun.provider),
        )
        .where(
            CalendarInvitation.active.is_(True),
            Enrolment.status == EnrolmentStatus.CONFIRMED,
            CourseRun.status == RunStatus.PUBLISHED,
            CourseDay.day >= local_now.date(),
            CourseDay.day <= horizon,
        )
        .order_by(CourseDay.day, CourseDay.id, Enrolment.id)
    ).all()
    due = []
    for _invitation, enrolment, day in rows:
        start = day_start(day)
        offset = due_reminder_offset(start, now, offsets)
        if offset is None:
            continue
        if as_utc(enrolment.status_changed_at) > start - timedelta(days=offset):
            continue  # confirmed after this reminder's moment: they just got the invitation
        due.append((f"reminder:{day.id}:{enrolment.id}:{offset}", enrolment, day))
    done = _queued_already([key for key, _e, _d in due])
    queued = 0
    for key, enrolment, day in due:
        if key in done:
            continue
        run = day.run
        title, label = run.title, day.label
        if (
            queue_notice(
                enrolment.user,
                kind="reminder",
                dedupe_key=key,
                now=now,
                run=run,
                days=[day],
                link=my_courses_url(),
                subject=lambda title=title, label=label: _("Påmindelse: %(run)s – %(day)s", run=title, day=label),
                # Rendered in the recipient's language (queue_notice calls these per language): the date too.
                paragraphs=lambda title=title, day=day: [
                    _(
                        "Husk, at du skal på kursus %(date)s: %(day)s i kursusforløbet »%(run)s«.",
                        date=dk_date(day.day, "full"),
                        day=day.in_sentence,
                        run=title,
                    ),
                    _("Kan du ikke komme? Kontakt kursuskoordinatoren hurtigst muligt, så en anden kan få pladsen."),
                ],
            )
            is not None
        ):
            queued += 1
    if queued:
        logger.info("reminders: %d queued", queued)
    return queued


def feedback_url(enrolment: Enrolment) -> str:
    """Where the participant gives feedback on the run: the absolute address of their feedback form
    (`feedback.give_feedback`, `/me/feedback/<enrolment id>`), built from BASE_URL (mails are rendered outside
    any request)."""
    return f"{current_app.config['BASE_URL'].rstrip('/')}/me/feedback/{enrolment.id}"


def queue_due_feedback_requests(now: datetime) -> int:
    """Queue the feedback request for each participant present on a follow-up day that has ended within
    FEEDBACK_REQUEST_WINDOW_DAYS (the job commits). Returns how many were queued."""
    window = current_app.config["FEEDBACK_REQUEST_WINDOW_DAYS"]
    local_now = now.astimezone(local_tz())
    rows = db.session.execute(
        select(Enrolment, CourseDay)
        .join(Attendance, Attendance.enrolment_id == Enrolment.id)
        .join(CourseDay, CourseDay.id == Attendance.course_day_id)
        .join(CourseRun, CourseRun.id == CourseDay.course_run_id)
        .options(selectinload(Enrolment.user), selectinload(CourseDay.run))
        .where(
            Attendance.present.is_(True),
            CourseDay.kind == DayKind.FOLLOW_UP,
            CourseDay.day >= local_now.date() - timedelta(days=window),
            CourseDay.day <= local_now.date(),
            CourseRun.status.in_((RunStatus.PUBLISHED, RunStatus.COMPLETED)),
            Enrolment.status == EnrolmentStatus.CONFIRMED,
        )
        .order_by(CourseDay.day, Enrolment.id)
    ).all()
    due = [(enrolment, day) for enrolment, day in rows if day_end(day) <= now]
    done = _queued_already([f"feedback:{enrolment.id}" for enrolment, _day in due])
    queued = 0
    for enrolment, day in due:
        if f"feedback:{enrolment.id}" in done:
            continue
        title = day.run.title
        if (
            queue_notice(
                enrolment.user,
                kind="feedback",
                dedupe_key=f"feedback:{enrolment.id}",
                now=now,
                run=day.run,
                link=feedback_url(enrolment),
                link_text=lambda: _("Giv din tilbagemelding"),
                subject=lambda title=title: _("Din tilbagemelding: %(run)s", run=title),
                paragraphs=lambda title=title: [
                    _("Tak for din deltagelse i kursusforløbet »%(run)s«.", run=title),
                    _(
                        "Fortæl os kort, hvordan du har brugt metoderne i din praksis siden kurset, og om du nu "
                        "inddrager forældrene tidligere. Det tager et par minutter og indgår i evalueringen af "
                        "indsatsen."
                    ),
                ],
            )
            is not None
        ):
            queued += 1
    if queued:
        logger.info("feedback requests: %d queued", queued)
    return queued


def _queued_already(keys: list[str]) -> set[str]:
    """Which of these dedupe keys are in the outbox already (so the poll renders no mail it won't queue)."""
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        found.update(db.session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(chunk))))
    return found
