"""Use cases for programmes (indsatser) and their budget allocations, and the reads their pages need.

Services flush but never commit: the view (or CLI command) owns the transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from operator import attrgetter

from dateutil.relativedelta import relativedelta
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from app.audit.services import record, record_update, snapshot
from app.core.db import Page, paginate, totals_per_item
from app.core.exceptions import Conflict, DomainError, ValidationFailed
from app.core.templating import dk_date
from app.core.unique import name_taken, unique_guard
from app.extensions import db
from app.programmes.models import BudgetAllocation, Programme
from app.providers.models import Provider

logger = logging.getLogger(__name__)

MIN_YEAR, MAX_YEAR = 2000, 2100
#: How long after the programme's end its targets may still be measured.
DEADLINE_GRACE = relativedelta(years=1)


@dataclass(frozen=True)
class ProgrammeData:
    """What the coordinator types for a programme (service input for create and update)."""

    name: str
    starts_on: date
    ends_on: date
    target_deadline: date
    target_runs: int = 0
    target_completed_staff: int = 0
    description: str | None = None
    effect_target: str | None = None


@dataclass(frozen=True)
class ProgrammeSummary:
    """One row of the programme list: the programme and the sum of its allocations (øre)."""

    programme: Programme
    allocated_ore: int


@dataclass(frozen=True)
class YearBudget:
    """A programme's allocations in one year, and their total (øre)."""

    year: int
    allocations: list[BudgetAllocation]
    total_ore: int


@dataclass(frozen=True)
class ProgrammeBudget:
    years: list[YearBudget] = field(default_factory=list)

    @property
    def total_ore(self) -> int:
        return sum(y.total_ore for y in self.years)


# --- programmes ---------------------------------------------------------------------------------


def _check_programme(data: ProgrammeData, programme: Programme | None = None) -> None:
    """The rules a programme must satisfy; date rules first, then the unique name.

    :raises ValidationFailed: dates out of order (messages per field).
    :raises Conflict: another programme has the name (field ``name``).
    """
    errors: dict[str, list[str]] = {}
    if data.ends_on < data.starts_on:
        errors["ends_on"] = [_("Slutdatoen skal ligge på eller efter startdatoen.")]
    if data.target_deadline < data.starts_on:
        errors["target_deadline"] = [_("Fristen for målene skal ligge på eller efter startdatoen.")]
    elif data.ends_on >= data.starts_on and data.target_deadline > data.ends_on + DEADLINE_GRACE:
        errors["target_deadline"] = [
            _("Fristen for målene må højst ligge et år efter slutdatoen (%(day)s).", day=dk_date(data.ends_on))
        ]
    if data.target_runs < 0 or data.target_completed_staff < 0:
        errors.setdefault("target_runs", []).append(_("Målene kan ikke være negative."))
    if errors:
        raise ValidationFailed(errors)
    if name_taken(Programme, data.name, programme.id if programme is not None else None):
        raise Conflict(_name_message(data.name), field="name")


def _name_message(name: str) -> str:
    return _("Der findes allerede en indsats med navnet %(name)s.", name=name)


PROGRAMME_FIELDS = (
    "name",
    "description",
    "starts_on",
    "ends_on",
    "target_deadline",
    "target_runs",
    "target_completed_staff",
    "effect_target",
)


def _apply(programme: Programme, data: ProgrammeData) -> None:
    programme.name = data.name
    programme.description = data.description
    programme.starts_on = data.starts_on
    programme.ends_on = data.ends_on
    programme.target_deadline = data.target_deadline
    programme.target_runs = data.target_runs
    programme.target_completed_staff = data.target_completed_staff
    programme.effect_target = data.effect_target


def create_programme(data: ProgrammeData, *, actor=None) -> Programme:
    """Create a programme (coordinator).

    :raises ValidationFailed: dates out of order.
    :raises Conflict: the name is taken.
    """
    _check_programme(data)
    programme = Programme()
    with unique_guard(_name_message(data.name), "name"):
        _apply(programme, data)
        db.session.add(programme)
    record("programme.create", actor=actor, object_type="programme", object_id=programme.id)
    logger.info("programme created by %s: %r", actor, programme)
    return programme


def update_programme(programme: Programme, data: ProgrammeData, *, actor=None) -> Programme:
    """Change a programme's name, period, targets and texts (coordinator).

    :raises ValidationFailed: dates out of order.
    :raises Conflict: the name belongs to another programme.
    """
    _check_programme(data, programme)
    before = snapshot(programme, PROGRAMME_FIELDS)
    with unique_guard(_name_message(data.name), "name"):
        _apply(programme, data)
    record_update("programme.update", programme, before, actor=actor, object_type="programme")
    logger.info("programme updated by %s: %r", actor, programme)
    return programme


def list_programmes(page: int = 1, per_page: int = 25) -> Page:
    """A page of programmes, newest first, each with its allocated total (one aggregate query per page)."""
    stmt = select(Programme).order_by(Programme.starts_on.desc(), Programme.name, Programme.id)
    result = paginate(db.session, stmt, page, per_page)
    totals = totals_per_item(db.session, result, BudgetAllocation.programme_id, func.sum(BudgetAllocation.amount_ore))
    result.items = [ProgrammeSummary(p, totals.get(p.id, 0)) for p in result.items]
    return result


