"""Jinja filters and globals: locale-aware dates, times and money; navigation per access level."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import get_timezone as babel_get_timezone
from babel.lists import format_list
from babel.numbers import format_decimal as babel_format_decimal
from flask import Flask, request, url_for
from flask_babel import get_timezone
from flask_login import current_user
from markupsafe import Markup, escape

from app.core.access import AccessLevel
from app.core.i18n import _l, locale_name
from app.core.money import ore_to_kroner

#: (endpoint, label, levels). Order is the order in the header. Staff see the competence overview and the
#: approvals (Godkendelser) only when they lead a unit (`LEADERS_ONLY`; User.is_leader is loaded with the user,
#: no query of its own).
NAVIGATION = (
    ("enrolment.my_courses", _l("Mine kurser"), (AccessLevel.STAFF,)),
    ("courses.run_list", _l("Kursusforløb"), (AccessLevel.COORDINATOR, AccessLevel.STAFF, AccessLevel.PROVIDER)),
    ("programmes.programme_list", _l("Indsatser"), (AccessLevel.COORDINATOR,)),
    ("providers.provider_list", _l("Udbydere"), (AccessLevel.COORDINATOR,)),
    ("accounts.user_list", _l("Brugere"), (AccessLevel.COORDINATOR,)),
    ("competence.overview_index", _l("Kompetenceoverblik"), (AccessLevel.COORDINATOR, AccessLevel.STAFF)),
    ("enrolment.approvals", _l("Godkendelser"), (AccessLevel.STAFF,)),
    ("main.settings", _l("Stamdata"), (AccessLevel.COORDINATOR,)),
)

LEADERS_ONLY = frozenset({"competence.overview_index", "enrolment.approvals"})


#: Explicit patterns per UI language for Babel's named formats. Danish dates keep Babel's own ("7. dec. 2026");
#: English is European English with the day first and the month as a word, never the US "12/7/26, 1:35 PM" of
#: Babel's plain "en": a Danish reader must not have to guess day from month.
#: A format not named here (e.g. "EEEE") is a Babel pattern and is used as it is.
DATE_PATTERNS = {
    "en": {"short": "d MMM y", "medium": "d MMM y", "long": "d MMMM y", "full": "EEEE d MMMM y"},
}
#: Moments never show seconds, and Danish says "kl." with the house's "13.35" (as `dk_time` does): Babel's
#: own Danish ("07.12.2026 13.35.00") has neither. "short" and "medium" are the same unambiguous form in
#: both languages; "time" is the time of day alone, for a sentence ("kl. 13.35" / "13:35").
DATETIME_PATTERNS = {
    "da": {
        "short": "d. MMM y 'kl.' HH.mm",
        "medium": "d. MMM y 'kl.' HH.mm",
        "long": "d. MMMM y 'kl.' HH.mm",
        "full": "EEEE 'den' d. MMMM y 'kl.' HH.mm",
        "time": "'kl.' HH.mm",
    },
    "en": {
        "short": "d MMM y, HH:mm",
        "medium": "d MMM y, HH:mm",
        "long": "d MMMM y, HH:mm",
        "full": "EEEE d MMMM y, HH:mm",
        "time": "HH:mm",
    },
}


def dk_date(value: date | datetime | None, fmt: str = "long") -> str:
    """1. oktober 2008 (da) / 1 October 2008 (en); '' for None. Named formats: short, medium, long, full."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return _format_date(value, fmt, locale_name())


@lru_cache(maxsize=16384)
def _format_date(value: date, fmt: str, locale: str) -> str:
    """Babel's formatting, remembered: a list page formats the same few hundred dates on every request, and
    each costs Babel a pattern lookup and parse (~40 µs). The one home of date formats (`DATE_PATTERNS`)."""
    return babel_format_date(value, DATE_PATTERNS.get(locale, {}).get(fmt, fmt), locale=locale)


def dk_datetime(value: datetime | None, fmt: str = "medium") -> str:
    """A moment in the user's time zone and language — 7. dec. 2026 kl. 13.35 (da) / 7 Dec 2026, 13:35 (en);
    '' for None. A naive value is UTC. Pages, mails and exports all format moments here."""
    if value is None:
        return ""
    return _format_datetime(value, fmt, locale_name(), str(get_timezone()))


@lru_cache(maxsize=16384)
def _format_datetime(value: datetime, fmt: str, locale: str, timezone: str) -> str:
    """Babel's formatting, remembered per (moment, format, locale, time zone) — the arguments that
    decide its result: the run page formats the same hundred enrolment times on every request."""
    pattern = DATETIME_PATTERNS.get(locale, {}).get(fmt, fmt)
    return babel_format_datetime(value, pattern, tzinfo=babel_get_timezone(timezone), locale=locale)


def dk_time(value: time | None) -> str:
    """kl. 09.00 in Danish, 09:00 in English."""
    if value is None:
        return ""
    if locale_name() == "da":
        return f"kl. {clock_time(value)}"
    return clock_time(value)


