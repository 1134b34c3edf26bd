"""The enrolment POST renders its invitation mails before it takes the run's row lock (issue 22): under the
lock it only checks them against the freshly locked run and queues them. A day changed between rendering and
the lock is rendered again under the lock, with the day's new SEQUENCE and times; a seat that went meanwhile
gives the waiting-list notice and no invitation. Nothing lost, nothing twice."""

from __future__ import annotations

from datetime import date, time
from email import message_from_bytes, policy

import icalendar
import pytest
from sqlalchemy import select, update

from app.courses.models import CourseDay, CourseRun
from app.enrolment import services
from app.enrolment.models import Enrolment, EnrolmentStatus
from app.extensions import db
from app.notifications import compose
from app.notifications.models import CalendarInvitation, OutboxMessage
from tests import factories
from tests.conftest import post_form

TODAY = date(2026, 3, 1)
DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: TODAY)


@pytest.fixture
def run(app):
    return factories.make_course_run(days=DAYS, capacity=2, enrolment_deadline=date(2026, 4, 1), title="Hold 1")


@pytest.fixture
def me(run):
    (user,) = factories.make_eligible_staff(run, 1, name="Sofie Sagsbehandler")
    return user


class Timeline(list):
    def __init__(self) -> None:
        super().__init__()
        self.hooks: list = []


@pytest.fixture
def timeline(monkeypatch):
    """What happened in order: "render" for every calendar mail rendered (both ways of composing share
    `_invitation_parts`), "lock" when the enrolment takes the run's row lock. Functions in `.hooks` run just
    before the lock, as another transaction committing then would."""
    events = Timeline()
    hooks = events.hooks
    real_parts, real_lock = compose._invitation_parts, services.lock_run

    def parts(*args, **kwargs):
        events.append("render")
        return real_parts(*args, **kwargs)

    def lock(run_id):
        for hook in hooks:
            hook(run_id)
        events.append("lock")
        return real_lock(run_id)

    monkeypatch.setattr(compose, "_invitation_parts", parts)
    monkeypatch.setattr(services, "lock_run", lock)
    return events


def enrol(client, run):
    return post_form(client, f"/runs/{run.id}/enrol", {}, form_url=f"/runs/{run.id}")


def mails_to(user) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient_user_id == user.id).order_by(OutboxMessage.id)
        )
    )


def event_of(row: OutboxMessage):
    msg = message_from_bytes(row.message, policy=policy.default)
    (event,) = icalendar.Calendar.from_ical(compose.calendar_of(msg)).walk("VEVENT")
    return event


def test_the_mails_are_rendered_before_the_lock_and_none_under_it(client, login_as, run, me, timeline):
    login_as(me)
    timeline.clear()
    assert enrol(client, run).status_code == 302
    assert timeline == ["render", "render", "render", "lock"]  # three course days, all before the lock
    rows = mails_to(me)
    assert [row.kind for row in rows] == ["invitation"] * 3
    assert [int(event_of(row)["SEQUENCE"]) for row in rows] == [0, 0, 0]
    assert len({row.message for row in rows}) == 3


def test_a_day_changed_between_rendering_and_the_lock_is_rendered_again_with_its_new_sequence(
    client, login_as, run, me, timeline
):
    day = run.days[1]

    def reschedule(_run_id):  # another transaction moves the day (raising its sequence) and commits
        db.session.execute(
            update(CourseDay)
            .where(CourseDay.id == day.id)
            .values(starts_at=time(12, 0), sequence=CourseDay.sequence + 1)
            .execution_options(synchronize_session=False)
        )

    timeline.hooks.append(reschedule)
    login_as(me)
    timeline.clear()
    assert enrol(client, run).status_code == 302
    # Again under the lock: the changed day, and the first day, whose first invitation lists every day.
    assert timeline == ["render", "render", "render", "lock", "render", "render"]
    rows = mails_to(me)
    assert [row.kind for row in rows] == ["invitation"] * 3
    sequences = {row.dedupe_key.split(":")[1]: int(event_of(row)["SEQUENCE"]) for row in rows}
    assert sequences == {str(d.id): (1 if d.id == day.id else 0) for d in run.days}
    moved = next(row for row in rows if row.dedupe_key.startswith(f"invite:{day.id}:"))
    assert event_of(moved)["DTSTART"].dt.hour == 10  # 12.00 in Copenhagen, summer time, in UTC
    invitation = db.session.scalars(select(CalendarInvitation).where(CalendarInvitation.course_day_id == day.id)).one()
    assert (invitation.sequence, invitation.day_revision, invitation.active) == (1, 1, True)


def test_a_seat_taken_between_rendering_and_the_lock_gives_the_waiting_list_and_no_invitation(
    client, login_as, run, me, timeline
):
    (other,) = factories.make_eligible_staff(run, 1)
    factories.make_enrolment(run, other)  # one of two seats taken: the mails are rendered

    def take_the_last_seat(run_id):
        db.session.execute(
            update(CourseRun)
            .where(CourseRun.id == run_id)
            .values(seats_taken=CourseRun.seats_taken + 1)
            .execution_options(synchronize_session=False)
        )

    timeline.hooks.append(take_the_last_seat)
    login_as(me)
    timeline.clear()
    assert enrol(client, run).status_code == 302
    assert timeline == ["render", "render", "render", "lock"]
    enrolment = db.session.scalars(select(Enrolment).where(Enrolment.user_id == me.id)).one()
    assert enrolment.status == EnrolmentStatus.WAITLISTED
    assert [row.kind for row in mails_to(me)] == ["waitlisted"]
    assert db.session.scalars(select(CalendarInvitation)).all() == []


def test_a_run_that_is_full_when_read_renders_nothing_beforehand(client, login_as, run, me, timeline):
    for other in factories.make_eligible_staff(run, 2):
        factories.make_enrolment(run, other)
    login_as(me)
    timeline.clear()
    assert enrol(client, run).status_code == 302
    assert timeline == ["lock"]
    assert [row.kind for row in mails_to(me)] == ["waitlisted"]
