"""Calendar invitations and enrolment mails, queued in the caller's transaction.

`sync_run()` keeps what each participant's calendar holds of each course day (the `CalendarInvitation`
rows) in step with the enrolments and the run, and writes an outbox row for every difference:

- a confirmed participant of a published run holds every course day that has not ended yet — the
  follow-up day too: provisional (the mail says so) until the follow-up job confirms it on the evening of
  teaching day 2; from then on only participants not marked absent on a teaching day hold it;
- a participant who holds a day and should not (cancelled, moved, rejected, marked absent, the run
  cancelled) gets a CANCEL: `DAY_CANCELLED` (STATUS:CANCELLED) when the run is cancelled, otherwise a
  per-attendee `CANCELLATION` without STATUS. A first invitation still unsent in the outbox is withdrawn
  (superseded) instead: the participant never received anything to cancel;
- a day whose `CourseDay.sequence` rose since the participant's last mail (date, time, place or status
  changed) gets an `UPDATE` (`FOLLOW_UP_CONFIRMED` when the follow-up job fixed it);
- days that have ended are history: nothing is sent about them.

SEQUENCE is kept per (UID, recipient): a person's first mail about a day carries the day's sequence; every
later mail to that person about that day carries max(day's sequence, the highest sequence they were ever
sent about it + 1), whichever enrolment it went through (cancel and re-enrol, move away and back, reject and
approve), so each mail outranks every one before it and a re-invite after a CANCEL is not ignored as
obsolete (RFC 5546 §2.1.5, §4.2.9). Per-attendee cancellations raise only the attendee's sequence, never
the day's, so nobody else gets mail. docs/calendar.md has the reasons.
Dedupe key `invite:<course day id>:<enrolment id>:<sequence>`; supersede key `<event uid>|<email>`.

`enrolment_changed()` is the enrolment services' hook (their `_record()`): it syncs the one enrolment and
queues the plain notices that carry no calendar (waiting list, awaiting approval, rejected, cancelled).
Everything here flushes and never commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from functools import partial

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import selectinload

from app.core.db import rows_affected
from app.courses.models import CourseDay, CourseRun, DayKind, RunStatus
from app.enrolment.models import Attendance, Enrolment, EnrolmentEvent, EnrolmentStatus, EventKind
from app.enrolment.queries import waitlist_positions
from app.extensions import db
from app.notifications import compose, outbox
from app.notifications.compose import FrozenMail, InvitationKind, Recipient, in_language
from app.notifications.ical import day_interval_utc, event_content, event_uid
from app.notifications.models import CalendarInvitation, OutboxMessage, OutboxStatus
from app.notifications.outbox import queue_notice

logger = logging.getLogger(__name__)

__all__ = [
    "PreparedMails",
    "SyncReport",
    "day_end",
    "day_start",
    "enrolment_changed",
    "my_courses_url",
    "prepare_enrolment",
    "prepared_mails",
    "run_url",
    "sync_run",
]

#: Run statuses whose confirmed participants hold the course days in their calendars.
_HELD_RUN_STATUSES = (RunStatus.PUBLISHED, RunStatus.COMPLETED)


@dataclass
class SyncReport:
    invitations: int = 0
    updates: int = 0
    cancellations: int = 0
    #: First invitations withdrawn from the outbox before they were sent.
    withdrawn: int = 0

    @property
    def queued(self) -> int:
        return self.invitations + self.updates + self.cancellations


# --- links and times ------------------------------------------------------------------------------------


def _base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def run_url(run_id: int) -> str:
    """The run's page, absolute (mails are rendered outside any request)."""
    return f"{_base_url()}/runs/{run_id}"


def my_courses_url() -> str:
    return f"{_base_url()}/me/courses"


def day_start(day: CourseDay) -> datetime:
    return day_interval_utc(day)[0]


def day_end(day: CourseDay) -> datetime:
    return day_interval_utc(day)[1]


def _check_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


# --- the calendar sync -------------------------------------------------------------------------------------


def _absent_on_teaching_days(run: CourseRun, enrolment_ids: list[int]) -> set[int]:
    """Enrolments marked absent on at least one of the run's teaching days."""
    teaching = [d.id for d in run.days if d.kind == DayKind.TEACHING]
    if not teaching or not enrolment_ids:
        return set()
    return set(
        db.session.scalars(
            select(Attendance.enrolment_id).where(
                Attendance.enrolment_id.in_(enrolment_ids),
                Attendance.course_day_id.in_(teaching),
                Attendance.present.is_(False),
            )
        )
    )