def time_range(start: time, end: time) -> str:
    """A day's hours: "kl. 09.00–15.30" in Danish ("kl." once), "09:00–15:30" in English. The one home for
    pages, mails, calendars and the sign-in sheet. The language looked up once: a run list shows ~100 of them."""
    if locale_name() == "da":
        return f"kl. {start:%H.%M}–{end:%H.%M}"
    return f"{start:%H:%M}–{end:%H:%M}"


def clock_time(value: time | datetime) -> str:
    """The bare time of day, 24-hour: 09.00 in Danish, 09:00 in English (for a sentence that says "kl."/"at")."""
    return f"{value:%H.%M}" if locale_name() == "da" else f"{value:%H:%M}"


#: Dates in spreadsheet files (CSV cells, the XLSX cells' number formats) are the same in both languages and
#: on purpose plain: dd-mm-yyyy and 24-hour hh:mm with no "kl.", which Excel and LibreOffice in a Danish or
#: English setup read back as a date. A naive value is already the municipality's wall-clock time.
SHEET_DATE = "%d-%m-%Y"
SHEET_DATETIME = "%d-%m-%Y %H:%M"
XLSX_DATE = "dd-mm-yyyy"
XLSX_DATETIME = "dd-mm-yyyy hh:mm"


def sheet_date(value: date) -> str:
    """07-12-2026: a date a spreadsheet reads back as a date."""
    return value.strftime(SHEET_DATE)


def sheet_datetime(value: datetime) -> str:
    """07-12-2026 13:35: a moment a spreadsheet reads back as one (no seconds)."""
    return value.strftime(SHEET_DATETIME)


def money(ore: int | None) -> str:
    """375.000 kr. (da) / DKK 375,000 (en) from integer øre."""
    return _format_money(ore, locale_name())


@lru_cache(maxsize=16384)
def _format_money(ore: int | None, locale: str) -> str:
    """Babel's formatting, remembered per (amount, locale): the programme dashboard shows some 300 amounts, at
    ~35 µs each through Flask-Babel and Babel's pattern parsing (issue 22), most of them the same few."""
    amount = ore_to_kroner(ore)
    fmt = "#,##0" if amount == amount.to_integral() else "#,##0.00"
    number = babel_format_decimal(amount, fmt, locale=locale)
    return f"{number} kr." if locale == "da" else f"DKK {number}"


def and_list(items) -> Markup:
    """ "X, Y og Z" (da) / "X, Y and Z" (en, British: no comma before "and"): a list inside a sentence.
    Each item is escaped unless it is already markup (e.g. a link), so a template may list links."""
    locale = "en_GB" if locale_name() == "en" else locale_name()
    return Markup(format_list([str(escape(item)) for item in items], locale=locale))  # noqa: S704 (escaped above)


#: A number no real id takes, built into a URL in place of the id and then cut out (`url_template`).
_ID_MARK = 987_654_321_987


class url_template:  # noqa: N801 (a template global, used like a function)
    """The URLs of one endpoint for many ids, built once: `url_template('enrolment.enrolment_cancel',
    'enrolment_id')(42)` is `url_for('enrolment.enrolment_cancel', enrolment_id=42)`.

    A run page of 100 participants builds ~350 URLs of four endpoints, ~25 µs each through Flask's and
    Werkzeug's routing (issue 22); this builds one URL per endpoint with a marker number in place of the id
    (so the script root, the blueprint's prefix and any other `values` are Flask's own) and fills in each id
    with a format. The ids are integers (`<int:…>` rules); anything the marker cannot stand for alone falls
    back to `url_for`."""

    __slots__ = ("_endpoint", "_key", "_values", "_prefix", "_suffix")

    def __init__(self, endpoint: str, key: str, **values: Any) -> None:
        self._endpoint, self._key, self._values = endpoint, key, values
        url = url_for(endpoint, **{**values, key: _ID_MARK})
        parts = url.split(str(_ID_MARK))
        self._prefix: str | None = parts[0] if len(parts) == 2 else None
        self._suffix: str = parts[-1]

    def __call__(self, value: Any) -> str:
        if self._prefix is None or type(value) is not int or value < 0:
            return url_for(self._endpoint, **{**self._values, self._key: value})
        return f"{self._prefix}{value}{self._suffix}"


def nav_items() -> list[dict]:
    if not current_user.is_authenticated:
        return []
    items = []
    for endpoint, label, levels in NAVIGATION:
        if current_user.access_level in levels:
            if endpoint in LEADERS_ONLY and current_user.is_staff and not current_user.is_leader:
                continue
            url = url_for(endpoint)
            items.append({"url": url, "label": label, "active": request.path.startswith(url)})
    return items


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        dk_date=dk_date,
        dk_datetime=dk_datetime,
        dk_time=dk_time,
        time_range=time_range,
        money=money,
        and_list=and_list,
    )
    app.jinja_env.globals["url_template"] = url_template
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _globals() -> dict:
        return {
            "nav_items": nav_items,
            "current_locale": locale_name,
            "municipality_name": app.config["MUNICIPALITY_NAME"],
            "AccessLevel": AccessLevel,
        }
