"""Jinja filters and globals: locale-aware dates, times and money; navigation per access level."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache

from babel.dates import format_date as babel_format_date
from flask import Flask, request, url_for
from flask_babel import format_datetime, format_decimal, get_locale, get_timezone
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.core.access import AccessLevel
from app.core.money import ore_to_kroner

#: (endpoint, label, levels). Order is the order in the header.
NAVIGATION = (
    ("enrolment.my_courses", _l("Mine kurser"), (AccessLevel.STAFF,)),
    ("courses.run_list", _l("Kursusforløb"), (AccessLevel.COORDINATOR, AccessLevel.STAFF, AccessLevel.PROVIDER)),
    ("programmes.programme_list", _l("Indsatser"), (AccessLevel.COORDINATOR,)),
    ("providers.provider_list", _l("Udbydere"), (AccessLevel.COORDINATOR,)),
    ("accounts.user_list", _l("Medarbejdere"), (AccessLevel.COORDINATOR,)),
    ("main.settings", _l("Stamdata"), (AccessLevel.COORDINATOR,)),
)


def dk_date(value: date | datetime | None, fmt: str = "long") -> str:
    """1. oktober 2008 (da) / October 1, 2008 (en); '' for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return _format_date(value, fmt, str(get_locale()))


@lru_cache(maxsize=16384)
def _format_date(value: date, fmt: str, locale: str) -> str:
    """Babel's formatting, remembered: a list page formats the same few hundred dates on every request, and
    each costs Babel a pattern lookup and parse (~40 µs). Named formats are Babel's own for the locale
    (the app sets no BABEL date_formats of its own)."""
    return babel_format_date(value, fmt, locale=locale)


def dk_datetime(value: datetime | None, fmt: str = "medium") -> str:
    """A moment in the user's time zone and language; '' for None."""
    if value is None:
        return ""
    return _format_datetime(value, fmt, str(get_locale()), str(get_timezone()))


@lru_cache(maxsize=16384)
def _format_datetime(value: datetime, fmt: str, locale: str, timezone: str) -> str:
    """Flask-Babel's formatting, remembered per (moment, format, locale, time zone) — the arguments that
    decide its result: the run page formats the same hundred enrolment times on every request."""
    return format_datetime(value, fmt)


def dk_time(value: time | None) -> str:
    """kl. 09.00 in Danish, 09:00 in English."""
    if value is None:
        return ""
    if str(get_locale()) == "da":
        return f"kl. {value:%H.%M}"
    return f"{value:%H:%M}"


def money(ore: int | None) -> str:
    """375.000 kr. (da) / DKK 375,000 (en) from integer øre."""
    amount = ore_to_kroner(ore)
    fmt = "#,##0" if amount == amount.to_integral() else "#,##0.00"
    number = format_decimal(amount, fmt)
    return f"{number} kr." if str(get_locale()) == "da" else f"DKK {number}"


def nav_items() -> list[dict]:
    if not current_user.is_authenticated:
        return []
    items = []
    for endpoint, label, levels in NAVIGATION:
        if current_user.access_level in levels:
            url = url_for(endpoint)
            items.append({"url": url, "label": label, "active": request.path.startswith(url)})
    return items


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(dk_date=dk_date, dk_datetime=dk_datetime, dk_time=dk_time, money=money)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _globals() -> dict:
        return {
            "nav_items": nav_items,
            "current_locale": lambda: str(get_locale()),
            "municipality_name": app.config["MUNICIPALITY_NAME"],
            "AccessLevel": AccessLevel,
        }
