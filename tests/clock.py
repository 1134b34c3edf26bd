"""The tests' clock: a settable stand-in for the real clock behind app.core.clock.

tests/conftest.py puts a `FrozenClock` into `app.core.clock.source` for every test (fixture `clock`), so
`clock.now()`, `clock.today()`, `clock.utcnow()` and the timestamp column defaults all read the same fixed
instant, whatever day the suite runs on. A test moves time with `clock.set(...)` or `clock.advance(...)`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Europe/Copenhagen")
UTC = ZoneInfo("UTC")

#: The instant every test starts at: a Monday morning in Copenhagen, before the fixed dates the tests use
#: in 2026 and 2027 (runs in April 2026 and March 2027 are in the future, the 2008-2009 defaults of
#: tests/factories.py in the past). tests/test_clock.py proves the suite does not read the real clock.
FROZEN_AT = datetime(2026, 3, 2, 10, 0, tzinfo=LOCAL)


class FrozenClock:
    """A clock that stands still until told: call it for the current instant (aware)."""

    def __init__(self, start: datetime = FROZEN_AT):
        self._instant = _aware(start)

    def __call__(self) -> datetime:
        return self._instant

    def set(self, value: datetime | date) -> datetime:
        """Jump to `value`: an aware datetime, a naive one (read as Copenhagen time) or a date (10:00 there)."""
        self._instant = _aware(value)
        return self._instant

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by `delta` or by timedelta keywords (`advance(days=1)`, `advance(minutes=31)`)."""
        self._instant = self._instant + (delta or timedelta()) + timedelta(**parts)
        return self._instant

    def now(self) -> datetime:
        return self._instant.astimezone(LOCAL)

    def today(self) -> date:
        return self.now().date()

    def utcnow(self) -> datetime:
        return self._instant.astimezone(UTC)

    def __repr__(self) -> str:
        return f"FrozenClock({self._instant.isoformat()})"


def _aware(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(10, 0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL)
    return value
