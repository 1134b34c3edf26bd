"""The one seam for wall-clock time. Services take `now`/`today` as parameters; views ask here.

Everything that reads domain time (`now`, `today`, `utcnow`, and the column defaults that use `utcnow`) reads
it through `source`, the only place the application looks at the real clock. The tests replace `source` with
a settable clock (tests/clock.py), so no test depends on the day it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import overload
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TZ = "Europe/Copenhagen"
UTC = ZoneInfo("UTC")


def local_tz() -> ZoneInfo:
    name = current_app.config.get("TIMEZONE", DEFAULT_TZ) if has_app_context() else DEFAULT_TZ
    return ZoneInfo(name)


def wall_clock() -> datetime:
    """The real clock, as an aware UTC datetime."""
    return datetime.now(UTC)


#: Where now(), today() and utcnow() read the time: any callable returning an aware datetime.
#: Looked up on every call, so replacing it also reaches the functions bound as column defaults.
source: Callable[[], datetime] = wall_clock


def now() -> datetime:
    """Aware datetime in the municipality's time zone."""
    return source().astimezone(local_tz())


def today() -> date:
    return now().date()


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """A stored timestamp as an aware datetime: SQLite hands `DateTime(timezone=True)` columns back naive,
    in UTC as they were written; PostgreSQL hands them back aware."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Aware UTC datetime, for stored timestamps."""
    return source().astimezone(UTC)
