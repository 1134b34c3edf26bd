"""Enrolment pages. Staff: enrol, cancel, my courses. The coordinator's pages (on-behalf enrolment,
approval, promotion, moves, attendance, completion) live in coordinator_views.py on the same blueprint
(`create_app` imports both). The run page's enrolment panels are assembled in run_page.py."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import exists, select

from app.calendar.views import calendar_section
from app.core import clock
from app.core.access import AccessLevel, allow
from app.core.exceptions import Conflict, DomainError
from app.core.transaction import refused
from app.courses.models import CourseRun, RunStatus
from app.courses.services import run_visible_to
from app.enrolment import services
from app.enrolment.forms import EnrolForm
from app.enrolment.models import Enrolment, EnrolmentStatus
from app.enrolment.run_page import render_run_page
from app.extensions import db
from app.programmes.feedback import feedback_links

bp = Blueprint("enrolment", __name__)


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _run_page(run_id: int):
    return redirect(url_for("courses.run_detail", run_id=run_id, _anchor="tilmelding"))


def may_use_run(user, run_id: int) -> bool:
    """Ownership rule of the staff member's enrol and cancel: the run exists and they may see it, or they
    hold or held an enrolment on it. Anything else answers 404, as the run page does: the existence of a
    run of another staff role, or of a draft, is not the user's to learn (app.core.access)."""
    run = db.session.get(CourseRun, run_id)
    if run is None:
        return False
    if run_visible_to(user, run):
        return True
    return bool(
        db.session.scalar(select(exists().where(Enrolment.user_id == user.id, Enrolment.course_run_id == run_id)))
    )


def _back_from(run: CourseRun):
    """Where a refusal that concerns no field is shown: the run page if the user may see the run, else Mine
    kurser (a run they have an enrolment on but may no longer see: its role or status changed)."""
    if run_visible_to(current_user, run):
        return _run_page(run.id)
    return redirect(url_for(".my_courses"))


def _refused(run: CourseRun, message: str):
    flash(message, "error")
    return _back_from(run)


def _invalid_form(run: CourseRun, form: EnrolForm):
    """The form had errors. Say first what matters more (already enrolled; may not enrol at all), else
    show the run page again with the messages next to the fields."""
    existing = services.active_enrolment(current_user.id, run.id)
    if existing is not None:
        flash(services.already_enrolled_message(existing), "info")
        return _run_page(run.id)
    refusal = services.self_enrolment_refusal(current_user, run, clock.today())
    if refusal:
        return _refused(run, refusal)
    return render_run_page(run, staff_form=form)


def _enrolled_message(enrolment: Enrolment) -> str:
    title = enrolment.run.title
    if enrolment.status == EnrolmentStatus.WAITLISTED:
        position = services.waitlist_positions([enrolment.course_run_id]).get(enrolment.id)
        return _("Kursusforløbet %(title)s er fuldt. Du er sat på ventelisten som nr. %(n)s.", title=title, n=position)
    if enrolment.status == EnrolmentStatus.REQUESTED and enrolment.awaits_leader:
        return _("Din tilmelding til %(title)s afventer godkendelse fra din leder.", title=title)
    if enrolment.status == EnrolmentStatus.REQUESTED:
        return _("Din tilmelding til %(title)s afventer godkendelse fra kursuskoordinatoren.", title=title)
    return _("Du er tilmeldt %(title)s.", title=title)


# --------------------------------------------------------------------------------------------------
# Enrol and cancel
# --------------------------------------------------------------------------------------------------


@bp.post("/runs/<int:run_id>/enrol")
@allow(AccessLevel.STAFF, check=may_use_run)
def enrol(run_id: int):
    """A staff member enrols themself: confirmed while seats are left, else on the waiting list (or
    awaiting approval where the run requires it)."""
    run = db.get_or_404(CourseRun, run_id)
    form = EnrolForm.for_run(run)
    if not form.validate_on_submit():
        return _invalid_form(run, form)
    practice_case = form.practice_case.data if "practice_case" in form else None
    try:
        enrolment = services.enrol(
            current_user,
            run.id,
            current_user,
            clock.utcnow(),
            clock.today(),
            practice_case=practice_case,
            note=form.note.data,
        )
    except Conflict as exc:  # already enrolled: a double-clicked submit lands here, harmlessly
        refused(exc, category="info")
        return _run_page(run.id)
    except DomainError as exc:
        refused(exc, form)
        return _invalid_form(run, form) if exc.field and exc.field in form else _back_from(run)
    flash(_enrolled_message(enrolment), "success")
    return _run_page(run.id)


@bp.post("/runs/<int:run_id>/cancel")
@allow(AccessLevel.STAFF, check=may_use_run)
def cancel(run_id: int):
    """A staff member cancels their own enrolment (until the enrolment deadline); a freed seat goes to the
    first on the waiting list in the same transaction."""
    run = db.get_or_404(CourseRun, run_id)
    try:
        services.cancel_own(current_user, run.id, clock.utcnow(), clock.today())
    except DomainError as exc:
        refused(exc)
        return _back_from(run)
    flash(_("Du er afmeldt %(title)s.", title=run.title), "success")
    return redirect(url_for(".my_courses"))


# --------------------------------------------------------------------------------------------------
# My courses
# --------------------------------------------------------------------------------------------------


@bp.get("/me/courses")
@allow(AccessLevel.STAFF)
def my_courses():
    """ "Mine kurser": the staff member's runs, one card each (status, the course days, attendance, cancel,
    the run's history), upcoming first and the rest folded away below; and the calendar section (the
    personal feed's address, if created: GET never creates it). A run whose follow-up-day feedback waits
    for an answer stays among the upcoming ones, where its button is seen."""
    today = clock.today()
    courses = services.my_courses(current_user, today)
    feedback = feedback_links([c.enrolment.id for c in courses], today)

    def upcoming(course: services.MyCourse) -> bool:
        fb = feedback.get(course.enrolment.id)
        return course.is_upcoming(today) or bool(fb and not fb.closed and not fb.answered)

    return render_template(
        "enrolment/my_courses.html",
        current=[c for c in courses if upcoming(c)],
        history=[c for c in courses if not upcoming(c)],
        RunStatus=RunStatus,
        feedback=feedback,
        **calendar_section(current_user),
    )
