"""What the read API answers: each resource read in a fixed number of statements per page and turned into
the JSON objects docs/api.md and the OpenAPI document (`openapi.py`) describe. Reads only; nothing here writes.

Rules reused, not repeated: completion is "a confirmed enrolment present on every day of a run that is not
cancelled" (`enrolment.services.completed_ids`, the rule of `programmes.dashboard`), waiting-list positions come
from `enrolment.queries.waitlist_positions`, and a programme's figures are `programmes.dashboard.programme_figures`
— the same numbers as the dashboard and the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import joinedload, selectinload

from app.accounts.models import StaffRole, Unit, User, normalise_email
from app.core import clock
from app.courses.models import CourseDay, CourseRun, Method, RunStatus, run_methods
from app.enrolment.models import Attendance, Enrolment, EnrolmentStatus
from app.enrolment.queries import waitlist_positions
from app.extensions import db
from app.programmes.dashboard import BreakdownRow, ProgrammeFigures, programme_figures
from app.programmes.models import Programme
from app.providers.models import Provider
from app.scim.models import ScimUser


@dataclass
class ResultPage:
    """One page of a list: its JSON items, the id the next page starts after (None: the last page), and the
    people it showed (user ids, for the audit log)."""

    items: list[dict[str, Any]]
    next_after: int | None
    people: set[int] = field(default_factory=set)


def _page(rows: Sequence[Any], limit: int, key: Callable[[Any], int]) -> tuple[Sequence[Any], int | None]:
    """Split limit+1 fetched rows into the page and where the next one starts."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, key(rows[-1])
    return rows, None


# --------------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------------


