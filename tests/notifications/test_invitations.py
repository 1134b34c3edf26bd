"""The calendar sync through the real services: what lands in the outbox when people enrol, cancel, are
promoted, moved, approved or rejected, and when the coordinator moves a date or cancels a run.

Every calendar part is read back with vobject (a second parser, independent of icalendar, which wrote it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from email import message_from_bytes, policy

import pytest
import vobject
from sqlalchemy import select

from app.courses import services as course_services
from app.enrolment import services
from app.extensions import db
from app.notifications.ical import event_uid
from app.notifications.models import CalendarInvitation, OutboxMessage, OutboxStatus
from scheduler import jobs
from tests import factories
from tests.querycount import recorded_statements

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
#: Teaching days on both sides of the spring DST change (29 March 2026), follow-up after the autumn one.
DAYS = (date(2026, 3, 27), date(2026, 3, 30), date(2026, 10, 26))


@pytest.fixture
def run(app):
    return factories.make_course_run(
        title="Tidlig inddragelse, hold Æ",
        days=DAYS,
        capacity=2,
        enrolment_deadline=date(2026, 3, 20),
        venue="Kursuscenter Valby",
    )


def outbox(**filters) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    for name, value in filters.items():
        stmt = stmt.where(getattr(OutboxMessage, name) == value)
    return list(db.session.scalars(stmt))


def parsed(row: OutboxMessage):
    return message_from_bytes(row.message, policy=policy.default)


def calendar(row: OutboxMessage):
    """(the MIME method parameter, the vobject calendar) of an invitation row."""
    for part in parsed(row).walk():
        if part.get_content_type() == "text/calendar":
            return part.get_param("method"), vobject.readOne(part.get_payload(decode=True).decode("utf-8"))
    return None, None


def mark_all_sent():
    for row in outbox(status=OutboxStatus.PENDING):
        row.status = OutboxStatus.SENT
    db.session.commit()


def enrol(run, user, actor=None, now=NOW, today=TODAY, **kw):
    enrolment = services.enrol(actor or user, run.id, user, now, today, **kw)
    db.session.commit()
    return enrolment


def test_a_confirmed_enrolment_gets_one_request_per_course_day(run):
    (staff,) = factories.make_eligible_staff(run, 1)
    enrolment = enrol(run, staff)
    rows = outbox(recipient_email=staff.email)
    assert [r.kind for r in rows] == ["invitation"] * 3
    assert [r.dedupe_key for r in rows] == [f"invite:{d.id}:{enrolment.id}:0" for d in run.days]
    for row, day in zip(rows, run.days, strict=True):
        method, cal = calendar(row)
        assert method == "REQUEST" and cal.method.value == "REQUEST"
        (event,) = cal.vevent_list
        assert event.uid.value == event_uid(day)
        assert int(event.sequence.value) == 0
        assert event.status.value == "CONFIRMED"
        assert [a.value for a in event.attendee_list] == [f"mailto:{staff.email}"]
    # Copenhagen wall-clock 09.00: UTC+1 before 29 March, UTC+2 after, UTC+1 again after 25 October.
    starts = [calendar(r)[1].vevent.dtstart.value for r in rows]
    assert starts == [
        datetime(2026, 3, 27, 8, 0, tzinfo=UTC),
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
        datetime(2026, 10, 26, 8, 0, tzinfo=UTC),
    ]
    follow_up_text = parsed(rows[2]).get_body(("plain",)).get_content()
    assert "foreløbig" in follow_up_text
    assert "foreløbig" not in parsed(rows[0]).get_body(("plain",)).get_content()
    held = db.session.scalars(select(CalendarInvitation).where(CalendarInvitation.enrolment_id == enrolment.id)).all()
    assert len(held) == 3 and all(h.active and h.sequence == 0 for h in held)


def test_the_recipients_language_decides_the_mail(run):
    (staff,) = factories.make_eligible_staff(run, 1, locale="en")
    enrol(run, staff)
    row = outbox(recipient_email=staff.email)[0]
    assert parsed(row)["Content-Language"] == "en"
    assert "Teaching day 1, 27 March 2026" in row.subject


def test_waiting_list_and_cancellation_of_a_confirmed_participant(run, coordinator):
    a, b, c = factories.make_eligible_staff(run, 3)
    first, _second, third = enrol(run, a), enrol(run, b), enrol(run, c)
    waitlisted = outbox(recipient_email=c.email)
    assert [r.kind for r in waitlisted] == ["waitlisted"]
    assert calendar(waitlisted[0]) == (None, None)
    assert "nr. 1" in parsed(waitlisted[0]).get_body(("plain",)).get_content()
    mark_all_sent()

    services.cancel(a, first.id, NOW, TODAY)
    db.session.commit()
    cancellations = outbox(recipient_email=a.email, status=OutboxStatus.PENDING)
    assert [r.kind for r in cancellations] == ["cancellation"] * 3
    for row in cancellations:
        method, cal = calendar(row)
        assert method == "CANCEL" and cal.method.value == "CANCEL"
        assert int(cal.vevent.sequence.value) == 1
        assert not hasattr(cal.vevent, "status")  # one attendee removed; the day itself takes place
        assert "REQUEST" not in row.message.decode("ascii", "replace").split("\r\n\r\n", 1)[1]
    promoted = outbox(recipient_email=c.email, status=OutboxStatus.PENDING)
    assert [r.kind for r in promoted] == ["invitation"] * 3
    assert {r.dedupe_key for r in promoted} == {f"invite:{d.id}:{third.id}:0" for d in run.days}
    # Nobody else got mail: a per-attendee cancellation does not raise the day's own sequence.
    assert outbox(recipient_email=b.email, status=OutboxStatus.PENDING) == []
    assert [d.sequence for d in run.days] == [0, 0, 0]


def test_cancelling_before_the_invitations_went_out_withdraws_them(run):
    (staff,) = factories.make_eligible_staff(run, 1)
    enrolment = enrol(run, staff)
    services.cancel(staff, enrolment.id, NOW, TODAY)
    db.session.commit()
    rows = outbox(recipient_email=staff.email)
    assert [(r.kind, r.status) for r in rows] == [("invitation", OutboxStatus.SUPERSEDED)] * 3 + [
        ("cancelled", OutboxStatus.PENDING)
    ]


def test_a_withdrawn_invitation_leaves_nothing_to_cancel_later(run, coordinator):
    """The invitations were withdrawn before they went out: the participant's calendar holds nothing, so a
    later change of the run sends them nothing either (no cancellation of days they never had)."""
    (staff,) = factories.make_eligible_staff(run, 1)
    enrolment = enrol(run, staff)
    services.cancel(staff, enrolment.id, NOW, TODAY)
    db.session.commit()
    held = db.session.scalars(select(CalendarInvitation).where(CalendarInvitation.enrolment_id == enrolment.id)).all()
    assert [h.active for h in held] == [False] * 3
    sent_before = len(outbox(recipient_email=staff.email))
    data = run_data_of(run, teaching_day_1=date(2026, 3, 26))
    course_services.update_course_run(coordinator, run, data, {}, 3, now=NOW, today=TODAY)
    db.session.commit()
    assert len(outbox(recipient_email=staff.email)) == sent_before


def test_a_failed_invitation_is_cancelled_not_withdrawn(run, coordinator):
    """An invitation the mail server refused stays failed (the coordinator may send it again from the outbox
    page), so cancelling the enrolment cancels the days rather than quietly withdrawing the invitation."""
    (staff,) = factories.make_eligible_staff(run, 1)
    enrolment = enrol(run, staff)
    for row in outbox(status=OutboxStatus.PENDING):
        row.status = OutboxStatus.FAILED
    db.session.commit()
    services.cancel(coordinator, enrolment.id, NOW, TODAY)
    db.session.commit()
    rows = outbox(recipient_email=staff.email)
    assert [r.status for r in rows if r.kind == "invitation"] == [OutboxStatus.FAILED] * 3
    cancellations = [r for r in rows if r.kind == "cancellation"]
    assert {calendar(r)[1].vevent.uid.value for r in cancellations} == {event_uid(d) for d in run.days}


def test_cancelling_while_the_follow_up_confirmation_is_unsent_cancels_the_follow_up_day(run, coordinator):
    """As with a moved date (tests/notifications/test_cancel_after_update.py): the follow-up job's update is
    still waiting when the participant is cancelled, and their calendar holds the provisional follow-up day
    from the delivered invitation, so only a CANCEL takes it out."""
    (staff,) = factories.make_eligible_staff(run, 1)
    enrolment = enrol(run, staff)
    mark_all_sent()
    evening = datetime(2026, 3, 30, 16, 30, tzinfo=UTC)  # teaching day 2, 18.30 in Copenhagen
    assert jobs.confirm_follow_up(run.id, evening)
    db.session.commit()
    assert [r.kind for r in outbox(recipient_email=staff.email, status=OutboxStatus.PENDING)] == ["follow_up_confirmed"]
    services.cancel(coordinator, enrolment.id, evening, date(2026, 3, 30))
    db.session.commit()
    pending = outbox(recipient_email=staff.email, status=OutboxStatus.PENDING)
    cancellations = [r for r in pending if r.kind == "cancellation"]
    assert [calendar(r)[1].vevent.uid.value for r in cancellations] == [event_uid(run.days[2])]


def test_re_enrolling_after_a_cancellation_outranks_the_cancellation(run):
    (staff,) = factories.make_eligible_staff(run, 1)
    first = enrol(run, staff)
    mark_all_sent()
    services.cancel(staff, first.id, NOW, TODAY)
    db.session.commit()
    mark_all_sent()
    enrol(run, staff)
    invitation = outbox(recipient_email=staff.email, status=OutboxStatus.PENDING)[0]
    # Same UID as before (the day's), and a SEQUENCE above the cancellation's 1 (issue 19: it was 0, which a
    # calendar ignores as older than the CANCEL it holds).
    assert int(calendar(invitation)[1].vevent.sequence.value) == 2
    assert calendar(invitation)[1].vevent.uid.value == event_uid(run.days[0])


def test_a_moved_date_sends_an_update_to_those_holding_the_day(run, coordinator):
    a, b = factories.make_eligible_staff(run, 2)
    enrol(run, a), enrol(run, b)
    mark_all_sent()
    data = run_data_of(run, teaching_day_1=date(2026, 3, 26))
    course_services.update_course_run(coordinator, run, data, {}, 3, now=NOW, today=TODAY)
    db.session.commit()
    updates = outbox(status=OutboxStatus.PENDING)
    day1 = run.days[0]
    assert {r.recipient_email for r in updates} == {a.email, b.email}
    assert {r.kind for r in updates} == {"update"}
    for row in updates:
        method, cal = calendar(row)
        assert method == "REQUEST"
        assert cal.vevent.uid.value == event_uid(day1)
        assert int(cal.vevent.sequence.value) == day1.sequence == 1
        assert cal.vevent.dtstart.value == datetime(2026, 3, 26, 8, 0, tzinfo=UTC)


def run_data_of(run, teaching_day_1):
    """What the edit form would submit for `run`, with teaching day 1 moved."""
    if not run.methods:
        method = factories.make_method()
        run.methods.append(method)
    day1 = run.days[0]
    moved = course_services.CourseDayData(teaching_day_1, day1.starts_at, day1.ends_at, day1.venue)
    return factories.run_data_of(run, teaching_day_1=moved)


def test_a_cancelled_run_sends_status_cancelled_to_every_holder(run, coordinator):
    a, b = factories.make_eligible_staff(run, 2)
    enrol(run, a), enrol(run, b)
    mark_all_sent()
    course_services.cancel_course_run(coordinator, run, now=NOW)
    db.session.commit()
    rows = outbox(status=OutboxStatus.PENDING)
    assert len(rows) == 6 and {r.kind for r in rows} == {"day_cancelled"}
    for row in rows:
        method, cal = calendar(row)
        assert method == "CANCEL" and cal.vevent.status.value == "CANCELLED"
        assert int(cal.vevent.sequence.value) == 1


def test_days_that_have_ended_get_no_mail(run, coordinator):
    (staff,) = factories.make_eligible_staff(run, 1)
    after_day_1 = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    services.enrol(coordinator, run.id, staff, after_day_1, date(2026, 3, 28))
    db.session.commit()
    assert [r.dedupe_key.split(":")[1] for r in outbox()] == [str(run.days[1].id), str(run.days[2].id)]


def test_approval_and_rejection(app, coordinator):
    run = factories.make_course_run(days=DAYS, capacity=5, requires_approval=True, enrolment_deadline=date(2026, 3, 20))
    a, b = factories.make_eligible_staff(run, 2)
    first, second = enrol(run, a), enrol(run, b)
    assert [r.kind for r in outbox()] == ["requested", "requested"]
    services.approve(coordinator, first.id, NOW)
    services.reject(coordinator, second.id, NOW)
    db.session.commit()
    assert [r.kind for r in outbox(recipient_email=a.email)] == ["requested"] + ["invitation"] * 3
    rejected = outbox(recipient_email=b.email)
    assert [r.kind for r in rejected] == ["requested", "rejected"]
    assert calendar(rejected[-1]) == (None, None)  # a rejection never carries a REQUEST


def test_a_move_cancels_the_old_days_and_invites_to_the_new(run, coordinator):
    target = factories.make_course_run(
        programme=run.programme,
        days=(date(2026, 4, 20), date(2026, 4, 21), date(2026, 7, 21)),
        capacity=5,
        enrolment_deadline=date(2026, 4, 1),
    )
    (staff,) = factories.make_eligible_staff(run, 1)
    target.eligible_roles.append(staff.staff_role)
    enrolment = enrol(run, staff)
    mark_all_sent()
    services.move(coordinator, enrolment.id, target.id, NOW, TODAY)
    db.session.commit()
    rows = outbox(status=OutboxStatus.PENDING)
    assert sorted((r.kind, r.course_run_id) for r in rows) == sorted(
        [("cancellation", run.id)] * 3 + [("invitation", target.id)] * 3
    )


def test_absence_after_the_follow_up_confirmation_withdraws_the_follow_up_day(run, coordinator):
    a, b = factories.make_eligible_staff(run, 2)
    ea, eb = enrol(run, a), enrol(run, b)
    mark_all_sent()
    run.follow_up_confirmed_at = NOW
    db.session.commit()
    day1 = run.days[0]
    services.record_attendance(coordinator, day1.id, [ea.id], datetime(2026, 3, 27, 16, tzinfo=UTC), DAYS[0])
    db.session.commit()
    rows = outbox(status=OutboxStatus.PENDING)
    assert [(r.recipient_email, r.kind) for r in rows] == [(b.email, "cancellation")]
    assert calendar(rows[0])[1].vevent.uid.value == event_uid(run.days[2])
    # Corrected: present after all -> the follow-up day comes back, outranking the cancellation.
    services.record_attendance(coordinator, day1.id, [ea.id, eb.id], datetime(2026, 3, 27, 17, tzinfo=UTC), DAYS[0])
    db.session.commit()
    newest = outbox(status=OutboxStatus.PENDING)[-1]
    assert (newest.recipient_email, newest.kind) == (b.email, "invitation")
    assert int(calendar(newest)[1].vevent.sequence.value) == 2


def test_the_sync_issues_the_same_number_of_queries_for_3_and_30_participants(app, coordinator):

    from app.enrolment.invitations import sync_run

    def count_for(n):
        run = factories.make_course_run(days=DAYS, capacity=40, enrolment_deadline=date(2026, 3, 20))
        for user in factories.make_eligible_staff(run, n):
            factories.make_enrolment(run, user)
        db.session.commit()
        run.days[0].day, run.days[0].starts_at = date(2026, 3, 26), time(10)
        run.days[0].sequence += 1
        db.session.flush()
        with recorded_statements() as statements:
            report = sync_run(run, NOW)
        db.session.rollback()
        # One INSERT per mail queued, plus the row writes at flush: only reads are compared.
        return report, len([s for s in statements if s.lstrip().upper().startswith("SELECT")])

    (small, small_reads), (large, large_reads) = count_for(3), count_for(30)
    assert small.invitations == 9 and large.invitations == 90
    assert small_reads == large_reads
