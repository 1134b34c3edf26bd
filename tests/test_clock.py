"""The tests' clock (tests/clock.py, fixtures in tests/conftest.py): every test reads the same fixed instant
through app.core.clock, may move it, and does not depend on the real date.

`KP_REAL_CLOCK=2031-01-01 pytest` runs the whole suite with the real clock moved (time-machine)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from app.core import clock as seam
from app.extensions import db
from tests import factories
from tests.clock import FROZEN_AT
from tests.querycount import assert_rows

CPH = ZoneInfo("Europe/Copenhagen")


def test_every_reading_of_the_seam_is_the_frozen_instant(app):
    assert seam.now() == FROZEN_AT and seam.now().tzinfo.key == "Europe/Copenhagen"
    assert seam.today() == date(2026, 3, 2)
    assert seam.utcnow() == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    user = factories.make_user()  # a column default (TimestampMixin.created_at) reads the seam too
    assert seam.as_utc(user.created_at) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_test_moves_time_with_the_clock_fixture(app, clock):
    clock.advance(days=1, hours=2)
    assert seam.now() == datetime(2026, 3, 3, 12, 0, tzinfo=CPH)
    clock.set(date(2026, 3, 29))  # a date: 10:00 local time, here the first day of summer time
    assert seam.utcnow() == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    clock.set(datetime(2026, 10, 25, 2, 30))  # naive: Copenhagen wall time
    assert seam.now().utcoffset() == timedelta(hours=2)
    assert seam.today() == clock.today() == date(2026, 10, 25)


def test_a_page_that_depends_on_the_date_does_not_depend_on_the_real_one(client, login_as, monkeypatch):
    """The run's enrolment deadline (1 April 2026) has passed on the real clock of any later run of the suite:
    the staff list shows it only because the test reads the frozen clock. Moved years ahead, the real clock
    changes nothing; the seam's real source would."""
    run = factories.make_course_run(
        days=(date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15)), enrolment_deadline=date(2026, 4, 1)
    )
    (staff,) = factories.make_eligible_staff(run, 1)
    db.session.commit()
    with time_machine.travel(datetime(2030, 6, 1, 12, 0, tzinfo=UTC), tick=False):
        assert datetime.now(UTC).year == 2030 and date.today().year == 2030  # the real clock did move
        login_as(staff)  # (the session cookie's signature is dated on the real clock, as in production)
        assert_rows(client.get("/runs").get_data(), run.title, 1)
        monkeypatch.setattr(seam, "source", seam.wall_clock)  # what a test on the real clock would see
        assert run.title not in client.get("/runs").get_data(as_text=True)
