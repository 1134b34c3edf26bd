"""Certificates of completion: who has one, its verification code, the check, and the withdrawal.

- **Who**: a person has a certificate for a run when they *completed* it, the one rule of the programme
  dashboard (app/programmes/dashboard.py): a confirmed enrolment marked present on every day of the run (both
  teaching days and the follow-up day, `enrolment.services.completed_ids`) in a run that is not cancelled,
  dated to the run's last day (the follow-up day). People whose data has been anonymised have none.
- **The code** (`Certificate.code`): 12 characters drawn with `secrets` from 31 letters and digits that can't
  be mistaken for each other (no 0/O, 1/I/L): about 59 bits, so guessing one is hopeless even without the
  verification page's rate limit. Shown and printed in groups of four ("7KQM-X3TB-9HWD"); typed codes are read
  back without spaces, dashes and case. Made the first time the certificate is downloaded, then kept.
- **The check** (`verify`): a known code answers with the name, the run's title and the completion date as
  the records say *now*, or "no longer valid" (without the name) when the certificate was withdrawn, the
  person's or run's data anonymised, or the attendance corrected since so the person no longer completed.
- **Withdrawal** (`withdraw_for_user`, `withdraw_for_run`): called by app.privacy in the same transaction as
  the anonymisation.

Services never commit (the request's transaction owner does).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exc, select, update
from sqlalchemy.orm import joinedload, selectinload

from app.accounts.models import User
from app.certificates.models import Certificate
from app.core.db import rows_affected
from app.courses.models import CourseRun, RunStatus
from app.enrolment import services as enrolment_services
from app.enrolment.models import Enrolment, EnrolmentStatus
from app.extensions import db
from app.reporting.exports import danish_sort_key

logger = logging.getLogger(__name__)

#: Letters and digits nobody confuses when reading a printed code aloud or typing it: no 0/O, 1/I/L.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12
GROUP = 4


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def display_code(code: str) -> str:
    """ "7KQM-X3TB-9HWD": the stored code in groups of four, as printed and shown."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalise_code(text: str | None) -> str | None:
    """A typed code as stored (spaces and dashes dropped, upper case), or None when it cannot be one."""
    code = "".join((text or "")[:100].split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


# --------------------------------------------------------------------------------------------------
# Who has completed (the dashboard's rule)
# --------------------------------------------------------------------------------------------------


def has_completed(enrolment: Enrolment) -> bool:
    """Whether the person completed the run with this enrolment (see the module docstring)."""
    run = enrolment.run
    if enrolment.status != EnrolmentStatus.CONFIRMED or run.status == RunStatus.CANCELLED:
        return False
    if run.anonymised_at is not None or enrolment.user.anonymised_at is not None:
        return False
    marks = {(a.enrolment_id, a.course_day_id): a.present for a in enrolment.attendances}
    return bool(enrolment_services.completed_ids(run.days, [enrolment.id], marks))


def completed_enrolments(run: CourseRun) -> list[Enrolment]:
    """The run's enrolments whose person completed it, with their people, in name order (three queries)."""
    if run.status == RunStatus.CANCELLED or run.anonymised_at is not None:
        return []
    confirmed = list(
        db.session.scalars(
            select(Enrolment)
            .join(User, User.id == Enrolment.user_id)
            .where(
                Enrolment.course_run_id == run.id,
                Enrolment.status == EnrolmentStatus.CONFIRMED,
                User.anonymised_at.is_(None),
            )
            .options(joinedload(Enrolment.user))
        )
    )
    done = enrolment_services.completed_ids(run.days, [e.id for e in confirmed], enrolment_services.attendance_map(run))
    return sorted((e for e in confirmed if e.id in done), key=lambda e: (danish_sort_key(e.user.name), e.id))


def own_completed_enrolment(user: User, enrolment_id: int) -> Enrolment | None:
    """`user`'s enrolment `enrolment_id` if they completed its run; None for anybody else's or not completed."""
    enrolment = db.session.scalar(
        select(Enrolment)
        .where(Enrolment.id == enrolment_id, Enrolment.user_id == user.id)
        .options(
            selectinload(Enrolment.attendances),
            joinedload(Enrolment.run).selectinload(CourseRun.days),
            joinedload(Enrolment.user),
        )
    )
    return enrolment if enrolment is not None and has_completed(enrolment) else None


def may_download_own(user: User, enrolment_id: int) -> bool:
    """The access check of the staff member's own certificate: theirs and completed, else 404."""
    return own_completed_enrolment(user, enrolment_id) is not None


# --------------------------------------------------------------------------------------------------
# Issuing: one code per completed enrolment, made on first download
# --------------------------------------------------------------------------------------------------


def issue(enrolments: Iterable[Enrolment], now: datetime) -> dict[int, Certificate]:
    """enrolment id -> its certificate, made now for those that have none yet. The caller has checked that
    each enrolment completed its run. Two downloads at once of the same new certificate end with one row:
    the second insert fails on the unique enrolment_id inside its savepoint and reads the first one's."""
    wanted = [e.id for e in enrolments]
    if not wanted:
        return {}
    found = {
        c.enrolment_id: c for c in db.session.scalars(select(Certificate).where(Certificate.enrolment_id.in_(wanted)))
    }
    for enrolment_id in wanted:
        if enrolment_id in found:
            continue
        certificate = Certificate(enrolment_id=enrolment_id, code=new_code(), issued_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(certificate)
        except exc.IntegrityError:
            existing = db.session.scalar(select(Certificate).where(Certificate.enrolment_id == enrolment_id))
            if existing is None:  # the code itself collided (about 1 in 2^59): draw again
                certificate = Certificate(enrolment_id=enrolment_id, code=new_code(), issued_at=now)
                with db.session.begin_nested():
                    db.session.add(certificate)
                existing = certificate
            certificate = existing
        found[enrolment_id] = certificate
    return found


# --------------------------------------------------------------------------------------------------
# The public check
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """The answer to a known code. `valid` False: withdrawn or no longer true; nothing else is told then."""

    id: int
    valid: bool
    name: str | None = None
    course: str | None = None
    completed_on: date | None = None
    user_id: int | None = None  # for the audit log only, never shown


def verify(code: str) -> Verification | None:
    """The certificate with `code` (already normalised), as the records say now; None for an unknown code."""
    certificate = db.session.scalar(
        select(Certificate)
        .where(Certificate.code == code)
        .options(
            joinedload(Certificate.enrolment).selectinload(Enrolment.attendances),
            joinedload(Certificate.enrolment).joinedload(Enrolment.run).selectinload(CourseRun.days),
            joinedload(Certificate.enrolment).joinedload(Enrolment.user),
        )
    )
    if certificate is None:
        return None
    enrolment = certificate.enrolment
    if certificate.withdrawn_at is not None or not has_completed(enrolment):
        return Verification(id=certificate.id, valid=False)
    run = enrolment.run
    return Verification(
        id=certificate.id,
        valid=True,
        name=enrolment.user.name,
        course=run.title,
        completed_on=run.last_day,
        user_id=enrolment.user_id,
    )


# --------------------------------------------------------------------------------------------------
# Withdrawal (app.privacy)
# --------------------------------------------------------------------------------------------------


def _withdraw(enrolment_ids, now: datetime) -> int:
    result = db.session.execute(
        update(Certificate)
        .where(Certificate.enrolment_id.in_(enrolment_ids), Certificate.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
        .execution_options(synchronize_session=False)
    )
    return rows_affected(result)


def withdraw_for_user(user_id: int, now: datetime) -> int:
    """Withdraw every certificate of the person's enrolments (a leaver anonymised). Returns how many."""
    return _withdraw(select(Enrolment.id).where(Enrolment.user_id == user_id), now)


def withdraw_for_run(run_id: int, now: datetime) -> int:
    """Withdraw every certificate of the run (its participants anonymised). Returns how many."""
    return _withdraw(select(Enrolment.id).where(Enrolment.course_run_id == run_id), now)


# --------------------------------------------------------------------------------------------------
# What a certificate says
# --------------------------------------------------------------------------------------------------


def day_hours(starts_at, ends_at) -> float:
    """The hours from `starts_at` to `ends_at` (times of one day)."""
    delta = datetime.combine(date.min, ends_at) - datetime.combine(date.min, starts_at)
    return max(delta, timedelta(0)).total_seconds() / 3600
