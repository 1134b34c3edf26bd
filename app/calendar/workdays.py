"""Working days in Denmark: weekends, public holidays (`holidays`) and the municipality's closed days.

Pure functions: the caller passes the closed days, so tests need no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from functools import lru_cache

import holidays
from dateutil.relativedelta import relativedelta

#: The UI languages as the `holidays` package names Denmark's holidays: it has "da" and "en_US", not "en".
#: (Python 3.11's gettext happened to fall back from "en" to "en_US"; 3.12 and 3.13 give the Danish names.)
_HOLIDAY_LOCALES = {"da": "da", "en": "en_US"}


@lru_cache(maxsize=64)
def _dk_holidays(year: int, language: str) -> Mapping[date, str]:
    # The language is always passed: holiday names otherwise follow the process locale.
    locale = _HOLIDAY_LOCALES.get(language, language)
    names = holidays.country_holidays("DK", years=year, language=locale, categories=("public",))
    if language == "da":
        return {day: _danish_holiday_name(name) for day, name in names.items()}
    return dict(names)


def _danish_holiday_name(name: str) -> str:
    """Danish writes holidays with a small letter ("som er nytårsdag", Retskrivningsordbogen § 13); the package
    capitalises them as titles. A proper name inside one keeps its capital ("Kristi himmelfartsdag")."""
    return name if name.startswith("Kristi ") else name[:1].lower() + name[1:]


def public_holiday(day: date, language: str = "da") -> str | None:
    """The Danish public holiday on `day`, by name in `language` (a UI language, "da" or "en"), or None."""
    return _dk_holidays(day.year, language).get(day)


def public_holidays(year: int, language: str = "da") -> list[tuple[date, str]]:
    """Denmark's public holidays in `year` as (date, name in `language`), in date order."""
    return sorted(_dk_holidays(year, language).items())


def non_working_reason(day: date, closed_days: Mapping[date, str], language: str = "da") -> str | None:
    """Why `day` is not a working day (weekend, holiday name, closed-day reason), or None."""
    if day.weekday() == 5:
        return "lørdag" if language == "da" else "Saturday"
    if day.weekday() == 6:
        return "søndag" if language == "da" else "Sunday"
    holiday = public_holiday(day, language)
    if holiday:
        return holiday
    return closed_days.get(day)


def next_working_day(day: date, closed_days: Mapping[date, str] | Iterable[date] = ()) -> date:
    """`day` itself if it is a working day, else the first working day after it ("following")."""
    closed = _as_mapping(closed_days)
    while non_working_reason(day, closed) is not None:
        day += timedelta(days=1)
    return day


def follow_up_anchor(teaching_day_2: date, months: int = 3) -> date:
    """Teaching day 2 + `months` calendar months, in one step (relativedelta clamps to month end)."""
    return teaching_day_2 + relativedelta(months=months)


def _as_mapping(closed_days) -> Mapping[date, str]:
    if isinstance(closed_days, Mapping):
        return closed_days
    return {d: "lukkedag" for d in closed_days}
