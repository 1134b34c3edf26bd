"""The one seam for wall-clock time. Services take `now`/`today` as parameters; views ask here."""

from __future__ import annotations

from datetime import date, datetime
from typing import overload
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TZ = "Europe/Copenhagen"


def local_tz() -> ZoneInfo:
    name = current_app.config.get("TIMEZONE", DEFAULT_TZ) if has_app_context() else DEFAULT_TZ
    return ZoneInfo(name)


def now() -> datetime:
    """Aware datetime in the municipality's time zone."""
    return datetime.now(local_tz())


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
    return value.replace(tzinfo=ZoneInfo("UTC"))


def utcnow() -> datetime:
    """Aware UTC datetime, for stored timestamps."""
    return datetime.now(ZoneInfo("UTC"))
