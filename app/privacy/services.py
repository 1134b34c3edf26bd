"""Retention and anonymisation of personal data (docs/privacy.md says what, why and for how long).

Two ways personal data leaves the database, both keeping every figure of the programme dashboard and the
evaluation report the same:

- **Expired runs** (`anonymise_expired_runs(now)`, the daily scheduler job): a run whose last course day
  (the follow-up day included) is more than PERSONAL_DATA_RETENTION_YEARS before today loses its
  participants. Each enrolment is pointed at a placeholder user of its own ("Anonymiseret deltager",
  inactive, no password, an `@invalid` address) that keeps the staff role and unit the statistics count by,
  and gets a random `person_key` so the programme still counts a person with two runs once (see
  `PersonKey`). The practice case, the note and the feedback's free text are removed, the enrolment
  events the person did themselves are re-attributed to the placeholder, the run's mails (outbox rows:
  their bytes name the recipient) and calendar-invitation state are deleted. Attendance, statuses,
  feedback answers, times and the run itself stay. The run's certificates of completion are withdrawn
  (app.certificates: the verification page then says "no longer valid", without the name). One audit entry
  "run.anonymised" per run.
  Inactive accounts untouched for the retention period whose runs have all been anonymised are then
  anonymised like a leaver, and mails to anonymised people still left once sent are deleted (a backstop:
  the delivery job deletes them as it sends them).
- **A leaver** (`anonymise_user`, the coordinator's button and `flask privacy anonymise-user`): future
  enrolments are cancelled through the enrolment services (the waiting list moves up, the calendar
  cancellations are queued), then the account row itself is anonymised in place: name "Anonymiseret
  bruger", a placeholder address, no password, no calendar token, inactive. Staff role, unit and past
  enrolments (attendance, completion) stay for the statistics; their free text goes, their certificates of
  completion are withdrawn. Audit entries keep
  pointing at the (now anonymous) row.

Both ways of anonymising an account scrub at once, in the same transaction, what still names the person:
their calendar mails waiting to go out are rendered again without the name (they still go out, so the old
calendar keeps no course day still to come), their other waiting mails are withdrawn, and the audit log's
search texts for their name or address are replaced (`app.audit.services.scrub_person`).

Services never commit, except the job (one transaction per run, so a national data set is worked through
in batches and a failure keeps what was done).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import policy
from email.parser import BytesParser

from dateutil.relativedelta import relativedelta
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, exists, func, or_, select, update

from app.accounts.models import AccessLevel, User, unit_leaders
from app.audit.services import record, scrub_person
from app.certificates import services as certificates
from app.core.clock import as_utc, local_tz
from app.core.db import rows_affected
from app.core.exceptions import DomainError, NotAllowed
from app.courses.models import CourseDay, CourseRun, RunStatus
from app.enrolment.invitations import calendar_message, parse_invitation_dedupe_key
from app.enrolment.models import ACTIVE_STATUSES, Enrolment, EnrolmentEvent
from app.extensions import db
from app.notifications.compose import InvitationKind, Recipient, in_language, message_bytes
from app.notifications.models import CalendarInvitation, OutboxMessage, OutboxStatus
from app.privacy.models import PersonKey
from app.programmes.feedback_models import Feedback
from app.scim.models import ScimUser

logger = logging.getLogger(__name__)

#: Stored names of anonymised rows (data in the municipality's language, like the follow-up reason).
ANONYMISED_USER_NAME = "Anonymiseret bruger"
ANONYMISED_PARTICIPANT_NAME = "Anonymiseret deltager"
#: Runs read and anonymised per batch by the retention job (each run is its own transaction).
BATCH_SIZE = 100


def retention_years() -> int:
    years = int(current_app.config.get("PERSONAL_DATA_RETENTION_YEARS", 5))
    if years < 1:
        raise RuntimeError("PERSONAL_DATA_RETENTION_YEARS must be at least 1")
    return years


def retention_cutoff(today: date, years: int) -> date:
    """Runs whose last day is before this date have expired (`years` calendar years before `today`)."""
    return today - relativedelta(years=years)


def _check_aware(now: datetime) -> datetime:
    """`now` in UTC, as timestamps are stored; refuses a naive datetime."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.astimezone(UTC)


def _local_today(now: datetime) -> date:
    return _check_aware(now).astimezone(local_tz()).date()


def _new_person_key() -> str:
    return "p" + uuid.uuid4().hex


def _placeholder_email() -> str:
    return f"anonymised-{uuid.uuid4().hex}@invalid"


# --------------------------------------------------------------------------------------------------
# Expired runs
# --------------------------------------------------------------------------------------------------


