"""Time-travel tests of the scheduler's jobs: the clock is a parameter, nobody sleeps.

The follow-up job on the evening of teaching day 2, reminders before course days, the feedback request
after the follow-up day. Calendar parts are read back with vobject (not the library that wrote them).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy

import pytest
import vobject
from flask import current_app

from app.enrolment import services
from app.enrolment.reminders import due_reminder_offset
from app.extensions import db
from app.notifications.ical import event_uid
from app.notifications.models import OutboxMessage, OutboxStatus
from scheduler import jobs
from tests import factories
from tests.notifications.test_invitations import mark_all_sent, outbox

#: Teaching days Tuesday 29 and Wednesday 30 September 2026; the follow-up day is proposed for
#: 30 December 2026 (+3 months, a Wednesday) and stored as such.
DAYS = (date(2026, 9, 29), date(2026, 9, 30), date(2026, 12, 30))
BEFORE = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
#: 18:00 in Copenhagen on teaching day 2 (summer time: UTC+2).
EVENING_OF_DAY_2 = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)


@pytest.fixture
def run(app):
    run = factories.make_course_run(days=DAYS, capacity=10, enrolment_deadline=date(2026, 9, 20))
    run.follow_up_proposed_on = DAYS[2]
    db.session.commit()
    return run


def vevent(row: OutboxMessage):
    for part in message_from_bytes(row.message, policy=policy.default).walk():
        if part.get_content_type() == "text/calendar":
            return vobject.readOne(part.get_payload(decode=True).decode("utf-8")).vevent
    raise AssertionError("no calendar part")


def enrol_all(run, users, now=BEFORE, actor=None):
    enrolments = [services.enrol(actor or u, run.id, u, now, now.date()) for u in users]
    db.session.commit()
    return enrolments


def attend(run, coordinator, present_ids, day_index):
    day = run.days[day_index]
    services.record_attendance(coordinator, day.id, present_ids, EVENING_OF_DAY_2 - timedelta(hours=2), day.day)
    db.session.commit()


# --- the follow-up job ---------------------------------------------------------------------------------------


def test_the_follow_up_job_is_due_on_the_evening_of_teaching_day_2(run):
    assert jobs.follow_up_due_times(BEFORE) == {run.id: EVENING_OF_DAY_2}
    assert jobs.confirm_follow_up(run.id, EVENING_OF_DAY_2 - timedelta(minutes=1)) is False
    assert jobs.confirm_follow_up_days(EVENING_OF_DAY_2 - timedelta(minutes=1)) == []


def test_teaching_day_2_passes_follow_up_fixed_and_invitations_for_those_present(run, coordinator):
    present_1, present_2, absent = factories.make_eligible_staff(run, 3)
    e1, e2, e3 = enrol_all(run, [present_1, present_2, absent])
    mark_all_sent()
    attend(run, coordinator, [e1.id, e2.id, e3.id], 0)
    attend(run, coordinator, [e1.id, e2.id], 1)  # absent missed teaching day 2
    assert outbox(status=OutboxStatus.PENDING) == []  # attendance alone sends nothing before the job

    assert jobs.confirm_follow_up_days(EVENING_OF_DAY_2 + timedelta(minutes=3)) == [run.id]
    db.session.refresh(run)
    follow_up_day = run.days[2]
    assert run.follow_up_confirmed_at is not None
    assert follow_up_day.day == DAYS[2] and follow_up_day.sequence == 1
    rows = outbox(status=OutboxStatus.PENDING)
    assert sorted((r.recipient_email, r.kind) for r in rows) == sorted(
        [
            (present_1.email, "follow_up_confirmed"),
            (present_2.email, "follow_up_confirmed"),
            (absent.email, "cancellation"),
        ]
    )
    for row in rows:
        event = vevent(row)
        assert event.uid.value == event_uid(follow_up_day)
        assert int(event.sequence.value) == 1
    confirmed = next(r for r in rows if r.kind == "follow_up_confirmed")
    assert "fastlagt" in message_from_bytes(confirmed.message, policy=policy.default).get_body(("plain",)).get_content()
    # Runs once: later runs of the job, or the date job firing too, do nothing.
    assert jobs.confirm_follow_up(run.id, EVENING_OF_DAY_2 + timedelta(hours=1)) is False
    assert jobs.confirm_follow_up_days(EVENING_OF_DAY_2 + timedelta(hours=2)) == []
    assert jobs.follow_up_due_times(EVENING_OF_DAY_2 + timedelta(hours=2)) == {}
    assert len(outbox(status=OutboxStatus.PENDING)) == 3


def test_the_job_applies_the_rule_again_when_a_closed_day_was_added(run, coordinator):
    (staff,) = factories.make_eligible_staff(run, 1)
    enrol_all(run, [staff])
    mark_all_sent()
    factories.make_closed_day(DAYS[2], "Lukket mellem jul og nytår")
    db.session.commit()
    assert jobs.confirm_follow_up(run.id, EVENING_OF_DAY_2) is True
    db.session.refresh(run)
    assert run.days[2].day == date(2026, 12, 31)  # the next working day (31 December is not a holiday)
    (row,) = outbox(status=OutboxStatus.PENDING)
    assert vevent(row).dtstart.value == datetime(2026, 12, 31, 8, 0, tzinfo=UTC)


def test_a_date_the_coordinator_chose_is_kept(run):
    run.days[2].day = date(2027, 1, 12)  # overridden: differs from the stored proposal
    factories.make_closed_day(date(2027, 1, 12), "Temadag")
    db.session.commit()
    assert jobs.confirm_follow_up(run.id, EVENING_OF_DAY_2) is True
    db.session.refresh(run)
    assert run.days[2].day == date(2027, 1, 12)


def test_nothing_fires_for_a_cancelled_run_or_one_whose_follow_up_day_began(app, run, coordinator):
    from app.courses import services as course_services

    course_services.cancel_course_run(coordinator, run, now=BEFORE)
    db.session.commit()
    assert jobs.follow_up_due_times(BEFORE) == {}
    assert jobs.confirm_follow_up(run.id, EVENING_OF_DAY_2) is False
    history = factories.make_course_run(days=(date(2008, 9, 30), date(2008, 10, 1), date(2009, 1, 2)))
    assert jobs.follow_up_due_times(EVENING_OF_DAY_2) == {}
    assert jobs.confirm_follow_up(history.id, EVENING_OF_DAY_2) is False


def test_moving_teaching_day_2_later_makes_the_follow_up_day_provisional_again(run, coordinator):
    from dataclasses import replace

    from app.courses import services as course_services
    from tests.notifications.test_invitations import run_data_of

    factories.make_eligible_staff(run, 1)  # the run needs an eligible staff role to be saved
    assert jobs.confirm_follow_up(run.id, EVENING_OF_DAY_2) is True
    data = run_data_of(run, teaching_day_1=DAYS[0])
    data = replace(data, teaching_day_2=replace(data.teaching_day_2, day=date(2026, 10, 7)))
    course_services.update_course_run(coordinator, run, data, {}, 3, now=EVENING_OF_DAY_2 + timedelta(hours=1))
    db.session.commit()
    assert run.follow_up_confirmed_at is None
    assert jobs.follow_up_due_times(EVENING_OF_DAY_2)[run.id] == datetime(2026, 10, 7, 16, 0, tzinfo=UTC)


# --- reminders ----------------------------------------------------------------------------------------------

#: Teaching day 1 starts 09.00 Copenhagen time = 07.00 UTC on 29 September 2026.
DAY_1_START = datetime(2026, 9, 29, 7, 0, tzinfo=UTC)


def test_which_reminder_is_due():
    offsets = (7, 1)
    assert due_reminder_offset(DAY_1_START, DAY_1_START - timedelta(days=8), offsets) is None
    assert due_reminder_offset(DAY_1_START, DAY_1_START - timedelta(days=7), offsets) == 7
    assert due_reminder_offset(DAY_1_START, DAY_1_START - timedelta(days=3), offsets) == 7
    assert due_reminder_offset(DAY_1_START, DAY_1_START - timedelta(hours=20), offsets) == 1
    assert due_reminder_offset(DAY_1_START, DAY_1_START, offsets) is None


def reminders(day=None, **filters):
    """Reminder rows, of one course day if given."""
    rows = outbox(kind="reminder", **filters)
    return [r for r in rows if day is None or r.dedupe_key.startswith(f"reminder:{day.id}:")]


def test_reminders_7_and_1_days_before_each_day_once(run, coordinator):
    early, late = factories.make_eligible_staff(run, 2)
    (early_enrolment,) = enrol_all(run, [early])
    # Enrolled by the coordinator 2 days before day 1 (after the deadline): no "7 days before" reminder.
    enrol_all(run, [late], now=DAY_1_START - timedelta(days=2), actor=coordinator)
    day_1 = run.days[0]
    jobs.queue_reminders(DAY_1_START - timedelta(days=7, minutes=1))
    assert reminders(day_1) == []
    jobs.queue_reminders(DAY_1_START - timedelta(days=7) + timedelta(minutes=4))
    jobs.queue_reminders(DAY_1_START - timedelta(days=6))  # again: nothing new for day 1
    assert [r.dedupe_key for r in reminders(day_1)] == [f"reminder:{day_1.id}:{early_enrolment.id}:7"]
    # 1 day before: both (the late enrolment was confirmed before that moment).
    jobs.queue_reminders(DAY_1_START - timedelta(hours=23))
    rows = reminders(day_1)
    assert sorted((r.recipient_email, r.dedupe_key.rsplit(":", 1)[1]) for r in rows) == sorted(
        [(early.email, "7"), (early.email, "1"), (late.email, "1")]
    )
    body = message_from_bytes(rows[-1].message, policy=policy.default).get_body(("plain",)).get_content()
    assert "tirsdag den 29. september 2026" in body
    assert "kl. 09.00" in body


def test_a_reminder_names_the_day_in_a_sentence_and_in_the_recipients_language(run):
    """ "Husk, at du skal på kursus <date>: 1. undervisningsdag i kursusforløbet »…«": the date in the person's
    own language too (it was formatted once, in Danish, before the per-language rendering)."""
    danish, english = factories.make_eligible_staff(run, 2)
    english.locale = "en"
    enrol_all(run, [danish, english])
    jobs.queue_reminders(DAY_1_START - timedelta(hours=23))
    bodies = {
        r.recipient_email: message_from_bytes(r.message, policy=policy.default).get_body(("plain",)).get_content()
        for r in reminders(run.days[0])
    }
    sentence = "Husk, at du skal på kursus tirsdag den 29. september 2026: 1. undervisningsdag i kursusforløbet"
    assert f"{sentence} »{run.title}«." in bodies[danish.email]
    assert "Tuesday 29 September 2026" in bodies[english.email], bodies[english.email]
    assert "september 2026" not in bodies[english.email]


def test_after_a_long_outage_only_the_nearest_reminder_goes_and_none_once_the_day_began(run):
    (staff,) = factories.make_eligible_staff(run, 1)
    enrol_all(run, [staff])
    day_1, day_2 = run.days[0], run.days[1]
    # The scheduler was down from 10 days before until 12 hours before day 1: day 1's 7-day reminder is
    # skipped, its 1-day reminder goes (and day 2's 7-day one, due since 36 hours).
    jobs.queue_reminders(DAY_1_START - timedelta(hours=12))
    assert [r.dedupe_key.rsplit(":", 1)[1] for r in reminders(day_1)] == ["1"]
    assert [r.dedupe_key.rsplit(":", 1)[1] for r in reminders(day_2)] == ["7"]
    # Down over day 1 itself: nothing more about a day that has begun; day 2's 1-day reminder is due.
    jobs.queue_reminders(DAY_1_START + timedelta(hours=2))
    assert len(reminders(day_1)) == 1
    assert [r.dedupe_key.rsplit(":", 1)[1] for r in reminders(day_2)] == ["7", "1"]


def test_no_reminder_for_the_waiting_list_or_the_cancelled(app):
    run = factories.make_course_run(days=DAYS, capacity=1, enrolment_deadline=date(2026, 9, 20))
    confirmed, waiting, cancelled = factories.make_eligible_staff(run, 3)
    enrol_all(run, [confirmed, waiting])
    gone = services.enrol(cancelled, run.id, cancelled, BEFORE, BEFORE.date())
    db.session.commit()
    assert gone.status.value == "waitlisted"
    services.cancel(cancelled, gone.id, BEFORE, BEFORE.date())
    db.session.commit()
    assert jobs.queue_reminders(DAY_1_START - timedelta(days=6)) == 2  # teaching days 1 and 2
    assert {r.recipient_email for r in reminders()} == {confirmed.email}


# --- the feedback request ------------------------------------------------------------------------------------

FOLLOW_UP_END = datetime(2026, 12, 30, 14, 30, tzinfo=UTC)  # 15.30 Copenhagen time


def test_feedback_request_after_the_follow_up_day_to_those_present_once(run, coordinator):
    present, absent = factories.make_eligible_staff(run, 2)
    e1, e2 = enrol_all(run, [present, absent])
    follow_up_day = run.days[2]
    services.record_attendance(coordinator, follow_up_day.id, [e1.id], FOLLOW_UP_END, follow_up_day.day)
    db.session.commit()
    assert jobs.queue_feedback_requests(FOLLOW_UP_END - timedelta(minutes=5)) == 0  # the day has not ended
    assert jobs.queue_feedback_requests(FOLLOW_UP_END + timedelta(minutes=5)) == 1
    assert jobs.queue_feedback_requests(FOLLOW_UP_END + timedelta(days=1)) == 0
    (row,) = outbox(kind="feedback")
    assert row.recipient_email == present.email and row.dedupe_key == f"feedback:{e1.id}"
    body = message_from_bytes(row.message, policy=policy.default).get_body(("plain",)).get_content()
    assert f"{current_app.config['BASE_URL'].rstrip('/')}/me/feedback/{e1.id}" in body
    # Long after the day: nothing (history, e.g. the demo's 2008 runs, is never mailed).
    db.session.delete(row)
    db.session.commit()
    assert jobs.queue_feedback_requests(FOLLOW_UP_END + timedelta(days=31)) == 0


def test_running_the_reminder_poller_again_queues_nothing_new(run, coordinator):
    """Both pollers only ever add rows with unique dedupe keys: running them again (another process, a
    restart) queues nothing new."""
    (staff,) = factories.make_eligible_staff(run, 1)
    enrol_all(run, [staff])
    moment = DAY_1_START - timedelta(days=6)
    first = jobs.queue_reminders(moment)
    second = jobs.queue_reminders(moment)
    assert (first, second) == (2, 0)  # teaching days 1 and 2, once
    assert len({r.dedupe_key for r in outbox()}) == len(outbox())
