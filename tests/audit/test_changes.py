"""Every change passes through a service, and each service records one audit entry in its transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from app.accounts.directory import services as accounts
from app.accounts.directory.importing import ImportRow
from app.calendar import services as calendar
from app.core.exceptions import ValidationFailed
from app.courses import services as courses
from app.courses.models import RunKind, RunStatus
from app.courses.services import CourseDayData, CourseRunData
from app.enrolment import services as enrolment
from app.extensions import db
from app.programmes import feedback as feedback_services
from app.programmes import services as programmes
from app.programmes.services import ProgrammeData
from app.providers import services as providers
from app.providers.services import ProviderData
from tests import factories
from tests.audit.helpers import actions, entries, only

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 1)
DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))


@pytest.fixture
def ref(app):
    return {
        "programme": factories.make_programme(name="Styrket forældreansvar"),
        "provider": factories.make_provider(name="Vilde Læreprocesser"),
        "methods": [factories.make_method("Signs of Safety"), factories.make_method("Familierådslagning")],
        "roles": [factories.make_staff_role("Sagsbehandler")],
    }


def run_data(ref, **overrides) -> CourseRunData:
    values = dict(
        programme_id=ref["programme"].id,
        provider_id=ref["provider"].id,
        title="Hold 2",
        kind=RunKind.STANDARD,
        method_ids=tuple(m.id for m in ref["methods"]),
        staff_role_ids=(ref["roles"][0].id,),
        capacity=35,
        enrolment_deadline=date(2026, 4, 1),
        venue="FIC, Valby",
        price_ore=0,
        teaching_day_1=CourseDayData(DAYS[0]),
        teaching_day_2=CourseDayData(DAYS[1]),
        follow_up=CourseDayData(None),
    )
    values.update(overrides)
    return CourseRunData(**values)


def test_a_run_is_logged_from_creation_to_cancellation_with_the_changed_fields(coordinator, ref):
    run = courses.create_course_run(coordinator, run_data(ref), {}, 3)
    db.session.commit()
    created = only("run.create")
    assert (created.actor_id, created.object_type, created.object_id) == (coordinator.id, "run", run.id)

    courses.publish_course_run(coordinator, run)
    db.session.commit()
    courses.update_course_run(
        coordinator,
        run,
        run_data(
            ref,
            capacity=40,
            method_ids=(ref["methods"][0].id,),
            teaching_day_2=CourseDayData(date(2026, 4, 16)),
            follow_up=CourseDayData(DAYS[2]),
        ),
        {},
        3,
        now=NOW,
        today=TODAY,
    )
    db.session.commit()
    update = only("run.update")
    assert update.details["fields"] == ["capacity", "methods"]
    assert update.details["days"] == {"2": ["day"]}
    assert update.details["days_moved"] == [2]

    courses.cancel_course_run(coordinator, run, now=NOW)
    db.session.commit()
    assert actions("run.") == ["run.create", "run.publish", "run.update", "run.cancel"]


def test_an_edit_that_changes_nothing_names_no_fields(coordinator, ref):
    run = courses.create_course_run(coordinator, run_data(ref), {}, 3)
    db.session.commit()
    courses.update_course_run(
        coordinator, run, run_data(ref, follow_up=CourseDayData(run.days[2].day)), {}, 3, now=NOW, today=TODAY
    )
    db.session.commit()
    assert only("run.update").details == {"fields": [], "days": {}}


def test_a_refused_change_logs_nothing(coordinator, ref):
    with pytest.raises(ValidationFailed, match="Skriv kursusforløbets titel"):
        courses.create_course_run(coordinator, run_data(ref, title=""), {}, 3)
    db.session.rollback()
    assert entries() == []


def test_enrolments_log_self_on_behalf_cancel_and_promotion_with_the_person_as_subject(coordinator):
    run = factories.make_course_run(days=DAYS, capacity=1, enrolment_deadline=date(2026, 4, 1))
    first, second = factories.make_eligible_staff(run, 2)
    mine = enrolment.enrol(first, run.id, first, NOW, TODAY)
    db.session.commit()
    theirs = enrolment.enrol(coordinator, run.id, second, NOW, TODAY)
    db.session.commit()
    enrolment.cancel(first, mine.id, NOW, TODAY)  # the seat goes to the waiting list
    db.session.commit()

    log = [(e.action, e.actor_id, e.subject_id, e.object_id, e.details.get("on_behalf", False)) for e in entries()]
    assert log == [
        ("enrolment.confirmed", first.id, first.id, mine.id, False),
        ("enrolment.waitlisted", coordinator.id, second.id, theirs.id, True),
        ("enrolment.cancelled", first.id, first.id, mine.id, False),
        ("enrolment.promoted", None, second.id, theirs.id, False),  # the system did it
    ]
    assert all(e.details["run"] == run.id for e in entries())


def test_attendance_is_one_entry_per_marking(coordinator):
    run = factories.make_course_run(days=DAYS)
    a, b = factories.make_eligible_staff(run, 2)
    ea, eb = factories.make_enrolment(run, a), factories.make_enrolment(run, b)
    enrolment.record_attendance(coordinator, run.days[0].id, [ea.id], NOW, date(2026, 4, 14))
    db.session.commit()
    entry = only("attendance.record")
    assert (entry.object_type, entry.object_id) == ("course_day", run.days[0].id)
    assert entry.details == {"run": run.id, "present": 1, "absent": 1, "changed_enrolments": sorted([ea.id, eb.id])}


def test_users_are_logged_with_field_names_deactivation_and_never_the_password(coordinator):
    data = accounts.UserData(name="Ny Person", email="ny@test.dk", access_level="staff", password="hemmelig-kode-1")
    user = accounts.create_user(actor=coordinator, data=data)
    db.session.commit()
    created = only("user.create")
    assert (created.subject_id, created.details) == (user.id, {"access_level": "staff", "password": "set"})

    accounts.update_user(user, actor=coordinator, data=replace(data, name="Ny Navn", password="endnu-en-kode-2"))
    db.session.commit()
    assert only("user.update").details == {"fields": ["name", "password"]}

    accounts.update_user(user, actor=coordinator, data=replace(data, name="Ny Navn", password=None, active=False))
    db.session.commit()
    assert only("user.deactivate").details == {"fields": ["active"]}
    accounts.update_user(user, actor=coordinator, data=replace(data, name="Ny Navn", password=None, active=True))
    db.session.commit()
    assert only("user.activate").subject_id == user.id
    assert not any("hemmelig" in str(e.details) or "endnu" in str(e.details) for e in entries())


def test_reference_data_and_the_staff_import_are_logged(coordinator):
    role = accounts.create_staff_role(actor=coordinator, name="Sagsbehandler")
    accounts.update_staff_role(role, actor=coordinator, name="Socialrådgiver")
    unit = accounts.create_unit(actor=coordinator, name="Amager")
    accounts.update_unit(unit, actor=coordinator, name="Amager", parent_id=None)
    db.session.commit()
    accounts.apply_staff_import(coordinator, [ImportRow(2, "Ida Import", "ida@test.dk", "Socialrådgiver", "Amager")])
    db.session.commit()
    assert actions() == ["staff_role.create", "staff_role.update", "unit.create", "unit.update", "staff.import"]
    assert only("staff_role.update").details == {"fields": ["name"]}
    assert only("unit.update").details == {"fields": []}
    assert only("staff.import").details == {"created": 1, "updated": 0, "unchanged": 0}


def test_programmes_budgets_providers_and_closed_days_are_logged(coordinator):
    provider = providers.create_provider(
        ProviderData(name="FIC", contact_name=None, contact_email=None, contact_phone=None, notes=None, active=True),
        actor=coordinator,
    )
    providers.update_provider(
        provider,
        ProviderData(name="FIC", contact_name="Frida", contact_email=None, contact_phone=None, notes=None, active=True),
        actor=coordinator,
    )
    data = ProgrammeData(
        name="Indsats",
        description=None,
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        target_deadline=date(2026, 12, 31),
        target_runs=2,
        target_completed_staff=10,
        effect_target=None,
    )
    programme = programmes.create_programme(data, actor=coordinator)
    programmes.update_programme(programme, replace(data, target_runs=3), actor=coordinator)
    allocation = programmes.add_budget_allocation(programme, provider, 2026, 100_00, actor=coordinator)
    programmes.update_budget_allocation(allocation, 200_00, actor=coordinator)
    closed = calendar.add_closed_day(date(2026, 6, 5), "Grundlovsdag", actor=coordinator)
    calendar.update_closed_day(closed, date(2026, 6, 5), "Grundlovsdag (hele dagen)", actor=coordinator)
    db.session.commit()
    assert actions() == [
        "provider.create",
        "provider.update",
        "programme.create",
        "programme.update",
        "budget.create",
        "budget.update",
        "closed_day.create",
        "closed_day.update",
    ]
    assert only("provider.update").details == {"fields": ["contact_name"]}
    assert only("programme.update").details == {"fields": ["target_runs"]}
    assert only("budget.update").details["amount_ore"] == {"old": 100_00, "new": 200_00}
    assert only("closed_day.update").details["fields"] == ["reason"]
    assert all(e.actor_id == coordinator.id for e in entries())


def test_feedback_is_logged_without_the_answers_or_the_free_text(app):
    programme = factories.make_programme(ends_on=date(2026, 12, 31), target_deadline=date(2026, 12, 31))
    run = factories.make_course_run(
        programme, days=(date(2026, 1, 5), date(2026, 1, 6), date(2026, 2, 2)), status=RunStatus.PUBLISHED
    )
    (staff,) = factories.make_eligible_staff(run, 1)
    mine = factories.make_enrolment(run, staff)
    for day in run.days:
        factories.make_attendance(mine, day)
    answers = {m.id: ("never", "often") for m in run.methods}
    feedback_services.save_feedback(
        mine, answers=answers, earlier="yes", free_text="Meget personlig tekst", now=NOW, today=TODAY
    )
    db.session.commit()
    entry = only("feedback.submit")
    assert (entry.actor_id, entry.subject_id, entry.details) == (staff.id, staff.id, {"run": run.id})
    assert "personlig" not in str(entry.details)


def test_system_jobs_log_with_no_actor(app):
    from scheduler import jobs

    run = factories.make_course_run(days=DAYS, enrolment_deadline=date(2026, 4, 1))
    evening = datetime(2026, 4, 15, 19, 0, tzinfo=UTC)  # teaching day 2, after 18:00 local time
    assert jobs.confirm_follow_up_days(evening) == [run.id]
    entry = only("run.follow_up_confirmed")
    assert (entry.actor_id, entry.object_id, entry.details["moved"]) == (None, run.id, False)


def test_a_failed_mail_sent_again_is_logged_with_its_recipient(coordinator, staff_member):
    from email.message import EmailMessage

    from app.notifications import outbox
    from app.notifications.models import OutboxStatus

    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "Besked", "kp@test.dk", staff_member.email
    msg.set_content("Hej")
    row = outbox.enqueue(
        msg, kind="notice", dedupe_key="n:1", recipient_email=staff_member.email, now=NOW, user_id=staff_member.id
    )
    row.status = OutboxStatus.FAILED
    db.session.commit()
    outbox.retry(coordinator, row.id, NOW)
    db.session.commit()
    entry = only("mail.retry")
    assert (entry.actor_id, entry.subject_id, entry.object_id, entry.details) == (
        coordinator.id,
        staff_member.id,
        row.id,
        {"kind": "notice"},
    )