def list_programme_runs(programme: Programme) -> list:
    """The programme's course runs with provider and days loaded, in order of their first day."""
    from app.courses.models import CourseRun  # courses depends on programmes, not the other way round

    runs = db.session.scalars(
        select(CourseRun)
        .where(CourseRun.programme_id == programme.id)
        .options(joinedload(CourseRun.provider), selectinload(CourseRun.days))
    ).unique()
    return sorted(runs, key=lambda run: (run.first_day or date.max, run.id))


# --- budget allocations -------------------------------------------------------------------------


def get_programme_budget(programme: Programme) -> ProgrammeBudget:
    """The programme's allocations grouped by year (ascending), providers by name, with totals."""
    allocations = db.session.scalars(
        select(BudgetAllocation)
        .join(BudgetAllocation.provider)
        .where(BudgetAllocation.programme_id == programme.id)
        .options(joinedload(BudgetAllocation.provider))
        .order_by(BudgetAllocation.year, Provider.name, BudgetAllocation.id)
    ).all()
    years = []
    for year, group in groupby(allocations, key=attrgetter("year")):
        items = list(group)
        years.append(YearBudget(year, items, sum(a.amount_ore for a in items)))
    return ProgrammeBudget(years)


def get_allocation(programme_id: int, allocation_id: int) -> BudgetAllocation | None:
    """The allocation, only if it belongs to the programme (another programme's id gives None)."""
    return db.session.scalar(
        select(BudgetAllocation)
        .where(BudgetAllocation.id == allocation_id, BudgetAllocation.programme_id == programme_id)
        .options(joinedload(BudgetAllocation.provider))
    )


def _check_amount(amount_ore: int) -> None:
    if amount_ore < 0:
        raise DomainError(_("Beløbet kan ikke være negativt."), field="amount")


def _duplicate_message(provider: Provider, year: int) -> str:
    return _("Der er allerede en budgetramme for %(provider)s i %(year)s.", provider=provider.name, year=year)


def add_budget_allocation(
    programme: Programme, provider: Provider, year: int, amount_ore: int, *, actor=None
) -> BudgetAllocation:
    """Allocate `amount_ore` of the programme's budget to `provider` in `year` (coordinator).

    :raises DomainError: the provider is inactive (field ``provider_id``), the year is out of range
        (``year``) or the amount negative (``amount``).
    :raises Conflict: the programme already has an allocation for that provider and year (field ``year``).
    """
    if not provider.active:
        raise DomainError(
            _("%(provider)s er ikke længere en aktiv udbyder.", provider=provider.name), field="provider_id"
        )
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DomainError(_("Året skal være mellem 2000 og 2100."), field="year")
    _check_amount(amount_ore)
    exists = db.session.scalar(
        select(BudgetAllocation.id).where(
            BudgetAllocation.programme_id == programme.id,
            BudgetAllocation.provider_id == provider.id,
            BudgetAllocation.year == year,
        )
    )
    if exists is not None:
        raise Conflict(_duplicate_message(provider, year), field="year")
    # Ids, not relationships: the new row enters the session inside the savepoint, nowhere else.
    allocation = BudgetAllocation(programme_id=programme.id, provider_id=provider.id, year=year, amount_ore=amount_ore)
    with unique_guard(_duplicate_message(provider, year), "year"):
        db.session.add(allocation)
    record(
        "budget.create",
        actor=actor,
        object_type="programme",
        object_id=programme.id,
        details={"allocation": allocation.id, "provider": provider.id, "year": year, "amount_ore": amount_ore},
    )
    logger.info("budget allocation added by %s: %r %s", actor, allocation, amount_ore)
    return allocation


def update_budget_allocation(allocation: BudgetAllocation, amount_ore: int, *, actor=None) -> BudgetAllocation:
    """Change the amount of an allocation (coordinator).

    :raises DomainError: the amount is negative (field ``amount``).
    """
    _check_amount(amount_ore)
    record(
        "budget.update",
        actor=actor,
        object_type="programme",
        object_id=allocation.programme_id,
        details={"allocation": allocation.id, "amount_ore": {"old": allocation.amount_ore, "new": amount_ore}},
    )
    allocation.amount_ore = amount_ore
    db.session.flush()
    logger.info("budget allocation updated by %s: %r %s", actor, allocation, amount_ore)
    return allocation


def delete_budget_allocation(allocation: BudgetAllocation, *, actor=None) -> None:
    """Remove an allocation (coordinator). Course runs refer to provider and programme, not to it."""
    logger.info("budget allocation deleted by %s: %r", actor, allocation)
    record(
        "budget.delete",
        actor=actor,
        object_type="programme",
        object_id=allocation.programme_id,
        details={
            "allocation": allocation.id,
            "provider": allocation.provider_id,
            "year": allocation.year,
            "amount_ore": allocation.amount_ore,
        },
    )
    db.session.delete(allocation)
    db.session.flush()
