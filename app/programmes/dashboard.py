"""A programme's figures: activity, result, effect and budget — one computation for the dashboard page, the
evaluation report and the tests (`programme_figures`), and the budget check of the run form (`budget_after`).

Rules (also stated on the page and in the report):

- **Runs count by date of their follow-up day** (the last day when a run has none). A run is *completed* when
  its status is completed (the coordinator marks it so once all its days have passed and attendance is
  registered for every participant: `enrolment.services.complete_run`). Activity = completed runs whose
  follow-up day is on or before the programme's target deadline. Draft, published and running runs that are
  not cancelled and whose follow-up day is on or before the deadline *can still count*.
- **A person has completed** a run when a confirmed enrolment of theirs is marked present on every day of the
  run (both teaching days and the follow-up day; the rule of `enrolment.services.completed_ids`), in a run that
  is not cancelled, dated to the run's follow-up day. Result = distinct people who completed a run dated on or
  before the deadline: a person who completed two runs counts once (in the breakdown by provider once per
  provider). *Enrolled, not completed* = distinct people with a confirmed enrolment on a non-cancelled run of the
  programme who have not completed one by the deadline.
- **Budget** per provider per year: allocated = the programme's budget allocation; committed = the prices of the
  programme's runs that are not cancelled (drafts included); spent = the prices of its completed runs; the
  year of a run is the year of its first day; remainder = allocated − committed; over-committed when
  committed > allocated.
- **Effect**: the follow-up feedback (`feedback.summary_for_programme`, feedback up to the deadline). Per
  method, the share of answers saying *monthly* or *weekly* before the course and since. The effect is met when
  the share since is higher than the share before, all methods' answers taken together (compared exactly, not
  as rounded percentages).
- **Status**: after the deadline met / not met. Up to and including the deadline, activity and result: met
  when the figure already reaches the target; on track when completed plus what can still count reaches the
  target (activity: the runs that can still count; result: those runs' capacity); otherwise at risk. Effect
  before the deadline: on track while the share rises, at risk when it does not, not measured without answers
  (after the deadline no answers is not met).

A fixed number of statements whatever the size of the programme: the programme, its runs (one row per run,
days aggregated), the allocations, the budget (GROUP BY provider and year), the completions (one UNION ALL of
COUNT(DISTINCT ...) per breakdown), and the feedback summary's own queries.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.models import StaffRole, Unit, User
from app.core.i18n import _l
from app.courses.models import CourseDay, CourseRun, DayKind, RunStatus
from app.enrolment.models import Attendance, Enrolment, EnrolmentStatus
from app.extensions import db
from app.privacy.models import PersonKey
from app.programmes.models import BudgetAllocation, Programme
from app.providers.models import Provider

#: The answers on the frequency scale that count as "using the method" (monthly or weekly).
REGULAR_USE = ("monthly", "weekly")


class Status(enum.StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    NO_DATA = "no_data"

    @property
    def label(self) -> str:
        return str(_STATUS_LABELS[self])

    @property
    def tag_variant(self) -> str | None:
        return _STATUS_VARIANTS[self]


_STATUS_LABELS = {
    Status.MET: _l("Nået"),
    Status.NOT_MET: _l("Ikke nået"),
    Status.ON_TRACK: _l("På rette vej"),
    Status.AT_RISK: _l("I risiko"),
    Status.NO_DATA: _l("Ikke målt endnu"),
}
_STATUS_VARIANTS = {
    Status.MET: "success",
    Status.NOT_MET: "error",
    Status.ON_TRACK: "info",
    Status.AT_RISK: "warning",
    Status.NO_DATA: None,
}


def _status(reached: bool, deadline_passed: bool, reachable: bool) -> Status:
    if reached:
        return Status.MET
    if deadline_passed:
        return Status.NOT_MET
    return Status.ON_TRACK if reachable else Status.AT_RISK


def share_rose(before_part: int, before_whole: int, since_part: int, since_whole: int) -> bool:
    """since_part/since_whole > before_part/before_whole, exactly (no rounding); False without answers since."""
    if not since_whole:
        return False
    if not before_whole:
        return since_part > 0
    return since_part * before_whole > before_part * since_whole


def percent(part: int | float, whole: int | float) -> int:
    """`part` of `whole` as a whole percentage for a bar, 0–100 (0 when `whole` is 0)."""
    if not whole:
        return 0
    return max(0, min(100, round(100 * part / whole)))


# --------------------------------------------------------------------------------------------------
# The figures
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFigure:
    id: int
    title: str
    provider_id: int
    provider_name: str
    status: RunStatus
    first_day: date | None
    #: The date the run counts on: its follow-up day (its last day when it has none).
    counts_on: date | None
    capacity: int
    confirmed: int
    completed_staff: int
    price_ore: int
    #: Completed, or not cancelled and dated on or before the deadline.
    in_time: bool


@dataclass(frozen=True)
class Activity:
    target: int
    #: Completed runs dated on or before the deadline (the figure).
    completed: int
    #: Completed runs dated after the deadline (do not count).
    completed_late: int
    #: Not cancelled, not completed, dated on or before the deadline: they can still count.
    planned: int  # draft
    published: int  # published, first day after today
    running: int  # published, first day today or earlier
    #: Not completed, not cancelled, dated after the deadline.
    too_late: int
    cancelled: int
    status: Status

    @property
    def can_still_count(self) -> int:
        return self.planned + self.published + self.running

    @property
    def percent(self) -> int:
        return percent(self.completed, self.target)


@dataclass(frozen=True)
class BreakdownRow:
    label: str
    label_en: str | None
    completed: int
    enrolled: int

    @property
    def not_completed(self) -> int:
        return self.enrolled - self.completed


@dataclass(frozen=True)
class MonthCount:
    """People whose first completion in time (dated by the run's follow-up day) falls in the month."""

    year: int
    month: int
    completed: int


@dataclass(frozen=True)
class Result:
    target: int
    #: Distinct people who completed a run dated on or before the deadline (the figure).
    completed: int
    #: Distinct people with a confirmed enrolment on a non-cancelled run.
    enrolled: int
    #: Distinct people whose only completions are dated after the deadline.
    completed_late: int
    #: The capacity of the runs that can still count (an upper bound of what can still be added).
    seats_that_can_count: int
    status: Status
    by_role: list[BreakdownRow] = field(default_factory=list)
    by_unit: list[BreakdownRow] = field(default_factory=list)
    by_provider: list[BreakdownRow] = field(default_factory=list)
    #: The months with completions, oldest first; their sum is `completed`.
    by_month: list[MonthCount] = field(default_factory=list)

    @property
    def not_completed(self) -> int:
        return self.enrolled - self.completed

    @property
    def percent(self) -> int:
        return percent(self.completed, self.target)


@dataclass(frozen=True)
class BudgetLine:
    provider_id: int
    provider_name: str
    year: int
    allocated_ore: int
    committed_ore: int
    spent_ore: int
    #: False when the programme has runs for the provider that year but no allocation.
    has_allocation: bool = True

    @property
    def remainder_ore(self) -> int:
        return self.allocated_ore - self.committed_ore

    @property
    def over_committed(self) -> bool:
        return self.committed_ore > self.allocated_ore

    @property
    def committed_share(self) -> int | None:
        """The share of the allocation committed, in whole percent, as written beside the bar: 107 when 7 % over
        (not capped like `percent`, which measures a bar); None without an allocation (not a share of 0)."""
        if not self.allocated_ore:
            return None
        return max(0, round(100 * self.committed_ore / self.allocated_ore))


@dataclass(frozen=True)
class MethodUse:
    method_id: int
    name: str
    responses: int
    before: dict[str, int]
    since: dict[str, int]

    @property
    def before_regular(self) -> int:
        return sum(self.before.get(key, 0) for key in REGULAR_USE)

    @property
    def since_regular(self) -> int:
        return sum(self.since.get(key, 0) for key in REGULAR_USE)

    @property
    def before_percent(self) -> int:
        return percent(self.before_regular, sum(self.before.values()))

    @property
    def since_percent(self) -> int:
        return percent(self.since_regular, sum(self.since.values()))

    @property
    def before_answers(self) -> int:
        return sum(self.before.values())

    @property
    def since_answers(self) -> int:
        return sum(self.since.values())

    @property
    def comparable(self) -> bool:
        """Answers both before and since: only then is "increased use" measured (else the page shows "–")."""
        return bool(self.before_answers and self.since_answers)

    @property
    def rose(self) -> bool:
        return share_rose(self.before_regular, self.before_answers, self.since_regular, self.since_answers)


@dataclass(frozen=True)
class Effect:
    invited: int
    answered: int
    response_rate: float | None
    methods: list[MethodUse]
    #: "Do you involve parents earlier?" yes / partly / no -> count.
    earlier: dict[str, int]
    status: Status

    @property
    def before_regular(self) -> int:
        return sum(m.before_regular for m in self.methods)

    @property
    def since_regular(self) -> int:
        return sum(m.since_regular for m in self.methods)

    @property
    def before_answers(self) -> int:
        return sum(sum(m.before.values()) for m in self.methods)

    @property
    def since_answers(self) -> int:
        return sum(sum(m.since.values()) for m in self.methods)

    @property
    def before_percent(self) -> int:
        return percent(self.before_regular, self.before_answers)

    @property
    def since_percent(self) -> int:
        return percent(self.since_regular, self.since_answers)

    @property
    def rose(self) -> bool:
        return share_rose(self.before_regular, self.before_answers, self.since_regular, self.since_answers)

    @property
    def comparable(self) -> bool:
        """Answers both before and since (all methods): the "increased use" column is measured."""
        return bool(self.before_answers and self.since_answers)

    @property
    def response_percent(self) -> int | None:
        return None if self.response_rate is None else round(100 * self.response_rate)


@dataclass(frozen=True)
class ProgrammeFigures:
    programme_id: int
    name: str
    description: str | None
    effect_target: str | None
    starts_on: date
    ends_on: date
    deadline: date
    today: date
    activity: Activity
    result: Result
    effect: Effect
    budget: list[BudgetLine]
    runs: list[RunFigure]

    @property
    def deadline_passed(self) -> bool:
        return self.today > self.deadline

    @property
    def over_committed(self) -> list[BudgetLine]:
        return [line for line in self.budget if line.over_committed]

    @property
    def budget_years(self) -> list[tuple[int, list[BudgetLine]]]:
        years: dict[int, list[BudgetLine]] = {}
        for line in self.budget:
            years.setdefault(line.year, []).append(line)
        return sorted(years.items())

    @property
    def budget_totals(self) -> tuple[int, int, int]:
        """(allocated, committed, spent) over all years and providers, øre."""
        return (
            sum(x.allocated_ore for x in self.budget),
            sum(x.committed_ore for x in self.budget),
            sum(x.spent_ore for x in self.budget),
        )


def days_per_run(programme_id: int | None = None):
    """course_run_id, number of days, first day, last day and follow-up day of each run (a subquery)."""
    stmt = select(
        CourseDay.course_run_id.label("run_id"),
        func.count(CourseDay.id).label("n_days"),
        func.min(CourseDay.day).label("first_day"),
        func.max(CourseDay.day).label("last_day"),
        func.max(case((CourseDay.kind == DayKind.FOLLOW_UP, CourseDay.day))).label("follow_up_day"),
    ).group_by(CourseDay.course_run_id)
    if programme_id is not None:
        stmt = stmt.join(CourseRun, CourseRun.id == CourseDay.course_run_id).where(
            CourseRun.programme_id == programme_id
        )
    return stmt.subquery("run_days")


def days_present():
    """The number of days of its own run an enrolment (`Enrolment`, correlated) is marked present on: a
    correlated count, an index look-up per enrolment (joining a per-enrolment aggregate instead made
    PostgreSQL, without statistics, re-aggregate it for every row)."""
    return (
        select(func.count(Attendance.id))
        .join(CourseDay, CourseDay.id == Attendance.course_day_id)
        .where(
            Attendance.enrolment_id == Enrolment.id,
            Attendance.present.is_(True),
            CourseDay.course_run_id == Enrolment.course_run_id,
        )
    )


def present_every_day(n_days, n_present):
    """The completion rule in SQL: a confirmed enrolment on a run that is not cancelled is *completed* when
    it is marked present on every one of the run's days (`n_days` from `days_per_run`, `n_present` from
    `days_present`); it counts on the run's follow-up day (its last day when it has none). The dashboard's
    result and the competence overview (app.programmes.competence) both use it: one rule."""
    return and_(n_days > 0, n_present == n_days)


def _load_runs(programme_id: int, days) -> Sequence[Row]:
    counts_on = func.coalesce(days.c.follow_up_day, days.c.last_day)
    return db.session.execute(
        select(
            CourseRun.id,
            CourseRun.title,
            CourseRun.provider_id,
            Provider.name,
            CourseRun.status,
            CourseRun.capacity,
            CourseRun.seats_taken,
            CourseRun.price_ore,
            days.c.first_day,
            counts_on.label("counts_on"),
        )
        .join(Provider, Provider.id == CourseRun.provider_id)
        .outerjoin(days, days.c.run_id == CourseRun.id)
        .where(CourseRun.programme_id == programme_id)
        .order_by(days.c.first_day, CourseRun.id)
    ).all()


def _completions(programme: Programme, days) -> dict[tuple[str, object], tuple]:
    """(dimension, key) -> (label, label_en, completed, enrolled[, completed_late]) in one statement.

    Dimensions: ("total", None), ("role", id), ("unit", id), ("provider", id), ("run", id), ("month", yyyymm:
    people whose first completion in time falls in that month). Each row counts
    DISTINCT people, so a person who completed two runs counts once (per group)."""
    # Per confirmed enrolment: its run's number of days and date (joined from the per-run aggregate: few rows)
    # and the days the person was present on (a correlated count: an index look-up per enrolment). Joining a
    # per-enrolment aggregate instead made PostgreSQL, without statistics, re-aggregate it for every row.
    present_days = days_present()
    # The person an enrolment counts as: its own pseudonym once its run was anonymised (app.privacy), the
    # pseudonym of the user's anonymised enrolments in this programme, else the user: so anonymising a run
    # changes no figure.
    person = func.coalesce(Enrolment.person_key, PersonKey.person_key, cast(Enrolment.user_id, String))
    base = (
        select(
            person.label("user_id"),
            CourseRun.id.label("run_id"),
            CourseRun.provider_id.label("provider_id"),
            User.staff_role_id.label("role_id"),
            User.unit_id.label("unit_id"),
            days.c.n_days.label("n_days"),
            present_days.scalar_subquery().label("n_present"),
            func.coalesce(days.c.follow_up_day, days.c.last_day).label("counts_on"),
        )
        .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
        .join(User, User.id == Enrolment.user_id)
        .join(days, days.c.run_id == CourseRun.id)
        .outerjoin(
            PersonKey, and_(PersonKey.user_id == Enrolment.user_id, PersonKey.programme_id == CourseRun.programme_id)
        )
        .where(
            CourseRun.programme_id == programme.id,
            CourseRun.status != RunStatus.CANCELLED,
            Enrolment.status == EnrolmentStatus.CONFIRMED,
        )
        .cte("enrolment_days")
        # Computed once per enrolment: inlined into per_enrolment, its correlated count ran twice a row (the
        # `done` and the `late` column each repeat it), two thirds of the statement's time at national size.
        .prefix_with("MATERIALIZED")
    )
    b = base.c
    all_days = present_every_day(b.n_days, b.n_present)
    per_enrolment = select(
        b.user_id,
        b.run_id,
        b.provider_id,
        b.role_id,
        b.unit_id,
        b.counts_on,
        case((and_(all_days, b.counts_on <= programme.target_deadline), 1), else_=0).label("done"),
        case((and_(all_days, b.counts_on > programme.target_deadline), 1), else_=0).label("late"),
    ).cte("per_enrolment")
    e = per_enrolment.c
    completed = func.count(func.distinct(case((e.done == 1, e.user_id))))
    enrolled = func.count(func.distinct(e.user_id))
    null_text = cast(null(), String)
    null_id = cast(null(), Integer)

    def tag(dimension: str):
        return literal_column(f"'{dimension}'", String).label("dimension")

    def grouped(dimension: str, key, label=None, label_en=None, join=None):
        columns = [c for c in (key, label, label_en) if c is not None]
        stmt = select(
            tag(dimension),
            key.label("key"),
            (label if label is not None else null_text).label("label"),
            (label_en if label_en is not None else null_text).label("label_en"),
            completed.label("completed"),
            enrolled.label("enrolled"),
            literal_column("0", Integer).label("late"),
        ).select_from(per_enrolment)
        if join is not None:
            stmt = stmt.outerjoin(*join)
        return stmt.group_by(*columns)

    # People whose completions are all after the deadline: completed late, never in time.
    late_people = (
        select(e.user_id)
        .group_by(e.user_id)
        .having(and_(func.max(e.late) == 1, func.max(e.done) == 0))
        .subquery("late_people")
    )
    total = select(
        tag("total"),
        null_id.label("key"),
        null_text.label("label"),
        null_text.label("label_en"),
        completed.label("completed"),
        enrolled.label("enrolled"),
        select(func.count()).select_from(late_people).scalar_subquery().label("late"),
    ).select_from(per_enrolment)
    # The month of each person's first completion in time (key yyyymm): the cumulative line of the chart.
    first_done = (
        select(e.user_id, func.min(e.counts_on).label("first_on"))
        .where(e.done == 1)
        .group_by(e.user_id)
        .subquery("first_done")
    )
    # The 100 is written into the SQL, not bound, so GROUP BY matches the select list whatever the driver binds.
    hundred = literal_column("100", Integer)
    month_key = cast(
        extract("year", first_done.c.first_on) * hundred + extract("month", first_done.c.first_on), Integer
    )
    monthly = select(
        tag("month"),
        month_key.label("key"),
        null_text.label("label"),
        null_text.label("label_en"),
        func.count().label("completed"),
        literal_column("0", Integer).label("enrolled"),
        literal_column("0", Integer).label("late"),
    ).group_by(month_key)
    statement = union_all(
        total,
        grouped("role", e.role_id, StaffRole.name, StaffRole.name_en, (StaffRole, StaffRole.id == e.role_id)),
        grouped("unit", e.unit_id, Unit.name, join=(Unit, Unit.id == e.unit_id)),
        grouped("provider", e.provider_id, Provider.name, join=(Provider, Provider.id == e.provider_id)),
        grouped("run", e.run_id),
        monthly,
    )
    return {
        (row.dimension, row.key): (
            row.label,
            row.label_en,
            int(row.completed or 0),
            int(row.enrolled or 0),
            int(row.late or 0),
        )
        for row in db.session.execute(statement)
    }


def _budget(programme_id: int, days) -> list[BudgetLine]:
    """Allocations joined with committed/spent per provider and year (two statements)."""
    year = cast(extract("year", days.c.first_day), Integer)
    not_cancelled = CourseRun.status != RunStatus.CANCELLED
    rows = db.session.execute(
        select(
            CourseRun.provider_id,
            year.label("year"),
            func.sum(case((not_cancelled, CourseRun.price_ore), else_=0)).label("committed"),
            func.sum(case((CourseRun.status == RunStatus.COMPLETED, CourseRun.price_ore), else_=0)).label("spent"),
        )
        .join(days, days.c.run_id == CourseRun.id)
        .where(CourseRun.programme_id == programme_id)
        .group_by(CourseRun.provider_id, year)
    ).all()
    used = {
        (r.provider_id, int(r.year)): (int(r.committed or 0), int(r.spent or 0)) for r in rows if r.year is not None
    }
    allocations = db.session.execute(
        select(BudgetAllocation.provider_id, BudgetAllocation.year, BudgetAllocation.amount_ore).where(
            BudgetAllocation.programme_id == programme_id
        )
    ).all()
    allocated = {(a.provider_id, a.year): a.amount_ore for a in allocations}
    keys = set(allocated) | {key for key, (committed, _spent) in used.items() if committed}
    provider_ids = {provider_id for provider_id, _year in keys}
    names = (
        dict(db.session.execute(select(Provider.id, Provider.name).where(Provider.id.in_(provider_ids))).all())
        if provider_ids
        else {}
    )
    lines = [
        BudgetLine(
            provider_id=p,
            provider_name=names.get(p, "?"),
            year=y,
            allocated_ore=allocated.get((p, y), 0),
            committed_ore=used.get((p, y), (0, 0))[0],
            spent_ore=used.get((p, y), (0, 0))[1],
            has_allocation=(p, y) in allocated,
        )
        for p, y in keys
    ]
    return sorted(lines, key=lambda line: (line.year, line.provider_name.casefold(), line.provider_id))


def _effect(programme: Programme, deadline_passed: bool) -> Effect:
    from app.programmes.feedback import summary_for_programme  # the feedback slice; imported when needed

    summary = summary_for_programme(programme.id, until=programme.target_deadline)
    methods = [
        MethodUse(
            method_id=m.method_id, name=m.method_name, responses=m.responses, before=dict(m.before), since=dict(m.since)
        )
        for m in summary.methods
    ]
    provisional = Effect(
        invited=summary.invited,
        answered=summary.answered,
        response_rate=summary.response_rate,
        methods=methods,
        earlier=dict(summary.earlier),
        status=Status.NO_DATA,
    )
    if not provisional.before_answers and not provisional.since_answers:
        status = Status.NOT_MET if deadline_passed else Status.NO_DATA
    else:
        rose = provisional.rose
        # Answers can still come in (or change) until the deadline: rising so far is "on track", not "met".
        if deadline_passed:
            status = Status.MET if rose else Status.NOT_MET
        else:
            status = Status.ON_TRACK if rose else Status.AT_RISK
    return Effect(
        invited=provisional.invited,
        answered=provisional.answered,
        response_rate=provisional.response_rate,
        methods=methods,
        earlier=provisional.earlier,
        status=status,
    )


def programme_figures(programme_id: int, today: date) -> ProgrammeFigures:
    """Everything the dashboard, the report and the tests show for the programme, measured on `today`.

    :raises LookupError: no such programme.
    """
    programme = db.session.get(Programme, programme_id)
    if programme is None:
        raise LookupError(programme_id)
    deadline = programme.target_deadline
    deadline_passed = today > deadline
    days = days_per_run(programme_id)
    run_rows = _load_runs(programme_id, days)
    completions = _completions(programme, days)

    runs: list[RunFigure] = []
    counts = dict.fromkeys(
        ("completed", "completed_late", "planned", "published", "running", "too_late", "cancelled"), 0
    )
    seats_that_can_count = 0
    for row in run_rows:
        status = RunStatus(row.status)
        in_time = row.counts_on is not None and row.counts_on <= deadline
        if status == RunStatus.CANCELLED:
            counts["cancelled"] += 1
        elif status == RunStatus.COMPLETED:
            counts["completed" if in_time else "completed_late"] += 1
        elif not in_time:
            counts["too_late"] += 1
        else:
            seats_that_can_count += row.capacity
            if status == RunStatus.DRAFT:
                counts["planned"] += 1
            elif row.first_day is not None and row.first_day <= today:
                counts["running"] += 1
            else:
                counts["published"] += 1
        done = completions.get(("run", row.id))
        runs.append(
            RunFigure(
                id=row.id,
                title=row.title,
                provider_id=row.provider_id,
                provider_name=row.name,
                status=status,
                first_day=row.first_day,
                counts_on=row.counts_on,
                capacity=row.capacity,
                confirmed=row.seats_taken,
                completed_staff=done[2] if done else 0,
                price_ore=row.price_ore,
                in_time=in_time and status != RunStatus.CANCELLED,
            )
        )

    target_runs = programme.target_runs
    can_still_count = counts["planned"] + counts["published"] + counts["running"]
    activity = Activity(
        target=target_runs,
        **counts,
        status=_status(
            counts["completed"] >= target_runs, deadline_passed, counts["completed"] + can_still_count >= target_runs
        ),
    )

    def breakdown(dimension: str) -> list[BreakdownRow]:
        rows = [
            BreakdownRow(label or "–", label_en, done, enrolled)
            for (dim, _key), (label, label_en, done, enrolled, _late) in completions.items()
            if dim == dimension
        ]
        return sorted(rows, key=lambda r: (-r.completed, -r.enrolled, r.label.casefold()))

    _label, _en, completed, enrolled, late = completions.get(("total", None), (None, None, 0, 0, 0))
    target_staff = programme.target_completed_staff
    result = Result(
        target=target_staff,
        completed=completed,
        enrolled=enrolled,
        completed_late=late,
        seats_that_can_count=seats_that_can_count,
        status=_status(completed >= target_staff, deadline_passed, completed + seats_that_can_count >= target_staff),
        by_role=breakdown("role"),
        by_unit=breakdown("unit"),
        by_provider=breakdown("provider"),
        by_month=sorted(
            (
                MonthCount(key // 100, key % 100, values[2])
                for (dim, key), values in completions.items()
                if dim == "month" and isinstance(key, int)
            ),
            key=lambda m: (m.year, m.month),
        ),
    )
    return ProgrammeFigures(
        programme_id=programme.id,
        name=programme.name,
        description=programme.description,
        effect_target=programme.effect_target,
        starts_on=programme.starts_on,
        ends_on=programme.ends_on,
        deadline=deadline,
        today=today,
        activity=activity,
        result=result,
        effect=_effect(programme, deadline_passed),
        budget=_budget(programme_id, days),
        runs=runs,
    )


# --------------------------------------------------------------------------------------------------
# The run form's budget check
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetCheck:
    """The provider's budget in one programme and year, before and after a run is saved (øre)."""

    programme_id: int
    provider_id: int
    year: int
    #: None when the programme has no allocation for the provider that year.
    allocated_ore: int | None
    committed_before_ore: int
    committed_after_ore: int
    #: False when the programme has no budget allocations at all: its budget is not managed here, no warning.
    programme_has_budget: bool = True

    @property
    def over_committed(self) -> bool:
        return self.committed_after_ore > (self.allocated_ore or 0)

    @property
    def pushes_over(self) -> bool:
        """Over the allocation (none counts as 0 in a programme with allocations) after the save, and the save
        adds to the committed amount: the run form warns and asks for a confirmation."""
        return (
            self.programme_has_budget and self.over_committed and self.committed_after_ore > self.committed_before_ore
        )

    @property
    def excess_ore(self) -> int:
        return max(0, self.committed_after_ore - (self.allocated_ore or 0))


def budget_after(
    programme_id: int, provider_id: int, year: int, extra_ore: int, exclude_run_id: int | None = None
) -> BudgetCheck:
    """What the provider's committed amount in the programme and year becomes when a run costing `extra_ore`
    is saved there; `exclude_run_id` is the run being edited (its stored price is replaced). Two statements."""
    days = days_per_run(programme_id)
    excluded: ColumnElement[int] = (
        case((CourseRun.id == exclude_run_id, CourseRun.price_ore), else_=0) if exclude_run_id else literal(0)
    )
    total, excluded_sum = db.session.execute(
        select(func.coalesce(func.sum(CourseRun.price_ore), 0), func.coalesce(func.sum(excluded), 0))
        .join(days, days.c.run_id == CourseRun.id)
        .where(
            CourseRun.programme_id == programme_id,
            CourseRun.provider_id == provider_id,
            CourseRun.status != RunStatus.CANCELLED,
            cast(extract("year", days.c.first_day), Integer) == year,
        )
    ).one()
    this_one = and_(BudgetAllocation.provider_id == provider_id, BudgetAllocation.year == year)
    this_amount: ColumnElement[int | None] = case((this_one, BudgetAllocation.amount_ore))
    allocations, allocated = db.session.execute(
        select(func.count(BudgetAllocation.id), func.max(this_amount)).where(
            BudgetAllocation.programme_id == programme_id
        )
    ).one()
    total, excluded_sum = int(total), int(excluded_sum)
    return BudgetCheck(
        programme_id=programme_id,
        provider_id=provider_id,
        year=year,
        allocated_ore=None if allocated is None else int(allocated),
        committed_before_ore=total,
        committed_after_ore=total - excluded_sum + extra_ore,
        programme_has_budget=bool(allocations),
    )