def _last_day():
    return (
        select(func.max(CourseDay.day))
        .where(CourseDay.course_run_id == CourseRun.id)
        .correlate(CourseRun)
        .scalar_subquery()
    )


def expired_run_ids(today: date, years: int, *, limit: int | None = None) -> list[int]:
    """Runs not anonymised yet whose last course day (follow-up included) is before the cutoff, oldest id
    first. Runs without days never expire (they have had no participants)."""
    stmt = (
        select(CourseRun.id)
        .where(CourseRun.anonymised_at.is_(None), _last_day() < retention_cutoff(today, years))
        .order_by(CourseRun.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


@dataclass
class RunAnonymised:
    run_id: int
    enrolments: int
    mails_deleted: int


def anonymise_run(run_id: int, now: datetime) -> RunAnonymised | None:
    """Remove the participants' personal data from one run (see the module docstring), in the caller's
    transaction, with the run row locked. None when the run was anonymised already (idempotent)."""
    from app.enrolment.services import lock_run  # the enrolment slice's lock; imported when needed

    run = lock_run(run_id)
    if run.anonymised_at is not None:
        return None
    enrolments = list(
        db.session.scalars(select(Enrolment).where(Enrolment.course_run_id == run.id).order_by(Enrolment.id))
    )
    users = (
        {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({e.user_id for e in enrolments})))}
        if enrolments
        else {}
    )
    keys = (
        {
            pk.user_id: pk
            for pk in db.session.scalars(
                select(PersonKey).where(PersonKey.programme_id == run.programme_id, PersonKey.user_id.in_(set(users)))
            )
        }
        if users
        else {}
    )

    stamp = _check_aware(now)
    placeholders: dict[int, User] = {}
    for enrolment in enrolments:
        enrolment.practice_case = None
        enrolment.note = None
        # A leaver anonymised earlier gets placeholders too: their (anonymous) row then links nothing.
        person = users[enrolment.user_id]
        if person.id not in keys:
            keys[person.id] = PersonKey(
                user_id=person.id, programme_id=run.programme_id, person_key=enrolment.person_key or _new_person_key()
            )
        placeholders[enrolment.id] = User(
            name=ANONYMISED_PARTICIPANT_NAME,
            email=_placeholder_email(),
            access_level=AccessLevel.STAFF,
            active=False,
            staff_role_id=person.staff_role_id,
            unit_id=person.unit_id,
            anonymised_at=stamp,
        )
    db.session.add_all(placeholders.values())
    db.session.flush()
    people: set[int] = set()
    for enrolment in enrolments:
        placeholder = placeholders[enrolment.id]
        person_id = enrolment.user_id
        # What the person did themselves (enrolled, cancelled) now names the placeholder; coordinators stay.
        db.session.execute(
            update(EnrolmentEvent)
            .where(EnrolmentEvent.enrolment_id == enrolment.id, EnrolmentEvent.actor_id == person_id)
            .values(actor_id=placeholder.id)
        )
        enrolment.user_id = placeholder.id
        enrolment.person_key = enrolment.person_key or keys[person_id].person_key
        people.add(person_id)

    enrolment_ids = [e.id for e in enrolments]
    if enrolment_ids:
        db.session.execute(update(Feedback).where(Feedback.enrolment_id.in_(enrolment_ids)).values(free_text=None))
        db.session.execute(delete(CalendarInvitation).where(CalendarInvitation.enrolment_id.in_(enrolment_ids)))
    mails = rows_affected(db.session.execute(delete(OutboxMessage).where(OutboxMessage.course_run_id == run.id)))
    db.session.flush()

    # The pseudonym is kept only for people who still have enrolments of their own in the programme.
    still_linked = (
        set(
            db.session.scalars(
                select(Enrolment.user_id)
                .distinct()
                .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
                .where(CourseRun.programme_id == run.programme_id, Enrolment.user_id.in_(people))
            )
        )
        if people
        else set()
    )
    for person_id in people:
        key = keys[person_id]
        if person_id in still_linked and key.id is None:
            db.session.add(key)
        elif person_id not in still_linked and key.id is not None:
            db.session.delete(key)

    withdrawn = certificates.withdraw_for_run(run.id, stamp)
    run.anonymised_at = stamp
    record(
        "run.anonymised",
        object_type="run",
        object_id=run.id,
        actor=None,
        now=now,
        details={"enrolments": len(enrolments), "mails_deleted": mails, "certificates_withdrawn": withdrawn},
    )
    db.session.flush()
    logger.info("run %s anonymised: %d enrolments, %d mails deleted", run.id, len(enrolments), mails)
    return RunAnonymised(run_id=run.id, enrolments=len(enrolments), mails_deleted=mails)