def iso_date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def iso_datetime(value: datetime | None) -> str | None:
    """A stored timestamp as RFC 3339 in UTC ("2026-12-07T20:15:00Z"), whole seconds."""
    if value is None:
        return None
    return clock.as_utc(value).astimezone(clock.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def local_datetime(day: date, at: time) -> str:
    """A course day's wall-clock time as RFC 3339 with the municipality's offset ("2026-03-02T09:00:00+01:00")."""
    return datetime.combine(day, at, tzinfo=clock.local_tz()).replace(microsecond=0).isoformat()


def _ref(id_: int, name: str) -> dict[str, Any]:
    return {"id": id_, "name": name}


# --------------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------------


def _waiting_counts(run_ids: list[int]) -> dict[int, int]:
    if not run_ids:
        return {}
    rows = db.session.execute(
        select(Enrolment.course_run_id, func.count())
        .where(Enrolment.course_run_id.in_(run_ids), Enrolment.status == EnrolmentStatus.WAITLISTED)
        .group_by(Enrolment.course_run_id)
    )
    return {run_id: count for run_id, count in rows}


def run_json(run: CourseRun, waiting: int) -> dict[str, Any]:
    """A run as the API shows it (its programme, provider and days must be loaded)."""
    return {
        "id": run.id,
        "title": run.title,
        "kind": run.kind.value,
        "status": run.status.value,
        "programme": _ref(run.programme.id, run.programme.name),
        "provider": _ref(run.provider.id, run.provider.name),
        "venue": run.venue,
        "enrolment_deadline": iso_date(run.enrolment_deadline),
        "requires_approval": run.requires_approval,
        "price_ore": run.price_ore,
        "seats": {
            "capacity": run.capacity,
            "taken": run.seats_taken,
            "available": run.seats_left,
            "waiting": waiting,
        },
        "first_day": iso_date(run.first_day),
        "days": [
            {
                "position": day.position,
                "kind": day.kind.value,
                "date": iso_date(day.day),
                "starts_at": local_datetime(day.day, day.starts_at),
                "ends_at": local_datetime(day.day, day.ends_at),
                "venue": day.venue or run.venue,
            }
            for day in run.days
        ],
        "updated_at": iso_datetime(run.updated_at),
    }


def _runs_query():
    return select(CourseRun).options(
        joinedload(CourseRun.programme), joinedload(CourseRun.provider), selectinload(CourseRun.days)
    )


def list_runs(after: int, limit: int, *, status: str | None = None, programme_id: int | None = None) -> ResultPage:
    """Runs in id order after `after`, optionally of one status or programme: three statements per page."""
    stmt = _runs_query().where(CourseRun.id > after)
    if status is not None:
        stmt = stmt.where(CourseRun.status == RunStatus(status))
    if programme_id is not None:
        stmt = stmt.where(CourseRun.programme_id == programme_id)
    runs, next_after = _page(list(db.session.scalars(stmt.order_by(CourseRun.id).limit(limit + 1))), limit, _id)
    waiting = _waiting_counts([run.id for run in runs])
    return ResultPage([run_json(run, waiting.get(run.id, 0)) for run in runs], next_after)


def get_run(run_id: int) -> dict[str, Any] | None:
    """One run, or None when there is no such run."""
    run = db.session.scalars(_runs_query().where(CourseRun.id == run_id)).first()
    if run is None:
        return None
    return run_json(run, _waiting_counts([run.id]).get(run.id, 0))


def _id(obj) -> int:
    return obj.id


# --------------------------------------------------------------------------------------------------
# A run's participants
# --------------------------------------------------------------------------------------------------


def person_json(
    user_id: int, name: str, email: str, anonymised: bool, employee_number: str | None = None
) -> dict[str, Any]:
    """A person: Kursusportalen's id, name, work address, and the directory's employee number when the person
    was provisioned from it (SCIM's enterprise employeeNumber; None otherwise)."""
    return {
        "id": user_id,
        "name": name,
        "email": email,
        "employee_number": employee_number,
        "anonymised": anonymised,
    }


def list_participants(run_id: int, after: int, limit: int) -> ResultPage | None:
    """A run's enrolments (every status: the history too) in enrolment id order, with the person, waiting-list
    position, attendance per course day and completion; None when there is no such run. Five statements per
    page: the run's days, the enrolments joined to their people, the waiting-list positions, the page's
    attendance marks."""
    days = list(
        db.session.scalars(select(CourseDay).where(CourseDay.course_run_id == run_id).order_by(CourseDay.position))
    )
    if not days and db.session.get(CourseRun, run_id) is None:
        return None
    rows: Sequence[Any] = db.session.execute(
        select(
            Enrolment.id,
            Enrolment.status,
            Enrolment.created_at,
            Enrolment.status_changed_at,
            User.id,
            User.name,
            User.email,
            User.anonymised_at,
            StaffRole.name,
            Unit.name,
            ScimUser.employee_number,
        )
        .join(User, User.id == Enrolment.user_id)
        .outerjoin(ScimUser, ScimUser.user_id == User.id)
        .outerjoin(StaffRole, StaffRole.id == User.staff_role_id)
        .outerjoin(Unit, Unit.id == User.unit_id)
        .where(Enrolment.course_run_id == run_id, Enrolment.id > after)
        .order_by(Enrolment.id)
        .limit(limit + 1)
    ).all()
    rows, next_after = _page(rows, limit, lambda row: row[0])
    ids = [row[0] for row in rows]
    positions = waitlist_positions([run_id]) if any(r[1] == EnrolmentStatus.WAITLISTED for r in rows) else {}
    marks: dict[tuple[int, int], bool] = {}
    if ids:
        marks = {
            (e, d): p
            for e, d, p in db.session.execute(
                select(Attendance.enrolment_id, Attendance.course_day_id, Attendance.present).where(
                    Attendance.enrolment_id.in_(ids)
                )
            )
        }
    items = []
    for eid, status, created, changed, user_id, name, email, anonymised_at, role, unit, number in rows:
        completed = status == EnrolmentStatus.CONFIRMED and bool(days) and all(marks.get((eid, d.id)) for d in days)
        items.append(
            {
                "enrolment_id": eid,
                "person": person_json(user_id, name, email, anonymised_at is not None, number),
                "staff_role": role,
                "unit": unit,
                "status": EnrolmentStatus(status).value,
                "waiting_list_position": positions.get(eid),
                "enrolled_at": iso_datetime(created),
                "status_changed_at": iso_datetime(changed),
                "attendance": [
                    {"day_position": d.position, "date": iso_date(d.day), "present": marks.get((eid, d.id))}
                    for d in days
                ],
                "completed": completed,
            }
        )
    return ResultPage(items, next_after, {row[4] for row in rows})


# --------------------------------------------------------------------------------------------------
# Completions (the HR system's competence record)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonFilter:
    """Whose completions: one person by id, by e-mail address (compared normalised) or by the directory's
    employee number (compared as sent), or everybody."""

    person_id: int | None = None
    email: str | None = None
    employee_number: str | None = None


def list_completions(after: int, limit: int, person: PersonFilter | None = None) -> ResultPage:
    """Completed courses in enrolment id order: a confirmed enrolment present on every day of a run that is not
    cancelled (the programme figures' rule), dated by the run's last day (the follow-up day). Anonymised
    placeholders are left out: they are nobody's record. Two statements per page (the completions, the methods
    their runs taught)."""
    days = (
        select(func.count(CourseDay.id))
        .where(CourseDay.course_run_id == Enrolment.course_run_id)
        .correlate(Enrolment)
        .scalar_subquery()
    )
    present = (
        select(func.count(Attendance.id))
        .join(CourseDay, CourseDay.id == Attendance.course_day_id)
        .where(
            Attendance.enrolment_id == Enrolment.id,
            Attendance.present.is_(True),
            CourseDay.course_run_id == Enrolment.course_run_id,
        )
        .correlate(Enrolment)
        .scalar_subquery()
    )
    last_day = (
        select(func.max(CourseDay.day))
        .where(CourseDay.course_run_id == Enrolment.course_run_id)
        .correlate(Enrolment)
        .scalar_subquery()
    )
    stmt = (
        select(
            Enrolment.id,
            User.id,
            User.name,
            User.email,
            CourseRun.id,
            CourseRun.title,
            CourseRun.status,
            Programme.id,
            Programme.name,
            Provider.id,
            Provider.name,
            last_day.label("completed_on"),
            ScimUser.employee_number,
        )
        .join(User, User.id == Enrolment.user_id)
        .outerjoin(ScimUser, ScimUser.user_id == User.id)
        .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
        .join(Programme, Programme.id == CourseRun.programme_id)
        .join(Provider, Provider.id == CourseRun.provider_id)
        .where(
            Enrolment.id > after,
            Enrolment.status == EnrolmentStatus.CONFIRMED,
            CourseRun.status != RunStatus.CANCELLED,
            User.anonymised_at.is_(None),
            and_(days > 0, present == days),
        )
    )
    if person is not None and person.person_id is not None:
        stmt = stmt.where(Enrolment.user_id == person.person_id)
    if person is not None and person.email is not None:
        stmt = stmt.where(User.email == normalise_email(person.email))
    if person is not None and person.employee_number is not None:
        stmt = stmt.where(ScimUser.employee_number == person.employee_number)
    rows: Sequence[Any] = db.session.execute(stmt.order_by(Enrolment.id).limit(limit + 1)).all()
    rows, next_after = _page(rows, limit, lambda row: row[0])
    methods = _methods_of({row[4] for row in rows})
    items = [
        {
            "enrolment_id": eid,
            "person": person_json(user_id, name, email, False, number),
            "run": {"id": run_id, "title": title, "status": RunStatus(run_status).value},
            "programme": _ref(programme_id, programme_name),
            "provider": _ref(provider_id, provider_name),
            "methods": methods.get(run_id, []),
            "completed_on": iso_date(completed_on),
        }
        for (
            eid,
            user_id,
            name,
            email,
            run_id,
            title,
            run_status,
            programme_id,
            programme_name,
            provider_id,
            provider_name,
            completed_on,
            number,
        ) in rows
    ]
    return ResultPage(items, next_after, {row[1] for row in rows})


def _methods_of(run_ids: Iterable[int]) -> dict[int, list[str]]:
    run_ids = sorted(run_ids)
    if not run_ids:
        return {}
    result: dict[int, list[str]] = {}
    rows: Any = db.session.execute(
        select(run_methods.c.course_run_id, Method.name)
        .join(Method, Method.id == run_methods.c.method_id)
        .where(run_methods.c.course_run_id.in_(run_ids))
        .order_by(run_methods.c.course_run_id, Method.name)
    )
    for run_id, name in rows:
        result.setdefault(run_id, []).append(name)
    return result


# --------------------------------------------------------------------------------------------------
# Programmes and their figures
# --------------------------------------------------------------------------------------------------


def programme_json(programme: Programme) -> dict[str, Any]:
    return {
        "id": programme.id,
        "name": programme.name,
        "starts_on": iso_date(programme.starts_on),
        "ends_on": iso_date(programme.ends_on),
        "target_deadline": iso_date(programme.target_deadline),
        "target_runs": programme.target_runs,
        "target_completed_staff": programme.target_completed_staff,
    }


def list_programmes(after: int, limit: int) -> ResultPage:
    """Programmes in id order: one statement per page."""
    fetched = db.session.scalars(select(Programme).where(Programme.id > after).order_by(Programme.id).limit(limit + 1))
    programmes, next_after = _page(fetched.all(), limit, _id)
    return ResultPage([programme_json(p) for p in programmes], next_after)


def _breakdown(rows: list[BreakdownRow]) -> list[dict[str, Any]]:
    return [
        {"label": row.label, "label_en": row.label_en, "completed": row.completed, "enrolled": row.enrolled}
        for row in rows
    ]


def figures_json(figures: ProgrammeFigures) -> dict[str, Any]:
    """A programme's figures (`programme_figures`: the dashboard's and the report's numbers) as JSON."""
    activity, result, effect = figures.activity, figures.result, figures.effect
    return {
        "programme": {"id": figures.programme_id, "name": figures.name},
        "measured_on": iso_date(figures.today),
        "target_deadline": iso_date(figures.deadline),
        "deadline_passed": figures.deadline_passed,
        "activity": {
            "target": activity.target,
            "completed": activity.completed,
            "completed_late": activity.completed_late,
            "planned": activity.planned,
            "published": activity.published,
            "running": activity.running,
            "can_still_count": activity.can_still_count,
            "too_late": activity.too_late,
            "cancelled": activity.cancelled,
            "status": activity.status.value,
        },
        "result": {
            "target": result.target,
            "completed": result.completed,
            "enrolled": result.enrolled,
            "not_completed": result.not_completed,
            "completed_late": result.completed_late,
            "seats_that_can_count": result.seats_that_can_count,
            "status": result.status.value,
            "by_role": _breakdown(result.by_role),
            "by_unit": _breakdown(result.by_unit),
            "by_provider": _breakdown(result.by_provider),
            "by_month": [{"year": m.year, "month": m.month, "completed": m.completed} for m in result.by_month],
        },
        "effect": {
            "invited": effect.invited,
            "answered": effect.answered,
            "response_rate": effect.response_rate,
            "before_regular": effect.before_regular,
            "before_answers": effect.before_answers,
            "since_regular": effect.since_regular,
            "since_answers": effect.since_answers,
            "status": effect.status.value,
            "methods": [
                {
                    "method_id": m.method_id,
                    "name": m.name,
                    "responses": m.responses,
                    "before": dict(m.before),
                    "since": dict(m.since),
                }
                for m in effect.methods
            ],
        },
        "budget": [
            {
                "provider": _ref(line.provider_id, line.provider_name),
                "year": line.year,
                "allocated_ore": line.allocated_ore,
                "committed_ore": line.committed_ore,
                "spent_ore": line.spent_ore,
                "remainder_ore": line.remainder_ore,
                "has_allocation": line.has_allocation,
            }
            for line in figures.budget
        ],
        "runs": [
            {
                "id": run.id,
                "title": run.title,
                "provider": _ref(run.provider_id, run.provider_name),
                "status": run.status.value,
                "first_day": iso_date(run.first_day),
                "counts_on": iso_date(run.counts_on),
                "capacity": run.capacity,
                "confirmed": run.confirmed,
                "completed_staff": run.completed_staff,
                "price_ore": run.price_ore,
                "in_time": run.in_time,
            }
            for run in figures.runs
        ],
    }


def get_programme_figures(programme_id: int, today: date) -> dict[str, Any] | None:
    """The programme's figures measured on `today`, or None when there is no such programme."""
    try:
        figures = programme_figures(programme_id, today)
    except LookupError:
        return None
    return figures_json(figures)
