"""Read-side selects for the course pages: the run list (scoped per access level, filtered, sorted,
paginated in the database) and the choices of the run form and the filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import Date, Select, and_, case, exists, extract, func, literal_column, null, or_, select, union_all
from sqlalchemy.orm import joinedload, selectinload, with_expression

from app.accounts.models import StaffRole
from app.core.data_versions import VersionedCache
from app.core.db import Page, paginate
from app.courses.models import RUN_LIST_CHOICES, CourseDay, CourseRun, Method, RunKind, RunStatus, run_methods
from app.enrolment.models import Enrolment, EnrolmentStatus
from app.extensions import db
from app.programmes.models import Programme
from app.providers.models import Provider

if TYPE_CHECKING:
    from app.accounts.models import User

#: Sort keys of the run list; "-key" sorts descending.
RUN_SORT_KEYS = ("first_day", "title", "status")
#: Coordinators and providers see the newest runs first; staff, who look for a course to take, the soonest.
DEFAULT_RUN_SORT = "-first_day"
STAFF_RUN_SORT = "first_day"

#: The order statuses are listed in when sorting by status: the runs that need work first.
_STATUS_ORDER = {RunStatus.DRAFT: 0, RunStatus.PUBLISHED: 1, RunStatus.COMPLETED: 2, RunStatus.CANCELLED: 3}


@dataclass(frozen=True)
class RunFilters:
    """The run list's filters; None means "any"."""

    programme_id: int | None = None
    provider_id: int | None = None
    method_id: int | None = None
    status: RunStatus | None = None
    kind: RunKind | None = None
    #: Searched for in the title and the description.
    text: str | None = None
    #: Searched for in the run's venue and its days' own venues.
    venue: str | None = None
    year: int | None = None
    #: (year, month) the run's first day falls in.
    month: tuple[int, int] | None = None
    #: Only runs with a seat left.
    free_only: bool = False
    sort: str = DEFAULT_RUN_SORT


def normalise_sort(value: str | None, default: str = DEFAULT_RUN_SORT, keys: tuple[str, ...] = RUN_SORT_KEYS) -> str:
    """A known sort key ("title", "-first_day", ...) among `keys`, or `default`."""
    if value and value.lstrip("-") in keys and value.count("-") <= 1:
        return value
    return default


def run_sort_for(user: User, value: str | None) -> str:
    """The run list's sort for `user`: staff sort by first day or title (they have no status column) and
    start with the soonest run; the others may sort by status too and start with the newest."""
    if user.is_staff:
        return normalise_sort(value, STAFF_RUN_SORT, ("first_day", "title"))
    return normalise_sort(value)


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


def waitlist_length():
    """The run's waiting-list length as a correlated scalar subquery (one statement for the whole page)."""
    return (
        select(func.count(Enrolment.id))
        .where(Enrolment.course_run_id == CourseRun.id, Enrolment.status == EnrolmentStatus.WAITLISTED)
        .correlate(CourseRun)
        .scalar_subquery()
    )


def list_runs(user: User, filters: RunFilters, today: date, page: int, per_page: int) -> Page | None:
    """One page of the runs `user` may see, filtered and sorted; None when the user may see none.

    Provider and programme are joined, days loaded with selectinload, and coordinators' and providers' waiting-list
    lengths (`CourseRun.waitlist_length`) come with the runs' own select: the number of queries is the same
    for 3 runs or 300.
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
    if filters.method_id is not None:
        stmt = stmt.where(
            exists(
                select(run_methods.c.course_run_id).where(
                    run_methods.c.course_run_id == CourseRun.id, run_methods.c.method_id == filters.method_id
                )
            )
        )
    if filters.text:
        pattern = f"%{_escape_like(filters.text)}%"
        stmt = stmt.where(
            or_(CourseRun.title.ilike(pattern, escape="\\"), CourseRun.description.ilike(pattern, escape="\\"))
        )
    if filters.venue:
        pattern = f"%{_escape_like(filters.venue)}%"
        day_venue = select(CourseDay.id).where(
            CourseDay.course_run_id == CourseRun.id, CourseDay.venue.ilike(pattern, escape="\\")
        )
        stmt = stmt.where(or_(CourseRun.venue.ilike(pattern, escape="\\"), exists(day_venue)))
    if filters.free_only:
        stmt = stmt.where(CourseRun.seats_taken < CourseRun.capacity)
    if filters.month is not None:
        year, month = filters.month
        start = date(year, month, 1)
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        stmt = stmt.where(CourseRun.first_day >= start, CourseRun.first_day < end)
    if filters.year is not None:
        in_year = and_(
            CourseDay.course_run_id == CourseRun.id,
            CourseDay.day >= date(filters.year, 1, 1),
            CourseDay.day <= date(filters.year, 12, 31),
        )
        stmt = stmt.where(exists(select(CourseDay.id).where(in_year)))

    sort = normalise_sort(filters.sort, filters.sort)
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
    # The provider and programme (one each per run) come joined in the runs' own select, the days in one more.
    stmt = stmt.order_by(*order).options(
        joinedload(CourseRun.provider, innerjoin=True),
        joinedload(CourseRun.programme, innerjoin=True),
        selectinload(CourseRun.days),
    )
    if not user.is_staff:
        # populate_existing: a run already in the session (loaded earlier in the request) gets the value too.
        stmt = stmt.options(with_expression(CourseRun.waitlist_length, waitlist_length())).execution_options(
            populate_existing=True
        )
    return paginate(db.session, stmt, page, per_page)


@dataclass(frozen=True)
class RunListChoices:
    """The run-list filters' choices: (id, name) pairs, years newest first, (year, month) pairs soonest first."""

    programmes: tuple
    providers: tuple
    methods: tuple
    years: tuple[int, ...]
    months: tuple[tuple[int, int], ...]