@dataclass
class RetentionReport:
    cutoff: date
    dry_run: bool = False
    run_ids: list[int] = field(default_factory=list)
    enrolments: int = 0
    mails_deleted: int = 0
    accounts: list[int] = field(default_factory=list)
    sent_mails_deleted: int = 0


def expired_account_ids(now: datetime, years: int) -> list[int]:
    """Inactive accounts, not anonymised, unchanged for the retention period, with no enrolment of their own
    left (every run of theirs has been anonymised): the people who left and were only deactivated."""
    cutoff = _check_aware(now) - relativedelta(years=years)
    has_enrolment = exists().where(Enrolment.user_id == User.id)
    return list(
        db.session.scalars(
            select(User.id)
            .where(User.active.is_(False), User.anonymised_at.is_(None), User.updated_at < cutoff, ~has_enrolment)
            .order_by(User.id)
        )
    )


def delete_sent_mail_of_anonymised(now: datetime) -> int:
    """Mails to anonymised people that are no longer waiting to go out (sent, failed, superseded): they hold
    the old address. A backstop: the delivery job deletes such a mail as it sends it (or gives up on it), and
    the anonymisation deletes the rest; pending ones (the calendar cancellations) go out first."""
    anonymised = select(User.id).where(User.anonymised_at.is_not(None))
    return rows_affected(
        db.session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.recipient_user_id.in_(anonymised), OutboxMessage.status != OutboxStatus.PENDING
            )
        )
    )


def anonymise_expired_runs(
    now: datetime, *, years: int | None = None, dry_run: bool = False, batch_size: int = BATCH_SIZE
) -> RetentionReport:
    """The retention job: anonymise every expired run (a batch of `batch_size` runs read at a time, each run
    committed on its own), then expired inactive accounts, then sent mails of anonymised people. Running it
    again does nothing. `dry_run` only reports what would be anonymised."""
    years = retention_years() if years is None else years
    today = _local_today(now)
    report = RetentionReport(cutoff=retention_cutoff(today, years), dry_run=dry_run)
    if dry_run:
        report.run_ids = expired_run_ids(today, years)
        report.enrolments = (
            db.session.scalar(select(func.count(Enrolment.id)).where(Enrolment.course_run_id.in_(report.run_ids))) or 0
            if report.run_ids
            else 0
        )
        report.accounts = expired_account_ids(now, years)
        db.session.rollback()
        return report
    while True:
        batch = expired_run_ids(today, years, limit=batch_size)
        db.session.rollback()  # end the read; each run gets its own transaction
        if not batch:
            break
        for run_id in batch:
            done = anonymise_run(run_id, now)
            db.session.commit()
            if done is not None:
                report.run_ids.append(done.run_id)
                report.enrolments += done.enrolments
                report.mails_deleted += done.mails_deleted
    for user_id in expired_account_ids(now, years):
        user = db.session.get_one(User, user_id)  # just listed, so there
        account = _anonymise_account(user, now)
        record(
            "user.anonymised",
            object_type="user",
            object_id=user.id,
            subject=user,
            actor=None,
            now=now,
            details={"reason": "retention", **account.details()},
        )
        db.session.commit()
        report.accounts.append(user_id)
    report.sent_mails_deleted = delete_sent_mail_of_anonymised(now)
    db.session.commit()
    if report.run_ids or report.accounts or report.sent_mails_deleted:
        logger.info(
            "retention: %d runs (%d enrolments), %d accounts anonymised, %d sent mails deleted",
            len(report.run_ids),
            report.enrolments,
            len(report.accounts),
            report.sent_mails_deleted,
        )
    return report


# --------------------------------------------------------------------------------------------------
# Leavers
# --------------------------------------------------------------------------------------------------


def anonymisation_refusal(actor: User, user: User) -> str | None:
    """Why `actor` may not anonymise `user`, or None."""
    if user.is_anonymised:
        return _("Brugeren er allerede anonymiseret.")
    if user.id == actor.id:
        return _("Du kan ikke anonymisere dig selv.")
    if user.is_coordinator and user.active:
        others = db.session.scalar(
            select(func.count(User.id)).where(
                User.access_level == AccessLevel.COORDINATOR,
                User.active.is_(True),
                User.id != user.id,
                User.anonymised_at.is_(None),
            )
        )
        if not others:
            return _("Brugeren er den sidste aktive kursuskoordinator og kan ikke anonymiseres.")
    return None


