"""The one seam for wall-clock time. Services take `now`/`today` as parameters; views ask here."""
from __future__ import annotations

from datetime import date, datetime
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


def utcnow() -> datetime:
    """Aware UTC datetime, for stored timestamps."""
    return datetime.now(ZoneInfo("UTC"))