def _wanted(run: CourseRun, enrolment: Enrolment, day: CourseDay, absent: set[int]) -> bool:
    if run.status not in _HELD_RUN_STATUSES or enrolment.status != EnrolmentStatus.CONFIRMED:
        return False
    if day.kind == DayKind.FOLLOW_UP and run.follow_up_confirmed_at is not None:
        return enrolment.id not in absent
    return True


def _provisional_note(run: CourseRun, day: CourseDay) -> str | None:
    """In the current locale: the follow-up day's date is provisional until the follow-up job fixed it."""
    if day.kind != DayKind.FOLLOW_UP or run.follow_up_confirmed_at is not None:
        return None
    return _(
        "Datoen for opfølgningsdagen er foreløbig. Vi bekræfter den, når 2. undervisningsdag er holdt. "
        "Ændres den, får du besked."
    )


def sync_run(
    run: CourseRun,
    now: datetime,
    *,
    enrolment_ids: Iterable[int] | None = None,
    confirmation: bool = False,
) -> SyncReport:
    """Queue the invitations, updates and cancellations that bring the participants' calendars in line
    with `run` (all its participants, or only `enrolment_ids`). Call it after the change, in the same
    transaction, with the run locked as the enrolment and course services do. `confirmation`: the follow-up
    job fixed the follow-up day (its update mails say so). A constant number of queries, plus one INSERT
    per mail queued.
    """
    _check_aware(now)
    report = SyncReport()
    days = [d for d in run.days if day_end(d) > now]  # days that have ended are history
    if not days:
        return report
    holders = (
        select(CalendarInvitation.enrolment_id)
        .join(CourseDay, CourseDay.id == CalendarInvitation.course_day_id)
        .where(CourseDay.course_run_id == run.id, CalendarInvitation.active.is_(True))
    )
    stmt = (
        select(Enrolment)
        .options(selectinload(Enrolment.user))
        .where(
            Enrolment.course_run_id == run.id,
            or_(Enrolment.status == EnrolmentStatus.CONFIRMED, Enrolment.id.in_(holders)),
        )
        .order_by(Enrolment.id)
    )
    if enrolment_ids is not None:
        stmt = stmt.where(Enrolment.id.in_(list(enrolment_ids)))
    enrolments = list(db.session.scalars(stmt))
    if not enrolments:
        return report
    ids = [e.id for e in enrolments]
    rows = {
        (row.enrolment_id, row.course_day_id): row
        for row in db.session.scalars(
            select(CalendarInvitation)
            .options(selectinload(CalendarInvitation.last_message).defer(OutboxMessage.message, raiseload=True))
            .where(
                CalendarInvitation.enrolment_id.in_(ids),
                CalendarInvitation.course_day_id.in_([d.id for d in days]),
            )
        )
    }
    absent = _absent_on_teaching_days(run, ids) if run.follow_up_confirmed_at is not None else set()
    floors = _sequence_floors([e.user_id for e in enrolments], [d.id for d in days])
    # The calendar_invitations rows go to the database in the one flush at the end (a single INSERT for the
    # new ones) instead of before each mail's INSERT: fewer round trips while the run is locked.
    with db.session.no_autoflush:
        for enrolment in enrolments:
            for day in days:
                row = rows.get((enrolment.id, day.id))
                wanted = _wanted(run, enrolment, day, absent)
                if wanted and (row is None or not row.active):
                    _queue(run, enrolment, day, row, InvitationKind.INVITATION, now, floors)
                    report.invitations += 1
                elif wanted and row is not None and row.day_revision < day.sequence:
                    kind = InvitationKind.UPDATE
                    if confirmation and day.kind == DayKind.FOLLOW_UP:
                        kind = InvitationKind.FOLLOW_UP_CONFIRMED
                    _queue(run, enrolment, day, row, kind, now, floors)
                    report.updates += 1
                elif not wanted and row is not None and row.active:
                    if _withdraw_unsent_invitation(row, now):
                        report.withdrawn += 1
                        continue
                    kind = InvitationKind.CANCELLATION
                    if run.status == RunStatus.CANCELLED:
                        kind = InvitationKind.DAY_CANCELLED
                    _queue(run, enrolment, day, row, kind, now, floors)
                    report.cancellations += 1
    db.session.flush()
    if report.queued or report.withdrawn:
        logger.info(
            "run %s: %d invitation(s), %d update(s), %d cancellation(s) queued, %d withdrawn",
            run.id,
            report.invitations,
            report.updates,
            report.cancellations,
            report.withdrawn,
        )
    return report