def _future_enrolment_ids(user_id: int, today: date) -> list[int]:
    """The person's active enrolments in runs that are not history yet (their last day is today or later)."""
    return list(
        db.session.scalars(
            select(Enrolment.id)
            .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
            .where(
                Enrolment.user_id == user_id,
                Enrolment.status.in_(ACTIVE_STATUSES),
                CourseRun.status.in_((RunStatus.DRAFT, RunStatus.PUBLISHED)),
                or_(_last_day() >= today, _last_day().is_(None)),
            )
            .order_by(Enrolment.id)
        )
    )


def future_enrolment_count(user_id: int, today: date) -> int:
    """How many enrolments anonymising the person would cancel (shown on the confirmation page)."""
    return len(_future_enrolment_ids(user_id, today))


@dataclass
class AccountAnonymised:
    """What anonymising one account did besides stripping the row (the `user.anonymised` entry's details)."""

    #: Calendar mails still waiting (the cancellations of the days still to come among them), rendered again
    #: without the name; they go out to the old address.
    calendar_mails_kept: int = 0
    #: Other mails to the person still waiting to go out (notices, reminders, feedback requests): deleted unsent.
    mails_withdrawn: int = 0
    #: Mails to the person no longer waiting (sent, failed, superseded): deleted.
    mails_deleted: int = 0
    #: Audit entries whose details named the person (a search for their name or address): scrubbed.
    audit_entries_scrubbed: int = 0
    #: Their certificates of completion: withdrawn (the verification page no longer confirms them).
    certificates_withdrawn: int = 0

    def details(self) -> dict[str, int]:
        return {
            "calendar_mails_kept": self.calendar_mails_kept,
            "mails_withdrawn": self.mails_withdrawn,
            "mails_deleted": self.mails_deleted,
            "audit_entries_scrubbed": self.audit_entries_scrubbed,
            "certificates_withdrawn": self.certificates_withdrawn,
        }


def _neutral_recipient(email: str, language: str | None) -> Recipient:
    """The recipient of a mail that still goes to an anonymised person's old address, without their name: the
    greeting, the To: header and the calendar's ATTENDEE show a neutral word in their language."""
    with in_language(language):
        return Recipient(email=email, name=_("kursusdeltager"), language=language)


def _calendar_day(row: OutboxMessage) -> CourseDay | None:
    """The course day a calendar mail is about (None for any other mail, or when the day is gone)."""
    parsed = parse_invitation_dedupe_key(row.dedupe_key)
    return db.session.get(CourseDay, parsed[0]) if parsed is not None else None


def _rewritten_without_name(row: OutboxMessage, day: CourseDay, user: User, now: datetime) -> bool:
    """Render the pending calendar mail in `row` again without the person's name: the same kind, UID,
    SEQUENCE, DTSTAMP, Message-ID and address, so to the calendar and the mailer it is the same message.
    False when the delivery job sent it meanwhile (the conditional UPDATE matched nothing; the sent row is
    deleted with the others)."""
    parsed = parse_invitation_dedupe_key(row.dedupe_key)
    assert parsed is not None, "a calendar mail"
    old = BytesParser(policy=policy.default).parsebytes(row.message, headersonly=True)
    msg = calendar_message(
        day.run,
        day,
        _neutral_recipient(row.recipient_email, user.locale),
        InvitationKind(row.kind),
        stamp=as_utc(row.created_at),  # the DTSTAMP it was queued with
        sequence=parsed[2],
        message_id=old["Message-ID"],
    )
    done = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(message=message_bytes(msg), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(row)
    return rows_affected(done) == 1


def _forget_mail(user: User, now: datetime, report: AccountAnonymised) -> None:
    """Mails to the person (by user or address; no mail names anyone but its recipient). A calendar mail still
    waiting goes out, rendered again without the name: the cancellations of the days still to come, and an
    update of a day that has ended, so the old calendar shows no day in the future and the ended ones where
    they were (docs/calendar.md); the delivery job deletes each once it is done. Every other waiting mail
    (notices, reminders, feedback requests) is withdrawn: deleted unsent. Mails no longer waiting are deleted."""
    to_person = or_(OutboxMessage.recipient_user_id == user.id, OutboxMessage.recipient_email == user.email)
    pending = db.session.scalars(
        select(OutboxMessage).where(to_person, OutboxMessage.status == OutboxStatus.PENDING).order_by(OutboxMessage.id)
    ).all()
    withdraw: list[int] = []
    for row in pending:
        day = _calendar_day(row)
        if day is None:
            withdraw.append(row.id)
        elif _rewritten_without_name(row, day, user, now):
            report.calendar_mails_kept += 1
    if withdraw:
        unsent = OutboxMessage.status == OutboxStatus.PENDING
        report.mails_withdrawn = rows_affected(
            db.session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(withdraw), unsent))
        )
    report.mails_deleted = rows_affected(
        db.session.execute(delete(OutboxMessage).where(to_person, OutboxMessage.status != OutboxStatus.PENDING))
    )


