"""The competence overview (kompetenceoverblik, issue 24): per unit and below, staff × methods — who has
completed which method and when, and who is enrolled on a run that teaches it.

Who may see which unit: a coordinator every unit; a leader the units they lead (app.accounts.directory.leaders, the
one rule: a leader leads the sub-units without leaders of their own). The overview of a unit shows the units
below it that the viewer may see, so a centre head does not see a sub-team that has its own leader, just as
that team's leader is the one who approves its courses.

The rules are the dashboard's (app.programmes.dashboard), not a second version of them:

- **Methods** are those taught by a run (a run's methods, `course_run_methods`).
- **Completed**: a confirmed enrolment on a run that is not cancelled, marked present on every day of the run
  (`dashboard.present_every_day`), dated to the run's follow-up day (its last day when it has none). A person
  who completed two runs teaching the method shows the earliest date.
- **Enrolled** (upcoming): not completed the method, and an active enrolment (confirmed, waiting list or
  awaiting approval) on a run that teaches it, is neither cancelled nor completed and whose last day is today
  or later; the earliest such run's first day is shown.
- **People**: active staff users, not anonymised, whose unit is in the overview.

A fixed number of statements whatever the number of people: the methods, the
people (one joined SELECT of plain columns), the enrolments with their run's days and the person's
attendance count (one SELECT).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import cast

from sqlalchemy import exists, func, select

from app.accounts.directory.leaders import Leadership
from app.accounts.models import StaffRole, User
from app.core.access import AccessLevel
from app.courses.models import CourseRun, Method, RunStatus, run_methods
from app.enrolment.models import ACTIVE_STATUSES, Enrolment, EnrolmentStatus
from app.extensions import db
from app.programmes.dashboard import days_per_run, days_present, present_every_day


@dataclass(frozen=True)
class UnitChoice:
    id: int
    path: str
    depth: int


@dataclass(frozen=True)
class MethodColumn:
    id: int
    name: str
    name_en: str | None


@dataclass
class Cell:
    """One person × one method: completed on a date, or enrolled (status, first day), or neither."""

    completed_on: date | None = None
    enrolled: EnrolmentStatus | None = None
    starts_on: date | None = None


@dataclass
class PersonRow:
    user_id: int
    name: str
    staff_role: str | None
    staff_role_en: str | None
    unit: str
    cells: dict[int, Cell] = field(default_factory=dict)

    def cell(self, method_id: int) -> Cell:
        return self.cells.get(method_id) or Cell()


@dataclass(frozen=True)
class Overview:
    unit_id: int
    unit_path: str
    #: The units the overview covers, for the filter (the unit itself first, then those below it, tree order).
    units: list[UnitChoice]
    methods: list[MethodColumn]
    rows: list[PersonRow]
    today: date

    def completed_count(self, method_id: int) -> int:
        return sum(1 for row in self.rows if row.cell(method_id).completed_on is not None)

    def enrolled_count(self, method_id: int) -> int:
        return sum(1 for row in self.rows if row.cell(method_id).enrolled is not None)


def visible_units(leadership: Leadership, viewer: User) -> set[int]:
    """The units `viewer` may see in the overview: all for a coordinator, the units they lead for staff."""
    if viewer.access_level == AccessLevel.COORDINATOR:
        return set(leadership.parent)
    if viewer.access_level == AccessLevel.STAFF:
        return leadership.units_led_by(viewer.id)
    return set()


def unit_choices(leadership: Leadership, unit_ids: set[int]) -> list[UnitChoice]:
    """`unit_ids` in tree order (by path), indented by their depth below the topmost of them."""
    paths = {unit_id: leadership.path(unit_id) for unit_id in unit_ids}
    ordered = sorted(unit_ids, key=lambda unit_id: paths[unit_id].casefold())
    top = min((paths[u].count(" › ") for u in ordered), default=0)
    return [UnitChoice(u, paths[u], paths[u].count(" › ") - top) for u in ordered]


def top_units(leadership: Leadership, unit_ids: set[int]) -> list[UnitChoice]:
    """The units of `unit_ids` whose parent is not among them (the landing page's list)."""
    tops = {u for u in unit_ids if leadership.parent.get(u) not in unit_ids}
    return unit_choices(leadership, tops)


def competence_overview(
    leadership: Leadership,
    unit_id: int,
    visible: set[int],
    today: date,
    *,
    role_id: int | None = None,
    sub_unit_id: int | None = None,
) -> Overview:
    """The overview of `unit_id` and the units below it that are in `visible`; narrowed to one of those
    (`sub_unit_id`, with the units below it) and to one staff role (`role_id`) when given."""
    scope = leadership.subtree(unit_id) & visible
    shown_units = leadership.subtree(sub_unit_id) & scope if sub_unit_id in scope else scope
    methods = [
        MethodColumn(m.id, m.name, m.name_en)
        for m in db.session.execute(
            select(Method.id, Method.name, Method.name_en)
            .where(exists().where(run_methods.c.method_id == Method.id))
            .order_by(Method.name)
        )
    ]
    people_filter = [
        User.access_level == AccessLevel.STAFF,
        User.active.is_(True),
        User.anonymised_at.is_(None),
        User.unit_id.in_(shown_units),
    ]
    if role_id is not None:
        people_filter.append(User.staff_role_id == role_id)
    rows = {
        r.id: PersonRow(r.id, r.name, r.role, r.role_en, leadership.path(r.unit_id))
        for r in db.session.execute(
            select(User.id, User.name, User.unit_id, StaffRole.name.label("role"), StaffRole.name_en.label("role_en"))
            .outerjoin(StaffRole, StaffRole.id == User.staff_role_id)
            .where(*people_filter)
            .order_by(User.name, User.id)
        )
    }
    if rows and methods:
        _fill_cells(rows, people_filter, today)
    return Overview(
        unit_id=unit_id,
        unit_path=leadership.path(unit_id),
        units=unit_choices(leadership, scope),
        methods=methods,
        rows=list(rows.values()),
        today=today,
    )


def _fill_cells(rows: dict[int, PersonRow], people_filter: list, today: date) -> None:
    """One statement: every active enrolment of the people on a run that teaches a method, with what the
    completion rule needs."""
    days = days_per_run()
    n_present = days_present().scalar_subquery()
    counts_on = func.coalesce(days.c.follow_up_day, days.c.last_day)
    people = select(User.id).where(*people_filter)
    records = db.session.execute(
        select(
            Enrolment.user_id,
            run_methods.c.method_id,
            Enrolment.status,
            CourseRun.status.label("run_status"),
            days.c.first_day,
            days.c.last_day,
            counts_on.label("counts_on"),
            present_every_day(days.c.n_days, n_present).label("done"),
        )
        .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
        .join(run_methods, run_methods.c.course_run_id == CourseRun.id)
        .join(days, days.c.run_id == CourseRun.id)
        .where(
            Enrolment.user_id.in_(people),
            Enrolment.status.in_(ACTIVE_STATUSES),
            CourseRun.status != RunStatus.CANCELLED,
        )
    )
    upcoming: dict[tuple[int, int], tuple[date, EnrolmentStatus]] = {}
    for record in records:
        user_id, method_id = int(record.user_id), int(record.method_id)
        status: EnrolmentStatus = record.status
        on, first_day, last_day = cast(date, record.counts_on), cast(date, record.first_day), record.last_day
        cell = rows[user_id].cells.setdefault(method_id, Cell())
        if status == EnrolmentStatus.CONFIRMED and record.done:
            if cell.completed_on is None or on < cell.completed_on:
                cell.completed_on = on
        elif record.run_status != RunStatus.COMPLETED and last_day is not None and last_day >= today:
            key = (user_id, method_id)
            if key not in upcoming or first_day < upcoming[key][0]:
                upcoming[key] = (first_day, status)
    for (user_id, method_id), (first_day, status) in upcoming.items():
        cell = rows[user_id].cells[method_id]
        if cell.completed_on is None:
            cell.enrolled, cell.starts_on = status, first_day
