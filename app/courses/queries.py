"""Read-side selects for the course pages: the run list (scoped per access level, filtered, sorted,
paginated in the database) and the choices of the run form and the filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import Select, and_, case, exists, func, select
from sqlalchemy.orm import selectinload

from app.accounts.models import StaffRole
from app.core.db import Page, paginate
from app.courses.models import CourseDay, CourseRun, Method, RunKind, RunStatus
from app.extensions import db
from app.programmes.models import Programme
from app.providers.models import Provider

if TYPE_CHECKING:
    from app.accounts.models import User

#: Sort keys of the run list; "-key" sorts descending.
RUN_SORT_KEYS = ("first_day", "title", "status")
DEFAULT_RUN_SORT = "-first_day"

#: The order statuses are listed in when sorting by status: the runs that need work first.
_STATUS_ORDER = {RunStatus.DRAFT: 0, RunStatus.PUBLISHED: 1, RunStatus.COMPLETED: 2, RunStatus.CANCELLED: 3}


@dataclass(frozen=True)
class RunFilters:
    """The run list's filters; None means "any"."""

    programme_id: int | None = None
    provider_id: int | None = None
    status: RunStatus | None = None
    kind: RunKind | None = None
    text: str | None = None
    year: int | None = None
    sort: str = DEFAULT_RUN_SORT


def normalise_sort(value: str | None) -> str:
    """A known sort key ("title", "-first_day", ...) or the default."""
    if value and value.lstrip("-") in RUN_SORT_KEYS and value.count("-") <= 1:
        return value
    return DEFAULT_RUN_SORT


def visible_runs(user: User, today: date) -> Select | None:
    """The runs `user` may see in the list, or None when there is nothing to show by rule.

    Coordinators: all. Providers: their own provider's, except drafts. Staff: published runs open to
    their staff role whose enrolment deadline has not passed (None for staff without a role).
    """
    stmt = select(CourseRun)
    if user.is_coordinator:
        return stmt
    if user.is_provider:
        if user.provider_id is None:
            return None
        return stmt.where(CourseRun.provider_id == user.provider_id, CourseRun.status != RunStatus.DRAFT)
    if user.is_staff and user.staff_role_id is not None:
        return stmt.where(
            CourseRun.status == RunStatus.PUBLISHED,
            CourseRun.enrolment_deadline >= today,
            CourseRun.eligible_roles.any(StaffRole.id == user.staff_role_id),
        )
    return None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_runs(user: User, filters: RunFilters, today: date, page: int, per_page: int) -> Page | None:
    """One page of the runs `user` may see, filtered and sorted; None when the user may see none.

    Provider, programme and days are loaded with selectinload: the number of queries is the same for
    3 runs or 300.
    """
    stmt = visible_runs(user, today)
    if stmt is None:
        return None
    if filters.programme_id is not None:
        stmt = stmt.where(CourseRun.programme_id == filters.programme_id)
    if filters.provider_id is not None:
        stmt = stmt.where(CourseRun.provider_id == filters.provider_id)
    if filters.status is not None:
        stmt = stmt.where(CourseRun.status == filters.status)
    if filters.kind is not None:
        stmt = stmt.where(CourseRun.kind == filters.kind)
    if filters.text:
        stmt = stmt.where(CourseRun.title.ilike(f"%{_escape_like(filters.text)}%", escape="\\"))
    if filters.year is not None:
        in_year = and_(
            CourseDay.course_run_id == CourseRun.id,
            CourseDay.day >= date(filters.year, 1, 1),
            CourseDay.day <= date(filters.year, 12, 31),
        )
        stmt = stmt.where(exists(select(CourseDay.id).where(in_year)))

    sort = normalise_sort(filters.sort)
    key, descending = sort.lstrip("-"), sort.startswith("-")
    first_day = CourseRun.first_day
    column = {
        "first_day": first_day,
        "title": func.lower(CourseRun.title),
        "status": case(_STATUS_ORDER, value=CourseRun.status, else_=9),
    }[key]
    order = [column.desc() if descending else column.asc()]
    if key != "first_day":
        order.append(first_day.desc())
    order.append(CourseRun.id.desc() if descending else CourseRun.id.asc())
    stmt = stmt.order_by(*order).options(
        selectinload(CourseRun.provider),
        selectinload(CourseRun.programme),
        selectinload(CourseRun.days),
    )
    return paginate(db.session, stmt, page, per_page)


def list_run_years() -> list[int]:
    """The years that have course days (for the year filter), newest first; one query."""
    first, last = db.session.execute(select(func.min(CourseDay.day), func.max(CourseDay.day))).one()
    if first is None:
        return []
    return list(range(last.year, first.year - 1, -1))


def programme_choices() -> list:
    """(id, name) rows of every programme, newest first, for a filter's choices (no ORM objects to build)."""
    return list(
        db.session.execute(select(Programme.id, Programme.name).order_by(Programme.starts_on.desc(), Programme.name))
    )


def provider_choices() -> list:
    """(id, name) rows of every provider by name, for a filter's choices."""
    return list(db.session.execute(select(Provider.id, Provider.name).order_by(Provider.name)))


def list_programmes() -> list[Programme]:
    return list(db.session.scalars(select(Programme).order_by(Programme.starts_on.desc(), Programme.name)))


def list_providers(active_only: bool = False, include_id: int | None = None) -> list[Provider]:
    """Providers by name; with `active_only`, the active ones plus `include_id` (a run's current one)."""
    stmt = select(Provider).order_by(Provider.name)
    if active_only:
        stmt = stmt.where(Provider.active.is_(True) | (Provider.id == include_id))
    return list(db.session.scalars(stmt))


def list_methods() -> list[Method]:
    return list(db.session.scalars(select(Method).order_by(Method.name)))


def list_staff_roles() -> list[StaffRole]:
    return list(db.session.scalars(select(StaffRole).order_by(StaffRole.name)))