def _sequence_floors(user_ids: list[int], day_ids: list[int]) -> dict[tuple[int, int], int]:
    """(user id, course day id) -> the highest SEQUENCE ever queued to that person about that day, through
    any of their enrolments (a cancelled one, one moved away, a rejected one). One query.

    SEQUENCE is kept per (UID, recipient), not per enrolment: after a CANCEL with SEQUENCE n, a new
    enrolment's REQUEST must carry more than n, or the calendar ignores it as obsolete (RFC 5546 §2.1.5,
    §4.2.9). The person is the recipient (their address is unique); an address change only means the new
    address has seen less."""
    if not user_ids or not day_ids:
        return {}
    rows = db.session.execute(
        select(Enrolment.user_id, CalendarInvitation.course_day_id, func.max(CalendarInvitation.sequence))
        .join(Enrolment, Enrolment.id == CalendarInvitation.enrolment_id)
        .where(Enrolment.user_id.in_(set(user_ids)), CalendarInvitation.course_day_id.in_(day_ids))
        .group_by(Enrolment.user_id, CalendarInvitation.course_day_id)
    )
    return {(user_id, day_id): sequence for user_id, day_id, sequence in rows}


def _withdraw_unsent_invitation(row: CalendarInvitation, now: datetime) -> bool:
    """The participant's only mail about the day is a first invitation still waiting in the outbox:
    supersede it and send nothing (there is nothing in their calendar to cancel).

    The delivery job may be sending that very mail right now (it holds the row's lock while the SMTP server
    takes it, app.notifications.outbox). So the outbox row is superseded by a conditional UPDATE (`WHERE
    status = 'pending'`), never by writing the status read earlier: on PostgreSQL the UPDATE waits for the
    job's commit and then matches nothing if the mail went out; on SQLite the database write lock orders
    the two. Nothing matched: the mail was (or is being) delivered, so the caller queues a CANCEL."""
    message = row.last_message
    if message is None or message.status != OutboxStatus.PENDING or message.kind != InvitationKind.INVITATION:
        return False
    withdrawn = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SUPERSEDED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(message, ["status", "updated_at"])
    if rows_affected(withdrawn) != 1:
        return False
    row.active = False
    row.updated_at = now
    return True


def calendar_message(
    run: CourseRun,
    day: CourseDay,
    recipient: Recipient,
    kind: InvitationKind,
    *,
    stamp: datetime,
    sequence: int,
    message_id: str | None = None,
) -> EmailMessage:
    """The calendar mail about `day` for `recipient`, in their language, with the follow-up day's provisional
    note on a REQUEST: what `_queue` stores, and what app.privacy renders again without an anonymised
    person's name (the same `stamp`, `sequence` and `message_id`)."""
    with in_language(recipient.language):
        note = _provisional_note(run, day) if kind.method == "REQUEST" else None
    return compose.invitation_message(
        day, recipient, kind, stamp=stamp, run_url=run_url(run.id), sequence=sequence, note=note, message_id=message_id
    )


def calendar_mail(
    run: CourseRun, day: CourseDay, recipient: Recipient, kind: InvitationKind, *, stamp: datetime, sequence: int
) -> FrozenMail:
    """`calendar_message()`'s bytes, as the outbox stores them, without building the EmailMessage (ready but
    for the Message-ID, which the outbox sets from the dedupe key)."""
    with in_language(recipient.language):
        note = _provisional_note(run, day) if kind.method == "REQUEST" else None
    return compose.invitation_mail(
        day, recipient, kind, stamp=stamp, run_url=run_url(run.id), sequence=sequence, note=note
    )


# --- mails rendered before the run's lock ------------------------------------------------------------------


