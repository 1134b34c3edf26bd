"""Enrolment rules: self-enrolment, the waiting list, approval, moves, cancellation, attendance, completion.

Every change to a run's enrolments follows one pattern, in one transaction (the view commits):

1. `lock_run()` locks the run row (`SELECT ... FOR UPDATE` with a bounded `lock_timeout` on PostgreSQL;
   on SQLite the `BEGIN IMMEDIATE` recipe in app.core.db already holds the database's write lock), so
   the duplicate check, the waiting-list queue number and promotion see a stable picture;
2. a seat is taken with a conditional `UPDATE course_runs SET seats_taken = seats_taken + 1
   WHERE id = :id AND seats_taken < capacity` (the primary guard: the database, not Python, decides),
   with `CHECK (seats_taken <= capacity)` and the partial unique index "one active enrolment per person
   and run" as backstops;
3. `_record()` writes an EnrolmentEvent (who, when, what) and queues the mails and calendar invitations
   the change calls for (app.enrolment.invitations), in the same transaction: the single hook.

Services never commit; they raise DomainError (with the form field where there is one) when a rule
refuses, and `Busy` when the run's lock could not be had within the configured seconds.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import exc, func, select, update
from sqlalchemy.orm import joinedload, selectinload

from app.accounts.models import AccessLevel, User
from app.audit.services import record as audit
from app.core import clock
from app.core.db import rows_affected
from app.core.exceptions import Busy, Conflict, DomainError, NotAllowed
from app.core.templating import dk_date
from app.core.validators import too_long_message
from app.courses.models import CourseDay, CourseRun, DayKind, RunStatus
from app.enrolment import approval_mail, invitations
from app.enrolment.models import (
    ACTIVE_STATUSES,
    Attendance,
    Enrolment,
    EnrolmentEvent,
    EnrolmentStatus,
    EventKind,
)
from app.enrolment.queries import waitlist_positions
from app.extensions import db

logger = logging.getLogger(__name__)

#: Longest practice-case description and note accepted (characters).
PRACTICE_CASE_MAX = 2000
NOTE_MAX = 500


# --------------------------------------------------------------------------------------------------
# Locking and seats
# --------------------------------------------------------------------------------------------------


def _is_lock_timeout(error: exc.OperationalError) -> bool:
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return code == "55P03" or "database is locked" in str(error.orig)


def busy_message() -> str:
    return _("Der er mange tilmeldinger til kursusforløbet lige nu. Vent et øjeblik, og prøv igen.")


def lock_run(run_id: int) -> CourseRun:
    """Lock the run row for the rest of the transaction and return it freshly loaded, with its course days
    (also freshly loaded: what was read before the lock, e.g. to render the mails beforehand, may have changed
    until the lock was granted).

    :raises Busy: the lock was not granted within ENROLMENT_LOCK_TIMEOUT seconds (PostgreSQL).
    """
    session = db.session
    try:
        if session.get_bind().dialect.name == "postgresql":
            timeout_ms = int(float(current_app.config["ENROLMENT_LOCK_TIMEOUT"]) * 1000)
            session.execute(db.text(f"SET LOCAL lock_timeout = '{timeout_ms}ms'"))
        run = session.scalars(
            select(CourseRun)
            .where(CourseRun.id == run_id)
            .with_for_update(of=CourseRun)
            .options(selectinload(CourseRun.days))
            .execution_options(populate_existing=True)
        ).one_or_none()
    except exc.OperationalError as error:
        if _is_lock_timeout(error):
            raise Busy(busy_message()) from error
        raise
    if run is None:
        raise DomainError(_("Kursusforløbet findes ikke."))
    return run


def _take_seat(run: CourseRun) -> bool:
    """Take one seat if one is free: the database decides, atomically. True when taken."""
    result = db.session.execute(
        update(CourseRun)
        .where(CourseRun.id == run.id, CourseRun.seats_taken < CourseRun.capacity)
        .values(seats_taken=CourseRun.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(run, ["seats_taken"])
    return rows_affected(result) == 1


def _release_seat(run: CourseRun) -> None:
    db.session.execute(
        update(CourseRun)
        .where(CourseRun.id == run.id, CourseRun.seats_taken > 0)
        .values(seats_taken=CourseRun.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(run, ["seats_taken"])


def _next_queue_number(run: CourseRun) -> int:
    run.queue_counter = (run.queue_counter or 0) + 1
    return run.queue_counter


def _set_status(enrolment: Enrolment, status: EnrolmentStatus, now: datetime) -> None:
    enrolment.status = status
    enrolment.status_changed_at = now


def _record(enrolment: Enrolment, kind: EventKind, actor: User | None, now: datetime, detail: str | None = None):
    """Write the history row, and queue the mails and calendar invitations the change calls for
    (app.enrolment.invitations.enrolment_changed), in this same transaction."""
    db.session.flush()  # the enrolment needs its id
    event = EnrolmentEvent(
        enrolment_id=enrolment.id,
        course_run_id=enrolment.course_run_id,
        kind=kind,
        actor_id=actor.id if actor is not None else None,
        created_at=now,
        detail=detail,
    )
    db.session.add(event)
    db.session.flush()  # the event's id keys its notice in the outbox
    details: dict = {"run": enrolment.course_run_id, "status": enrolment.status.value}
    if actor is not None and actor.id != enrolment.user_id:
        details["on_behalf"] = True
    if kind in (EventKind.MOVED_OUT, EventKind.MOVED_IN) and detail:
        details["other_run"] = int(detail.split()[-1])
    audit(
        f"enrolment.{kind.value}",
        actor=actor,
        object_type="enrolment",
        object_id=enrolment.id,
        subject=enrolment.user_id,
        details=details,
        now=now,
    )
    logger.info(
        "Enrolment %s (run %s, user %s): %s by %s",
        enrolment.id,
        enrolment.course_run_id,
        enrolment.user_id,
        kind.value,
        actor.id if actor else "system",
    )
    invitations.enrolment_changed(enrolment, event, now)
    return event


def _place(run: CourseRun, enrolment: Enrolment, now: datetime) -> EnrolmentStatus:
    """Confirm the enrolment if a seat is free, else put it at the end of the waiting list."""
    if _take_seat(run):
        enrolment.queue_number = None
        _set_status(enrolment, EnrolmentStatus.CONFIRMED, now)
    else:
        enrolment.queue_number = _next_queue_number(run)
        _set_status(enrolment, EnrolmentStatus.WAITLISTED, now)
    return enrolment.status


def has_started(run: CourseRun, today: date) -> bool:
    first = run.first_day
    return first is not None and first <= today


def fill_from_waiting_list(run: CourseRun, now: datetime, today: date, actor: User | None) -> list[Enrolment]:
    """Give free seats to the waiting list, first come first served, unless the run has started.

    Call with the run locked (`lock_run`); returns the promoted enrolments. Also used by the run's own
    services when its capacity rises (app.courses.services).
    """
    promoted: list[Enrolment] = []
    if run.status != RunStatus.PUBLISHED or has_started(run, today):
        return promoted
    while True:
        first = db.session.scalars(
            select(Enrolment)
            .where(Enrolment.course_run_id == run.id, Enrolment.status == EnrolmentStatus.WAITLISTED)
            .order_by(Enrolment.queue_number, Enrolment.id)
            .limit(1)
        ).first()
        if first is None or not _take_seat(run):
            return promoted
        _set_status(first, EnrolmentStatus.CONFIRMED, now)
        _record(first, EventKind.PROMOTED, actor, now)
        promoted.append(first)


def fill_free_seats(actor: User | None, run_id: int, now: datetime, today: date) -> list[Enrolment]:
    """After the capacity was raised: promote from the waiting list into the new seats."""
    run = lock_run(run_id)
    return fill_from_waiting_list(run, now, today, actor)


# --------------------------------------------------------------------------------------------------
# Who may enrol
# --------------------------------------------------------------------------------------------------


def active_enrolment(user_id: int, run_id: int) -> Enrolment | None:
    return db.session.scalars(
        select(Enrolment).where(
            Enrolment.course_run_id == run_id,
            Enrolment.user_id == user_id,
            Enrolment.status.in_(ACTIVE_STATUSES),
        )
    ).first()


def already_enrolled_message(enrolment: Enrolment) -> str:
    if enrolment.status == EnrolmentStatus.WAITLISTED:
        return _("Du er allerede på ventelisten til dette kursusforløb.")
    if enrolment.status == EnrolmentStatus.REQUESTED:
        return _("Du har allerede bedt om at blive tilmeldt; tilmeldingen afventer godkendelse.")
    return _("Du er allerede tilmeldt dette kursusforløb.")


def already_enrolled_on_behalf_message(enrolment: Enrolment, name: str) -> str:
    """One sentence per status (never the status label put into brackets): for the coordinator's form."""
    if enrolment.status == EnrolmentStatus.WAITLISTED:
        return _("%(name)s står allerede på ventelisten.", name=name)
    if enrolment.status == EnrolmentStatus.REQUESTED:
        return _("%(name)s har allerede en tilmelding, der afventer godkendelse.", name=name)
    return _("%(name)s er allerede tilmeldt.", name=name)


