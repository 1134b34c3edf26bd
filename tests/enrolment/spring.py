"""The spring most enrolment tests live in: 1 March 2026, a month before "Hold A"'s enrolment deadline
(1 April) and six weeks before its first teaching day (14 April; the follow-up day is 15 July)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tests import factories

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 1)
DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))
DEADLINE = date(2026, 4, 1)


def hold_a(provider, *, capacity: int):
    """The run the tests enrol into: three days (DAYS), `capacity` seats, open until DEADLINE."""
    return factories.make_course_run(
        provider=provider, days=DAYS, capacity=capacity, enrolment_deadline=DEADLINE, title="Hold A"
    )