def _render_key(
    run: CourseRun, day: CourseDay, recipient: Recipient, kind: InvitationKind, *, stamp: datetime, sequence: int
) -> tuple:
    """Everything a calendar mail's bytes are made from, apart from the Message-ID: the recipient, kind,
    SEQUENCE and stamp, the run's state that picks the provisional note, and what the day shows, or every
    day of the run for the first invitation of its first day (which lists them all: compose.run_overview).
    Two equal keys render the same bytes; each day's stored sequence is in it too, so any change of a day
    the services make (which raises it) changes the key."""
    first = kind == InvitationKind.INVITATION and bool(run.days) and day.id == run.days[0].id
    days = tuple((d.id, d.sequence, d.label, d.ical_uid, *event_content(d)) for d in (run.days if first else [day]))
    return (
        recipient,
        InvitationKind(kind),
        sequence,
        stamp,
        run.id,
        run.follow_up_confirmed_at,
        run.provider.name,
        day.id,
        days,
    )


@dataclass
class PreparedMails:
    """Calendar mails rendered before the run's lock was taken (`prepare_enrolment`), by their `_render_key`.

    Under the lock `_queue` takes a mail from here only when the key it computes from the freshly locked run
    is the same; otherwise (a day changed meanwhile, the seat went to the waiting list) it renders afresh.
    So a prepared mail is only ever a faster way to the bytes the lock holder would have rendered itself."""

    mails: dict[tuple, FrozenMail] = field(default_factory=dict)

    def take(self, key: tuple) -> FrozenMail | None:
        return self.mails.pop(key, None)


_prepared: ContextVar[PreparedMails | None] = ContextVar("prepared_invitation_mails", default=None)


@contextmanager
def prepared_mails(prepared: PreparedMails) -> Iterator[PreparedMails]:
    """Let `sync_run` (through `_queue`) use `prepared` inside the block."""
    token = _prepared.set(prepared)
    try:
        yield prepared
    finally:
        _prepared.reset(token)


def prepare_enrolment(run_id: int, participant, now: datetime) -> PreparedMails:
    """Render, before the run's lock is taken, the first invitations an enrolment of `participant` in the run
    would queue if it is confirmed: one per course day that has not ended, with the SEQUENCE `_queue` gives
    (from the person's earlier mails about the day). Reads without locking and writes nothing.

    Nothing is prepared when the run is not open or (by what is read now) full: then the enrolment waits and
    queues no invitation. A guess that turns out wrong only costs time: `_queue` renders what it does not
    find (`PreparedMails`). So does a mail the composer refuses here (an address it cannot write): it is
    left to the locked path, which raises what it always raised, after the services' own checks."""
    _check_aware(now)
    prepared = PreparedMails()
    run = db.session.get(CourseRun, run_id)
    if run is None or run.status != RunStatus.PUBLISHED or run.seats_taken >= run.capacity:
        return prepared
    days = [d for d in run.days if day_end(d) > now]
    if not days:
        return prepared
    floors = _sequence_floors([participant.id], [d.id for d in days])
    recipient = Recipient.from_user(participant)
    kind = InvitationKind.INVITATION
    for day in days:
        floor = floors.get((participant.id, day.id), -1)
        sequence = day.sequence if floor < 0 else max(day.sequence, floor + 1)
        key = _render_key(run, day, recipient, kind, stamp=now, sequence=sequence)
        try:
            prepared.mails[key] = calendar_mail(run, day, recipient, kind, stamp=now, sequence=sequence)
        except ValueError:
            return PreparedMails()
    return prepared


def invitation_dedupe_key(day_id: int, enrolment_id: int, sequence: int) -> str:
    """The outbox dedupe key of a calendar mail: one per course day, enrolment and SEQUENCE."""
    return f"invite:{day_id}:{enrolment_id}:{sequence}"


def parse_invitation_dedupe_key(key: str) -> tuple[int, int, int] | None:
    """(course day id, enrolment id, sequence) of a calendar mail's dedupe key; None for any other mail."""
    kind, _sep, rest = key.partition(":")
    parts = rest.split(":")
    if kind != "invite" or len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    day_id, enrolment_id, sequence = (int(part) for part in parts)
    return day_id, enrolment_id, sequence