def self_enrolment_refusal(user: User, run: CourseRun, today: date) -> str | None:
    """Why `user` may not enrol themself in `run` (None: they may). The same rule the list applies."""
    if not user.is_staff:
        return _("Kun medarbejdere kan tilmelde sig kursusforløb.")
    if run.status != RunStatus.PUBLISHED:
        return _("Kursusforløbet er %(status)s og er ikke åbent for tilmelding.", status=run.status.in_sentence)
    if user.staff_role_id is None or all(role.id != user.staff_role_id for role in run.eligible_roles):
        return _(
            "Kursusforløbet er ikke åbent for din stillingsbetegnelse. Kontakt kursuskoordinatoren, "
            "hvis du mener, det er en fejl."
        )
    if today > run.enrolment_deadline:
        return _("Tilmeldingsfristen var %(date)s.", date=dk_date(run.enrolment_deadline))
    return None


def _clean_text(value: str | None, limit: int, field_name: str) -> str | None:
    value = (value or "").strip()
    if len(value) > limit:
        raise DomainError(too_long_message(limit), field=field_name)
    return value or None


# --------------------------------------------------------------------------------------------------
# Enrol, cancel, approve, promote, move
# --------------------------------------------------------------------------------------------------


def enrol(
    actor: User,
    run_id: int,
    participant: User,
    now: datetime,
    today: date,
    practice_case: str | None = None,
    note: str | None = None,
) -> Enrolment:
    """Enrol `participant` in the run: confirmed while seats are left, else on the waiting list.

    A staff member enrols only themself, by the run's rules (published, their staff role, before the
    deadline); in runs that require approval the enrolment waits as requested. A coordinator enrols
    anybody with a staff role on their behalf, also after the deadline, without approval.

    :raises NotAllowed: a staff member enrolling someone else, a provider.
    :raises Conflict: already enrolled (the message says how).
    :raises DomainError: the run's rules refuse; `practice_case` missing on a special run (field).
    :raises Busy: the run is locked by others for too long.
    """
    on_behalf = actor.is_coordinator
    if not on_behalf and actor.id != participant.id:
        raise NotAllowed(_("Du kan kun tilmelde dig selv."))
    practice_case = _clean_text(practice_case, PRACTICE_CASE_MAX, "practice_case")
    note = _clean_text(note, NOTE_MAX, "note")

    # The invitations a seat brings are rendered now, before the run's lock: under it they are only checked
    # against the locked run and queued (app.enrolment.invitations.PreparedMails; docs/architecture.md).
    unlocked = db.session.get(CourseRun, run_id)
    prepared = invitations.PreparedMails()
    if unlocked is not None and (on_behalf or not (unlocked.requires_approval or unlocked.requires_leader_approval)):
        prepared = invitations.prepare_enrolment(run_id, participant, now)

    run = lock_run(run_id)
    if on_behalf:
        if run.status != RunStatus.PUBLISHED:
            raise DomainError(
                _(
                    "Kun offentliggjorte kursusforløb kan have deltagere. Dette kursusforløb er %(status)s.",
                    status=run.status.in_sentence,
                )
            )
        if not participant.is_staff or not participant.active:
            raise DomainError(_("Kun aktive medarbejdere kan tilmeldes."), field="email")
    else:
        refusal = self_enrolment_refusal(participant, run, today)
        if refusal:
            raise DomainError(refusal)
    existing = active_enrolment(participant.id, run.id)
    if existing is not None:
        if on_behalf:
            raise Conflict(already_enrolled_on_behalf_message(existing, participant.name), field="email")
        raise Conflict(already_enrolled_message(existing))
    if run.is_special and not practice_case and not on_behalf:
        raise DomainError(
            _("Beskriv den sag eller det netværksmøde, du vil arbejde med i forløbet."), field="practice_case"
        )
    if not run.is_special:
        practice_case = None

    enrolment = Enrolment(
        course_run_id=run.id,
        user_id=participant.id,
        practice_case=practice_case,
        note=note,
        status=EnrolmentStatus.REQUESTED,
        status_changed_at=now,
    )
    db.session.add(enrolment)
    # Leader approval (issue 24; app.enrolment.approval): the request waits for the person's leader, if any.
    leaders = approval_mail.approvers(participant) if run.requires_leader_approval and not on_behalf else []
    enrolment.awaits_leader = bool(leaders)
    if (run.requires_approval or run.requires_leader_approval) and not on_behalf:
        db.session.flush()
        event = _record(enrolment, EventKind.REQUESTED, actor, now)
        if enrolment.awaits_leader:
            approval_mail.request_sent(enrolment, event, now)
        return enrolment
    with db.session.no_autoflush:  # the enrolment is inserted once, with its place, not inserted and updated
        _place(run, enrolment, now)
    try:
        db.session.flush()
    except exc.IntegrityError as error:  # the partial unique index: a racing duplicate
        raise Conflict(already_enrolled_message(enrolment)) from error
    if enrolment.status == EnrolmentStatus.CONFIRMED:
        with invitations.prepared_mails(prepared):
            _record(enrolment, EventKind.CONFIRMED, actor, now)
    else:
        _record(enrolment, EventKind.WAITLISTED, actor, now, detail=f"queue {enrolment.queue_number}")
    return enrolment


