"""Use cases for closed days (lukkedage), and the reads the working-day rule and its page need.

Closed days are the municipality's own non-working days on top of weekends and the public holidays
(Grundlovsdag, 24 December, ... depend on the local agreement), so they are data the coordinator
edits, not code. The follow-up-day proposal reads them through `closed_days_map()`.
Services flush but never commit.
"""

from __future__ import annotations

import logging
from datetime import date

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import extract, select

from app.audit.services import record, record_update, snapshot
from app.calendar.models import ClosedDay
from app.calendar.workdays import public_holiday, public_holidays
from app.core.db import Page, paginate
from app.core.exceptions import Conflict, DomainError
from app.core.templating import dk_date
from app.core.unique import unique_guard
from app.extensions import db

logger = logging.getLogger(__name__)


def holiday_language() -> str:
    """The UI language the holiday names are shown in (get_locale() is None outside a request: Danish)."""
    return "en" if str(get_locale()) == "en" else "da"


def list_public_holidays(year: int, language: str = "da") -> list[tuple[date, str]]:
    """Denmark's public holidays in `year` as (date, name), in date order (shown for reference)."""
    return public_holidays(year, language)


def closed_days_map() -> dict[date, str]:
    """Every closed day, date -> reason: what `app.calendar.workdays` skips besides weekends and holidays."""
    return {day: reason for day, reason in db.session.execute(select(ClosedDay.day, ClosedDay.reason))}


def list_closed_days(year: int | None = None, *, page: int = 1, per_page: int = 50) -> Page:
    """A page of closed days in date order; only `year`'s when given."""
    stmt = select(ClosedDay).order_by(ClosedDay.day)
    if year is not None:
        stmt = stmt.where(ClosedDay.day >= date(year, 1, 1), ClosedDay.day <= date(year, 12, 31))
    return paginate(db.session, stmt, page, per_page)


def list_closed_day_years() -> list[int]:
    """The years that have closed days, ascending (for the year filter)."""
    year = extract("year", ClosedDay.day)
    return sorted({int(y) for y in db.session.scalars(select(year).distinct()) if y is not None})


def _already_closed_message(day: date) -> str:
    return _("%(day)s er allerede en lukkedag.", day=dk_date(day))


def _check_day(day: date, closed_day: ClosedDay | None = None) -> None:
    """A closed day must be a weekday that is neither a public holiday nor closed already.

    :raises DomainError: weekend or public holiday (field ``day``).
    :raises Conflict: the date is closed already (field ``day``).
    """
    if day.weekday() >= 5:
        raise DomainError(
            _(
                "%(day)s er en %(weekday)s. Weekender er aldrig arbejdsdage, "
                "så du behøver ikke at oprette den som lukkedag.",
                day=dk_date(day),
                weekday=dk_date(day, "EEEE"),
            ),
            field="day",
        )
    holiday = public_holiday(day, holiday_language())
    if holiday:
        raise DomainError(
            _("%(day)s er allerede en helligdag (%(holiday)s).", day=dk_date(day), holiday=holiday), field="day"
        )
    stmt = select(ClosedDay.id).where(ClosedDay.day == day)
    if closed_day is not None and closed_day.id is not None:
        stmt = stmt.where(ClosedDay.id != closed_day.id)
    if db.session.scalar(stmt) is not None:
        raise Conflict(_already_closed_message(day), field="day")


def add_closed_day(day: date, reason: str, *, actor=None) -> ClosedDay:
    """Close `day` for the municipality (coordinator); follow-up days proposed later skip it.

    :raises DomainError: weekend or public holiday (field ``day``).
    :raises Conflict: already closed (field ``day``).
    """
    _check_day(day)
    closed_day = ClosedDay(day=day, reason=reason)
    with unique_guard(_already_closed_message(day), "day"):
        db.session.add(closed_day)
    record(
        "closed_day.create",
        actor=actor,
        object_type="closed_day",
        object_id=closed_day.id,
        details={"day": day.isoformat()},
    )
    logger.info("closed day added by %s: %r %s", actor, closed_day, reason)
    return closed_day


def update_closed_day(closed_day: ClosedDay, day: date, reason: str, *, actor=None) -> ClosedDay:
    """Move a closed day or change its reason (coordinator). Existing runs keep their dates.

    :raises DomainError: weekend or public holiday (field ``day``).
    :raises Conflict: the new date is closed already (field ``day``).
    """
    _check_day(day, closed_day)
    before = snapshot(closed_day, ("day", "reason"))
    with unique_guard(_already_closed_message(day), "day"):
        closed_day.day = day
        closed_day.reason = reason
    record_update(
        "closed_day.update", closed_day, before, actor=actor, object_type="closed_day", details={"day": day.isoformat()}
    )
    logger.info("closed day updated by %s: %r %s", actor, closed_day, reason)
    return closed_day


def delete_closed_day(closed_day: ClosedDay, *, actor=None) -> None:
    """Reopen a closed day (coordinator). Follow-up days already set are not moved."""
    logger.info("closed day deleted by %s: %r", actor, closed_day)
    record(
        "closed_day.delete",
        actor=actor,
        object_type="closed_day",
        object_id=closed_day.id,
        details={"day": closed_day.day.isoformat()},
    )
    db.session.delete(closed_day)
    db.session.flush()