def _anonymise_account(user: User, now: datetime) -> AccountAnonymised:
    """Strip the account row and the person's free text, mails and the searches for them in the audit log;
    statistics (role, unit, enrolments) stay."""
    now = _check_aware(now)
    report = AccountAnonymised()
    # Their pseudonyms move onto their remaining enrolments, so the programme's figures stay the same.
    for key in db.session.scalars(select(PersonKey).where(PersonKey.user_id == user.id)):
        in_programme = select(CourseRun.id).where(CourseRun.programme_id == key.programme_id)
        db.session.execute(
            update(Enrolment)
            .where(
                Enrolment.user_id == user.id, Enrolment.person_key.is_(None), Enrolment.course_run_id.in_(in_programme)
            )
            .values(person_key=key.person_key)
        )
        db.session.delete(key)
    own = select(Enrolment.id).where(Enrolment.user_id == user.id)
    db.session.execute(update(Enrolment).where(Enrolment.user_id == user.id).values(practice_case=None, note=None))
    db.session.execute(update(Feedback).where(Feedback.enrolment_id.in_(own)).values(free_text=None))
    _forget_mail(user, now, report)
    # What their calendar still holds now is history: days that have ended (the days still to come were
    # cancelled above). Nothing more is ever mailed about them, not even if such a day is moved later: the
    # address is gone (docs/calendar.md).
    db.session.execute(
        update(CalendarInvitation)
        .where(CalendarInvitation.enrolment_id.in_(own), CalendarInvitation.active.is_(True))
        .values(active=False, updated_at=now)
    )
    report.certificates_withdrawn = certificates.withdraw_for_user(user.id, now)
    report.audit_entries_scrubbed = scrub_person(user.name, user.email)
    # A leaver leads nothing: their units go back to the leaders above (app.accounts.directory.leaders).
    db.session.execute(delete(unit_leaders).where(unit_leaders.c.user_id == user.id))
    # What the directory sent about them (SCIM): their names, addresses and ids as the directory has them.
    db.session.execute(delete(ScimUser).where(ScimUser.user_id == user.id))
    db.session.flush()
    user.name = ANONYMISED_USER_NAME
    user.email = f"anonymised-{user.id}@invalid"
    user.password_hash = None
    user.calendar_token = None
    user.locale = None
    user.active = False
    user.anonymised_at = now
    if hasattr(user, "session_version"):  # existing sessions end (the session helper compares it)
        user.session_version = (user.session_version or 0) + 1
    db.session.flush()
    return report


def anonymise_user(actor: User, user_id: int, now: datetime, today: date, *, confirm_name: str | None) -> User:
    """Anonymise a leaver at once (coordinator). `confirm_name` must be the user's name as typed by the
    coordinator (the step is irreversible).

    Future enrolments (on runs that have begun too) are cancelled through the enrolment services first: a
    CANCEL for every course day still to come that they held is queued to the old address and goes out,
    without their name; the delivery job deletes it once sent. Then the account is anonymised.

    :raises NotAllowed: the actor is no coordinator.
    :raises DomainError: no such user; themself; the last active coordinator; already anonymised; the typed
        name does not match (field `confirm_name`).
    """
    from app.enrolment import services as enrolment

    if not actor.is_coordinator:
        raise NotAllowed(_("Kun kursuskoordinatoren kan gøre dette."))
    user = db.session.get(User, user_id)
    if user is None:
        raise DomainError(_("Brugeren findes ikke."))
    refusal = anonymisation_refusal(actor, user)
    if refusal:
        raise DomainError(refusal)
    if " ".join((confirm_name or "").split()).casefold() != " ".join(user.name.split()).casefold():
        raise DomainError(_("Skriv brugerens navn præcis, som det står ovenfor."), field="confirm_name")
    cancelled = 0
    for enrolment_id in _future_enrolment_ids(user.id, today):
        enrolment.cancel(actor, enrolment_id, now, today)
        cancelled += 1
    account = _anonymise_account(user, now)
    record(
        "user.anonymised",
        actor=actor,
        object_type="user",
        object_id=user.id,
        subject=user,
        now=now,
        details={"enrolments_cancelled": cancelled, **account.details()},
    )
    logger.info("user %s anonymised by user %s (%d enrolments cancelled)", user.id, actor.id, cancelled)
    return user