def earlier_note(user_id: int, run_id: int) -> str | None:
    """The note of the person's latest earlier enrolment on the run that had one (a cancelled one, say), to
    offer pre-filled when they enrol again: the note stays with the cancelled row otherwise, and the provider
    would see an empty one. None when there is none."""
    return db.session.scalar(
        select(Enrolment.note)
        .where(Enrolment.user_id == user_id, Enrolment.course_run_id == run_id, Enrolment.note.is_not(None))
        .order_by(Enrolment.id.desc())
        .limit(1)
    )


def cancellation_contact() -> list[User]:
    """Whom a staff member contacts to cancel after the deadline: the active coordinators."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.access_level == AccessLevel.COORDINATOR, User.active.is_(True))
            .order_by(User.name)
            .limit(3)
        )
    )


def after_deadline_message() -> str:
    contacts = ", ".join(f"{u.name} ({u.email})" for u in cancellation_contact())
    if contacts:
        return _(
            "Tilmeldingsfristen er passeret, så du kan ikke selv afmelde dig. Kontakt kursuskoordinatoren: "
            "%(contacts)s.",
            contacts=contacts,
        )
    return _("Tilmeldingsfristen er passeret, så du kan ikke selv afmelde dig. Kontakt kursuskoordinatoren.")


def may_cancel_self(enrolment: Enrolment, run: CourseRun, today: date) -> bool:
    """Staff cancel a seat until the enrolment deadline; leaving the waiting list or withdrawing a
    request is allowed any time before the run is completed."""
    if not enrolment.is_active or run.status == RunStatus.COMPLETED:
        return False
    return enrolment.status != EnrolmentStatus.CONFIRMED or today <= run.enrolment_deadline


def cancel(actor: User, enrolment_id: int, now: datetime, today: date) -> Enrolment:
    """Cancel an active enrolment; a freed seat goes to the first on the waiting list, in this transaction.

    Staff cancel their own until the enrolment deadline; the coordinator cancels any, any time.

    :raises NotAllowed: someone else's enrolment (staff), a provider.
    :raises DomainError: not active any more; after the deadline (says whom to contact).
    """
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None:
        raise DomainError(_("Tilmeldingen findes ikke."))
    if not actor.is_coordinator and enrolment.user_id != actor.id:
        raise NotAllowed(_("Du kan kun afmelde dig selv."))
    run = lock_run(enrolment.course_run_id)
    db.session.refresh(enrolment)
    if not enrolment.is_active:
        raise DomainError(_("Tilmeldingen er allerede %(status)s.", status=enrolment.status.in_sentence))
    if run.status == RunStatus.COMPLETED:
        raise DomainError(_("Kursusforløbet er gennemført, så tilmeldingerne kan ikke længere ændres."))
    if not actor.is_coordinator and not may_cancel_self(enrolment, run, today):
        raise DomainError(after_deadline_message())
    _cancel_locked(enrolment, run, actor, now, today)
    return enrolment


def _cancel_locked(enrolment: Enrolment, run: CourseRun, actor: User | None, now: datetime, today: date) -> None:
    """Cancel an active enrolment of the locked `run`: history, mails and calendars (`_record`), and a freed seat
    goes to the first on the waiting list."""
    was_confirmed = enrolment.status == EnrolmentStatus.CONFIRMED
    _set_status(enrolment, EnrolmentStatus.CANCELLED, now)
    _record(enrolment, EventKind.CANCELLED, actor, now)
    if was_confirmed:
        _release_seat(run)
        fill_from_waiting_list(run, now, today, None)


def cancel_future_enrolments(user: User, now: datetime, today: date) -> list[Enrolment]:
    """A person has left (deactivated by the directory, app.scim): cancel each of their active enrolments in a run
    that has not started, as a coordinator's cancellation does — the CANCEL mails and calendar cancellations go
    out, and the waiting list moves up. The system is the actor. Runs that have started or are completed keep
    their enrolments (history, attendance, programme figures). Returns the cancelled enrolments."""
    candidates = db.session.scalars(
        select(Enrolment.id)
        .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
        .where(
            Enrolment.user_id == user.id,
            Enrolment.status.in_(ACTIVE_STATUSES),
            CourseRun.status.in_((RunStatus.DRAFT, RunStatus.PUBLISHED)),
        )
        .order_by(Enrolment.course_run_id)
    ).all()
    cancelled: list[Enrolment] = []
    for enrolment_id in candidates:
        enrolment = db.session.get_one(Enrolment, enrolment_id)
        run = lock_run(enrolment.course_run_id)
        db.session.refresh(enrolment)
        if enrolment.is_active and not has_started(run, today):
            _cancel_locked(enrolment, run, None, now, today)
            cancelled.append(enrolment)
    return cancelled


def cancel_own(actor: User, run_id: int, now: datetime, today: date) -> Enrolment:
    """A staff member cancels their active enrolment in `run_id` (POST /runs/<id>/cancel)."""
    enrolment = active_enrolment(actor.id, run_id)
    if enrolment is None:
        raise DomainError(_("Du er ikke tilmeldt dette kursusforløb."))
    return cancel(actor, enrolment.id, now, today)


def _require_coordinator(actor: User) -> None:
    if not actor.is_coordinator:
        raise NotAllowed(_("Kun kursuskoordinatoren kan gøre dette."))


def _locked_enrolment(enrolment_id: int) -> tuple[Enrolment, CourseRun]:
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None:
        raise DomainError(_("Tilmeldingen findes ikke."))
    run = lock_run(enrolment.course_run_id)
    db.session.refresh(enrolment)
    return enrolment, run


def approve(actor: User, enrolment_id: int, now: datetime) -> Enrolment:
    """Approve a requested enrolment: confirmed if a seat is free, else onto the waiting list."""
    _require_coordinator(actor)
    enrolment, run = _locked_enrolment(enrolment_id)
    if enrolment.status != EnrolmentStatus.REQUESTED:
        raise DomainError(_("Kun tilmeldinger, der afventer godkendelse, kan godkendes."))
    if run.status != RunStatus.PUBLISHED:
        raise DomainError(_("Kursusforløbet er %(status)s.", status=run.status.in_sentence))
    placed = _place(run, enrolment, now)
    _record(
        enrolment,
        EventKind.APPROVED,
        actor,
        now,
        detail=None if placed == EnrolmentStatus.CONFIRMED else f"queue {enrolment.queue_number}",
    )
    return enrolment


def reject(actor: User, enrolment_id: int, now: datetime) -> Enrolment:
    """Reject a requested enrolment."""
    _require_coordinator(actor)
    enrolment, _run = _locked_enrolment(enrolment_id)
    if enrolment.status != EnrolmentStatus.REQUESTED:
        raise DomainError(_("Kun tilmeldinger, der afventer godkendelse, kan afvises."))
    _set_status(enrolment, EnrolmentStatus.REJECTED, now)
    _record(enrolment, EventKind.REJECTED, actor, now)
    return enrolment


def promote(actor: User, enrolment_id: int, now: datetime) -> Enrolment:
    """The coordinator gives a free seat to this person on the waiting list (in any order they choose).

    Refused for a run that is not published; a run that has started is allowed here (the coordinator
    knows the person is in the room), unlike the automatic promotion.
    """
    _require_coordinator(actor)
    enrolment, run = _locked_enrolment(enrolment_id)
    if enrolment.status != EnrolmentStatus.WAITLISTED:
        raise DomainError(_("Kun deltagere på ventelisten kan rykkes op."))
    if run.status != RunStatus.PUBLISHED:
        raise DomainError(_("Kursusforløbet er %(status)s.", status=run.status.in_sentence))
    if not _take_seat(run):
        raise DomainError(_("Der er ingen ledige pladser. Sæt antallet af pladser op, eller afmeld en deltager først."))
    _set_status(enrolment, EnrolmentStatus.CONFIRMED, now)
    _record(enrolment, EventKind.PROMOTED, actor, now)
    return enrolment


def move_targets(enrolment: Enrolment) -> list[CourseRun]:
    """The runs a participant can be moved to: published runs of the same programme, other than this."""
    return list(
        db.session.scalars(
            select(CourseRun)
            .where(
                CourseRun.programme_id == enrolment.run.programme_id,
                CourseRun.id != enrolment.course_run_id,
                CourseRun.status == RunStatus.PUBLISHED,
            )
            .options(selectinload(CourseRun.days))
            .order_by(CourseRun.enrolment_deadline, CourseRun.id)
        )
    )


def move(actor: User, enrolment_id: int, target_run_id: int, now: datetime, today: date) -> Enrolment:
    """Move a participant to another published run of the same programme, keeping the history.

    The old enrolment becomes "moved" (its seat goes to that run's waiting list); the new one is
    confirmed if the target has a seat, else waitlisted. Both runs are locked in id order.

    :returns: the new enrolment.
    """
    _require_coordinator(actor)
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None:
        raise DomainError(_("Tilmeldingen findes ikke."))
    if target_run_id == enrolment.course_run_id:
        raise DomainError(_("Vælg et andet kursusforløb end det nuværende."), field="target")
    locked = {run_id: lock_run(run_id) for run_id in sorted((enrolment.course_run_id, target_run_id))}
    source, target = locked[enrolment.course_run_id], locked[target_run_id]
    db.session.refresh(enrolment)
    if not enrolment.is_active:
        raise DomainError(
            _("Kun aktive tilmeldinger kan flyttes. Denne er %(status)s.", status=enrolment.status.in_sentence)
        )
    if target.programme_id != source.programme_id:
        raise DomainError(_("Du kan kun flytte deltageren til et kursusforløb i samme indsats."), field="target")
    if source.status == RunStatus.COMPLETED:
        raise DomainError(_("Kursusforløbet er gennemført, så tilmeldingerne kan ikke længere ændres."))
    if target.status != RunStatus.PUBLISHED:
        raise DomainError(_("Du kan kun flytte deltageren til et offentliggjort kursusforløb."), field="target")
    if has_started(target, today):
        raise DomainError(_("Det valgte kursusforløb er allerede begyndt."), field="target")
    if active_enrolment(enrolment.user_id, target.id) is not None:
        raise Conflict(_("Deltageren er allerede tilmeldt det valgte kursusforløb."), field="target")

    was_confirmed = enrolment.status == EnrolmentStatus.CONFIRMED
    _set_status(enrolment, EnrolmentStatus.MOVED, now)
    db.session.flush()  # free the (run, user) slot of the partial unique index before the new row
    new = Enrolment(
        course_run_id=target.id,
        user_id=enrolment.user_id,
        practice_case=enrolment.practice_case,
        note=enrolment.note,
        moved_from_id=enrolment.id,
        status=EnrolmentStatus.REQUESTED,
        status_changed_at=now,
    )
    db.session.add(new)
    _place(target, new, now)
    db.session.flush()
    _record(enrolment, EventKind.MOVED_OUT, actor, now, detail=f"run {target.id}")
    _record(new, EventKind.MOVED_IN, actor, now, detail=f"run {source.id}")
    if was_confirmed:
        _release_seat(source)
        fill_from_waiting_list(source, now, today, None)
    return new


def check_capacity_change(run: CourseRun, new_capacity: int) -> None:
    """Capacity may not drop below the confirmed enrolments (raise DomainError on field `capacity`)."""
    if new_capacity < run.seats_taken:
        raise DomainError(
            _(
                "Der er %(n)s tilmeldte, så antallet af pladser kan ikke sættes lavere. "
                "Afmeld eller flyt deltagere først.",
                n=run.seats_taken,
            ),
            field="capacity",
        )


# --------------------------------------------------------------------------------------------------
# Attendance and completion
# --------------------------------------------------------------------------------------------------


def record_attendance(actor: User, day_id: int, present_ids: Iterable[int], now: datetime, today: date) -> int:
    """Register who was present on one course day: every confirmed participant of the run gets a row
    (present when their enrolment id is in `present_ids`). Returns the number present.

    :raises DomainError: the day lies in the future; the run is cancelled.
    """
    if not (actor.is_coordinator or actor.is_provider):
        raise NotAllowed(_("Du kan ikke registrere fremmøde."))
    day = db.session.get(CourseDay, day_id)
    if day is None:
        raise DomainError(_("Kursusdagen findes ikke."))
    run = lock_run(day.course_run_id)
    if actor.is_provider and run.provider_id != actor.provider_id:
        raise NotAllowed(_("Du kan ikke registrere fremmøde."))
    if run.status == RunStatus.CANCELLED:
        raise DomainError(_("Kursusforløbet er aflyst."))
    if day.day > today:
        raise DomainError(_("Fremmøde kan først registreres på dagen (%(date)s).", date=dk_date(day.day)))
    present = set(present_ids)
    confirmed = list(
        db.session.scalars(
            select(Enrolment).where(Enrolment.course_run_id == run.id, Enrolment.status == EnrolmentStatus.CONFIRMED)
        )
    )
    unknown = present - {e.id for e in confirmed}
    if unknown:
        raise DomainError(_("Kun tilmeldte deltagere kan registreres som mødt."))
    existing = {
        a.enrolment_id: a for a in db.session.scalars(select(Attendance).where(Attendance.course_day_id == day.id))
    }
    changed_ids = []
    for enrolment in confirmed:
        is_present = enrolment.id in present
        row = existing.get(enrolment.id)
        if row is None:
            db.session.add(
                Attendance(
                    enrolment_id=enrolment.id,
                    course_day_id=day.id,
                    present=is_present,
                    recorded_by_id=actor.id,
                    recorded_at=now,
                )
            )
            changed_ids.append(enrolment.id)
        elif row.present != is_present:
            row.present, row.recorded_by_id, row.recorded_at = is_present, actor.id, now
            changed_ids.append(enrolment.id)
    db.session.flush()
    audit(
        "attendance.record",
        actor=actor,
        object_type="course_day",
        object_id=day.id,
        details={
            "run": run.id,
            "present": len(present),
            "absent": len(confirmed) - len(present),
            "changed_enrolments": sorted(changed_ids),
        },
        now=now,
    )
    if run.follow_up_confirmed_at is not None and day.kind == DayKind.TEACHING:
        # After the follow-up job: absence on a teaching day withdraws the follow-up day, presence restores it.
        invitations.sync_run(run, now)
    logger.info("Attendance for day %s of run %s recorded by %s: %s present", day.id, run.id, actor.id, len(present))
    return len(present)


def attendance_map(run: CourseRun) -> dict[tuple[int, int], bool]:
    """(enrolment id, course day id) -> present, for every attendance row of the run (one query)."""
    rows = db.session.execute(
        select(Attendance.enrolment_id, Attendance.course_day_id, Attendance.present)
        .join(Enrolment, Enrolment.id == Attendance.enrolment_id)
        .where(Enrolment.course_run_id == run.id)
    )
    return {(e, d): p for e, d, p in rows}


def completed_ids(run_days: list[CourseDay], enrolment_ids: Iterable[int], marks: dict) -> set[int]:
    """The enrolments present on every day of the run (both teaching days and the follow-up day)."""
    if not run_days:
        return set()
    return {e for e in enrolment_ids if all(marks.get((e, d.id)) for d in run_days)}


def completion_problems(run: CourseRun, today: date, participants: RunParticipants | None = None) -> list[str]:
    """What stands between the run and "completed" (empty: it can be marked completed). The run page
    passes the `participants` it has already read; without them they are read here (two queries)."""
    problems = []
    if run.status != RunStatus.PUBLISHED:
        problems.append(_("Kun et offentliggjort kursusforløb kan markeres som gennemført."))
        return problems
    if run.last_day is None or run.last_day > today:
        problems.append(_("Kursusforløbets sidste dag er ikke passeret endnu."))
    if participants is not None:
        confirmed, marks = [p.enrolment.id for p in participants.confirmed], participants.marks
    else:
        confirmed = list(
            db.session.scalars(
                select(Enrolment.id).where(
                    Enrolment.course_run_id == run.id, Enrolment.status == EnrolmentStatus.CONFIRMED
                )
            )
        )
        marks = attendance_map(run)
    for day in run.days:
        missing = sum(1 for e in confirmed if (e, day.id) not in marks)
        if missing:
            problems.append(
                ngettext(
                    "Fremmøde mangler for %(num)s deltager på %(day)s (%(date)s).",
                    "Fremmøde mangler for %(num)s deltagere på %(day)s (%(date)s).",
                    missing,
                    day=day.in_sentence,
                    date=dk_date(day.day),
                )
            )
    return problems


def complete_run(actor: User, run_id: int, today: date) -> CourseRun:
    """Mark a run completed once all its days have passed and attendance is registered for all."""
    _require_coordinator(actor)
    run = lock_run(run_id)
    problems = completion_problems(run, today)
    if problems:
        raise DomainError(" ".join(problems))
    run.status = RunStatus.COMPLETED
    db.session.flush()
    audit("run.complete", actor=actor, object_type="run", object_id=run.id)
    logger.info("Course run %s marked completed by %s", run.id, actor.id)
    return run


# --------------------------------------------------------------------------------------------------
# Read side
# --------------------------------------------------------------------------------------------------


@dataclass
class Participant:
    enrolment: Enrolment
    position: int | None = None
    completed: bool = False


@dataclass
class RunParticipants:
    """A run's enrolments sorted for the run page: confirmed, requested, waiting list, history."""

    confirmed: list[Participant] = field(default_factory=list)
    requested: list[Participant] = field(default_factory=list)
    waitlisted: list[Participant] = field(default_factory=list)
    history: list[Participant] = field(default_factory=list)
    marks: dict = field(default_factory=dict)

    @property
    def completed_count(self) -> int:
        return sum(1 for p in self.confirmed if p.completed)


def run_participants(run: CourseRun) -> RunParticipants:
    """Everything the run page shows about enrolments, in two queries whatever the run's size: the
    enrolments with their people (joined: one row each), and the attendance marks. Waiting-list positions
    are counted from the enrolments, in waitlist_positions' order."""
    enrolments = list(
        db.session.scalars(
            select(Enrolment)
            .where(Enrolment.course_run_id == run.id)
            .options(
                joinedload(Enrolment.user).joinedload(User.staff_role),
                joinedload(Enrolment.user).joinedload(User.unit),
            )
            .order_by(Enrolment.status_changed_at, Enrolment.id)
        )
    )
    waiting = sorted(
        (e for e in enrolments if e.status == EnrolmentStatus.WAITLISTED), key=lambda e: (e.queue_number, e.id)
    )
    positions = {e.id: position for position, e in enumerate(waiting, start=1)}
    marks = attendance_map(run)
    done = completed_ids(run.days, [e.id for e in enrolments if e.status == EnrolmentStatus.CONFIRMED], marks)
    result = RunParticipants(marks=marks)
    for e in enrolments:
        p = Participant(e, positions.get(e.id), e.id in done)
        {
            EnrolmentStatus.CONFIRMED: result.confirmed,
            EnrolmentStatus.REQUESTED: result.requested,
            EnrolmentStatus.WAITLISTED: result.waitlisted,
        }.get(e.status, result.history).append(p)
    result.confirmed.sort(key=lambda p: p.enrolment.user.name.lower())
    result.waitlisted.sort(key=lambda p: p.position or 0)
    return result


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a run's history on "Mine kurser": what happened and on which (local) day. `again`: the
    person had been enrolled on this run before (a re-enrolment after a cancellation)."""

    kind: EventKind
    on: date
    again: bool = False


@dataclass
class MyCourse:
    """One run on "Mine kurser": the person's current enrolment on it (the active one, else the latest) and
    the history of every enrolment they have had on it, oldest first."""

    enrolment: Enrolment
    position: int | None
    completed: bool
    marks: dict[int, bool | None]  # course day id -> present (None: not registered)
    overlaps: list[CourseRun]
    history: list[HistoryEntry] = field(default_factory=list)
    may_cancel: bool = False

    def is_upcoming(self, today: date) -> bool:
        """Still ahead of the person: an active enrolment on a run whose last day has not passed."""
        last = self.enrolment.run.last_day
        return self.enrolment.is_active and (last is None or last >= today)


def _days_overlap(a: CourseDay, b: CourseDay) -> bool:
    return a.day == b.day and a.starts_at < b.ends_at and b.starts_at < a.ends_at


def overlapping_runs(user_id: int, run: CourseRun, exclude_enrolment_id: int | None = None) -> list[CourseRun]:
    """The user's other active runs with a course day overlapping one of `run`'s days (for a warning)."""
    dates = {d.day for d in run.days}
    if not dates:
        return []
    others = db.session.scalars(
        select(CourseRun)
        .join(Enrolment, Enrolment.course_run_id == CourseRun.id)
        .where(
            Enrolment.user_id == user_id,
            Enrolment.status.in_(ACTIVE_STATUSES),
            CourseRun.id != run.id,
            CourseRun.status != RunStatus.CANCELLED,
            CourseRun.days.any(CourseDay.day.in_(dates)),
        )
        .options(selectinload(CourseRun.days))
    ).unique()
    return [o for o in others if any(_days_overlap(a, b) for a in run.days for b in o.days)]


_ENROLLED_KINDS = (EventKind.CONFIRMED, EventKind.WAITLISTED, EventKind.REQUESTED, EventKind.MOVED_IN)


def _run_history(enrolments: list[Enrolment]) -> list[HistoryEntry]:
    """The events of one person's enrolments on one run as dated lines, oldest first; an enrolment after an
    earlier one on the same run reads "... igen"."""
    tz = clock.local_tz()
    events = sorted((ev for e in enrolments for ev in e.events), key=lambda ev: (ev.created_at, ev.id))
    entries, enrolled_before = [], False
    for ev in events:
        again = ev.kind in _ENROLLED_KINDS and enrolled_before
        enrolled_before = enrolled_before or ev.kind in _ENROLLED_KINDS
        entries.append(HistoryEntry(ev.kind, clock.as_utc(ev.created_at).astimezone(tz).date(), again))
    return entries


def my_courses(user: User, today: date) -> list[MyCourse]:
    """The user's runs, one item per run (however often they enrolled and cancelled), with the current
    enrolment's position, attendance, completion and whether they may cancel it, and the run's history.
    Upcoming runs first (soonest first), then the rest (latest first). A fixed number of queries: the run
    and its provider (one each per enrolment) are joined into the enrolments' select rather than loaded by
    two more round trips (issue 22); the days, marks and events are lists, loaded one statement each."""
    enrolments = list(
        db.session.scalars(
            select(Enrolment)
            .where(Enrolment.user_id == user.id)
            .options(
                joinedload(Enrolment.run, innerjoin=True).joinedload(CourseRun.provider, innerjoin=True),
                joinedload(Enrolment.run, innerjoin=True).selectinload(CourseRun.days),
                selectinload(Enrolment.attendances),
                selectinload(Enrolment.events),
            )
            .order_by(Enrolment.id)
        )
    )
    by_run: dict[int, list[Enrolment]] = defaultdict(list)
    for e in enrolments:
        by_run[e.course_run_id].append(e)
    positions = waitlist_positions({e.course_run_id for e in enrolments if e.status == EnrolmentStatus.WAITLISTED})
    active_runs = [e.run for e in enrolments if e.is_active and e.run.status != RunStatus.CANCELLED]
    result = []
    for run_enrolments in by_run.values():
        e = next((x for x in run_enrolments if x.is_active), run_enrolments[-1])
        marks: dict[int, bool | None] = {a.course_day_id: a.present for a in e.attendances}
        completed = (
            e.status == EnrolmentStatus.CONFIRMED and bool(e.run.days) and all(marks.get(d.id) for d in e.run.days)
        )
        overlaps = []
        if e.is_active:
            overlaps = [
                o
                for o in active_runs
                if o.id != e.course_run_id and any(_days_overlap(a, b) for a in e.run.days for b in o.days)
            ]
        course = MyCourse(e, positions.get(e.id), completed, marks, overlaps, _run_history(run_enrolments))
        course.may_cancel = may_cancel_self(e, e.run, today)
        result.append(course)
    far = date.max
    upcoming = sorted(
        (c for c in result if c.is_upcoming(today)), key=lambda c: (c.enrolment.run.first_day or far, c.enrolment.id)
    )
    rest = sorted(
        (c for c in result if not c.is_upcoming(today)),
        key=lambda c: (c.enrolment.run.first_day or date.min, c.enrolment.id),
        reverse=True,
    )
    return upcoming + rest


def enrolment_counts(run_ids: Iterable[int]) -> dict[int, dict[EnrolmentStatus, int]]:
    """run id -> status -> number of enrolments (one query), for lists."""
    run_ids = list(run_ids)
    counts: dict[int, dict[EnrolmentStatus, int]] = defaultdict(dict)
    if run_ids:
        rows = db.session.execute(
            select(Enrolment.course_run_id, Enrolment.status, func.count())
            .where(Enrolment.course_run_id.in_(run_ids))
            .group_by(Enrolment.course_run_id, Enrolment.status)
        )
        for run_id, status, n in rows:
            counts[run_id][status] = n
    return counts


def my_statuses(user: User, run_ids: Iterable[int]) -> dict[int, Enrolment]:
    """run id -> the user's active enrolment, for the runs given (one query)."""
    run_ids = list(run_ids)
    if not run_ids:
        return {}
    return {
        e.course_run_id: e
        for e in db.session.scalars(
            select(Enrolment).where(
                Enrolment.user_id == user.id,
                Enrolment.course_run_id.in_(run_ids),
                Enrolment.status.in_(ACTIVE_STATUSES),
            )
        )
    }