#: The run list's choices per scope and day, for one data version (app.core.data_versions: every write to
#: runs, days, programmes, providers or methods that could change them replaces the version in its own
#: transaction, noted by app.courses.models._note_run_list_choices_change).
_choices_cache: VersionedCache[RunListChoices] = VersionedCache(RUN_LIST_CHOICES)


def _choice_scope(user: User) -> tuple:
    """What decides which runs `user` sees in the list (visible_runs): their level and provider or role."""
    if user.is_coordinator:
        return ("coordinator",)
    if user.is_provider:
        return ("provider", user.provider_id)
    if user.is_staff:
        return ("staff", user.staff_role_id)
    return ("none",)


def choice_key(user: User, today: date, with_providers: bool) -> tuple:
    """What decides the run list's choices besides their data version: the key they are remembered under."""
    return (_choice_scope(user), today, with_providers)


def run_list_choices(user: User, today: date, with_providers: bool) -> RunListChoices:
    """Every choice of the run list's filters. Remembered per scope (`_choice_scope`) and day for the data
    version of runs, days, programmes, providers and methods: one statement (the version's token) while
    nothing changed, which at national size saves the periods' join of every visible run with its days
    (~7 ms). Computed by `_run_list_choices`."""
    return _choices_cache.get(
        choice_key(user, today, with_providers), lambda: _run_list_choices(user, today, with_providers)
    )


def _run_list_choices(user: User, today: date, with_providers: bool) -> RunListChoices:
    """Every choice of the run list's filters in two queries: programmes (newest first), methods and providers
    (by name) in one UNION ALL; and the periods of the runs `user` may see in another: the years with course
    days (years without runs are not offered) and the months runs begin in."""
    no_date = null().cast(Date)
    parts: list[Select] = [
        select(literal_column("'programme'").label("kind"), Programme.id, Programme.name, Programme.starts_on),
        select(literal_column("'method'"), Method.id, Method.name, no_date),
    ]
    if with_providers:
        parts.append(select(literal_column("'provider'"), Provider.id, Provider.name, no_date))
    rows = union_all(*parts).subquery()
    grouped: dict[str, list] = {"programme": [], "provider": [], "method": []}
    for kind, row_id, name, _starts_on in db.session.execute(
        select(rows).order_by(rows.c.kind, rows.c.starts_on.desc(), rows.c.name)
    ):
        grouped[str(kind)].append((row_id, name))

    years: set[int] = set()
    months: set[tuple[int, int]] = set()
    visible = visible_runs(user, today)
    if visible is not None:
        first_day = CourseRun.first_day
        periods = (
            visible.with_only_columns(
                extract("year", CourseDay.day), extract("year", first_day), extract("month", first_day)
            )
            .join(CourseDay, CourseDay.course_run_id == CourseRun.id)
            .order_by(None)
            .distinct()
        )
        for day_year, first_year, first_month in db.session.execute(periods):
            years.add(int(day_year))
            if first_year is not None:
                months.add((int(first_year), int(first_month)))
    return RunListChoices(  # tuples: the value is shared by every request of its version
        programmes=tuple(grouped["programme"]),
        providers=tuple(grouped["provider"]),
        methods=tuple(grouped["method"]),
        years=tuple(sorted(years, reverse=True)),
        months=tuple(sorted(months)),
    )


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
