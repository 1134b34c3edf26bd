"""`flask demo scale`: a national-size data set, consistent with what the services would have written."""

from __future__ import annotations

from sqlalchemy import func, select

from app.accounts.models import User
from app.courses.models import CourseDay, CourseRun, RunStatus, run_eligible_roles
from app.demo import load_reference_data
from app.enrolment.models import Attendance, Enrolment, EnrolmentStatus
from app.extensions import db


def _scale(app, *args):
    load_reference_data()  # roles, methods, providers (the whole `demo load` isn't needed)
    db.session.commit()
    return app.test_cli_runner().invoke(args=["demo", "scale", *args])


def test_scale_inserts_the_asked_for_sizes(app):
    result = _scale(app, "--municipalities", "4", "--staff", "300", "--runs", "30", "--enrolments", "600")
    assert result.exit_code == 0, result.output
    assert "300 staff, 30 runs, 600 enrolments" in result.output
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email.like("%@scale.test"))) == 300
    runs = db.session.scalars(select(CourseRun).where(CourseRun.title.like("Tidlig inddragelse, hold %"))).all()
    assert len(runs) == 30
    assert (
        db.session.scalar(
            select(func.count()).select_from(CourseDay).where(CourseDay.course_run_id.in_([r.id for r in runs]))
        )
        == 90
    )


def test_scale_data_is_consistent(app):
    assert _scale(app, "--municipalities", "3", "--staff", "200", "--runs", "20", "--enrolments", "300").exit_code == 0
    scale_runs = select(CourseRun.id).where(CourseRun.title.like("Tidlig inddragelse, hold %"))
    # every enrolment is of a staff member of an eligible role
    ineligible = db.session.scalar(
        select(func.count())
        .select_from(Enrolment)
        .join(User, User.id == Enrolment.user_id)
        .where(Enrolment.course_run_id.in_(scale_runs))
        .where(
            ~select(run_eligible_roles.c.staff_role_id)
            .where(
                run_eligible_roles.c.course_run_id == Enrolment.course_run_id,
                run_eligible_roles.c.staff_role_id == User.staff_role_id,
            )
            .exists()
        )
    )
    assert ineligible == 0
    for run in db.session.scalars(select(CourseRun).where(CourseRun.id.in_(scale_runs))):
        confirmed = db.session.scalar(
            select(func.count())
            .select_from(Enrolment)
            .where(Enrolment.course_run_id == run.id, Enrolment.status == EnrolmentStatus.CONFIRMED)
        )
        assert run.seats_taken == confirmed <= run.capacity
        marks = db.session.scalar(
            select(func.count()).select_from(Attendance).join(Enrolment).where(Enrolment.course_run_id == run.id)
        )
        assert marks == (3 * confirmed if run.status == RunStatus.COMPLETED else 0)
        assert [d.day.weekday() < 5 for d in run.days] == [True, True, True]
        assert run.first_day == min(d.day for d in run.days)  # written by Core: no before_flush hook


def test_scale_refuses_a_second_data_set(app):
    assert _scale(app, "--municipalities", "1", "--staff", "5", "--runs", "1", "--enrolments", "3").exit_code == 0
    again = app.test_cli_runner().invoke(args=["demo", "scale", "--staff", "5", "--runs", "1"])
    assert again.exit_code != 0 and "already holds a scale data set" in again.output


def test_scale_needs_the_reference_data(app):
    result = app.test_cli_runner().invoke(args=["demo", "scale", "--staff", "5", "--runs", "1"])
    assert result.exit_code != 0 and "flask demo load" in result.output