def _queue(
    run: CourseRun,
    enrolment: Enrolment,
    day: CourseDay,
    row: CalendarInvitation | None,
    kind: InvitationKind,
    now: datetime,
    floors: dict[tuple[int, int], int],
) -> None:
    # Above everything this person was ever sent about the day (any enrolment), never below the day's own.
    floor_key = (enrolment.user_id, day.id)
    floor = max(floors.get(floor_key, -1), -1 if row is None else row.sequence)
    sequence = day.sequence if floor < 0 else max(day.sequence, floor + 1)
    floors[floor_key] = sequence
    user = enrolment.user
    recipient = Recipient.from_user(user)
    prepared = _prepared.get()
    mail = None
    if prepared is not None:
        mail = prepared.take(_render_key(run, day, recipient, kind, stamp=now, sequence=sequence))
    if mail is None:
        mail = calendar_mail(run, day, recipient, kind, stamp=now, sequence=sequence)
    queued = outbox.enqueue(
        mail,
        kind=kind.value,
        dedupe_key=invitation_dedupe_key(day.id, enrolment.id, sequence),
        recipient_email=user.email,
        now=now,
        user_id=user.id,
        run_id=run.id,
        supersede_key=f"{event_uid(day)}|{user.email}",
    )
    if row is None:
        row = CalendarInvitation(enrolment_id=enrolment.id, course_day_id=day.id)
        db.session.add(row)
    row.active = kind.method == "REQUEST"
    row.sequence = sequence
    row.day_revision = day.sequence
    row.updated_at = now
    if queued is not None:
        row.last_message_id = queued.id


# --- the enrolment hook ------------------------------------------------------------------------------------


def _waitlist_position(enrolment: Enrolment) -> int:
    return waitlist_positions([enrolment.course_run_id]).get(enrolment.id, 0)


def enrolment_changed(enrolment: Enrolment, event: EnrolmentEvent, now: datetime) -> None:
    """The enrolment services' hook: mails for one change of one enrolment, in its transaction."""
    _check_aware(now)
    run = enrolment.run
    kind = event.kind
    report = sync_run(run, now, enrolment_ids=[enrolment.id])
    title = run.title
    # Every notice of this change goes to the person, once per event, linking to their courses.
    notice = partial(
        queue_notice, enrolment.user, dedupe_key=f"notice:{event.id}", now=now, run=run, link=my_courses_url()
    )
    if enrolment.status == EnrolmentStatus.WAITLISTED and kind in (
        EventKind.WAITLISTED,
        EventKind.APPROVED,
        EventKind.MOVED_IN,
    ):
        position = _waitlist_position(enrolment)
        notice(
            kind="waitlisted",
            subject=lambda: _("Venteliste: %(run)s", run=title),
            paragraphs=lambda: [
                _(
                    "Kursusforløbet »%(run)s« er fuldt, så du er sat på ventelisten som nr. %(n)s.",
                    run=title,
                    n=position,
                ),
                _(
                    "Bliver der en plads ledig, får du den automatisk i den rækkefølge, I er skrevet op, og du får "
                    "straks en mail med kalenderinvitationerne."
                ),
            ],
        )
    elif kind == EventKind.REQUESTED and not enrolment.awaits_leader:  # the leader's: app.enrolment.approval_mail
        notice(
            kind="requested",
            subject=lambda: _("Afventer godkendelse: %(run)s", run=title),
            paragraphs=lambda: [
                _(
                    "Vi har modtaget din tilmelding til kursusforløbet »%(run)s«. Kursuskoordinatoren skal godkende "
                    "den, før du får en plads.",
                    run=title,
                ),
                _("Du får en mail, når tilmeldingen er godkendt eller afvist."),
            ],
        )
    elif kind == EventKind.REJECTED:
        notice(
            kind="rejected",
            subject=lambda: _("Tilmelding afvist: %(run)s", run=title),
            paragraphs=lambda: [
                _("Kursuskoordinatoren har afvist din tilmelding til kursusforløbet »%(run)s«.", run=title),
                _("Kontakt kursuskoordinatoren, hvis du har spørgsmål."),
            ],
        )
    elif kind == EventKind.CANCELLED and report.cancellations == 0:
        # Held no course day in the calendar (on the waiting list, awaiting approval, or every day passed):
        # the per-day cancellations say nothing, so one notice confirms the cancellation.
        notice(
            kind="cancelled",
            subject=lambda: _("Afmeldt: %(run)s", run=title),
            paragraphs=lambda: [_("Du er afmeldt kursusforløbet »%(run)s«.", run=title)],
        )
