"""The run page (courses.run_detail), assembled in one place: the run with its days, and the enrolment
panels for the current user — the staff member's own enrolment and enrol form, or the participants section
for the coordinator and the run's provider. `render_run_page()` is what the run page's GET and a rejected
enrol form both show."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from app.audit.services import record_read
from app.core import clock
from app.courses.models import CourseRun, RunStatus
from app.enrolment import services
from app.enrolment.coordinator_forms import CoordinatorEnrolForm
from app.enrolment.forms import EnrolForm
from app.enrolment.models import EnrolmentStatus

__all__ = ["participants_panel_context", "render_run_page", "run_page_context", "staff_panel_context"]


def render_run_page(run: CourseRun, *, staff_form: EnrolForm | None = None) -> str:
    """The run page; `staff_form` is a submitted enrol form to show again with its errors."""
    return render_template("courses/run_detail.html", run=run, **run_page_context(run, staff_form=staff_form))


def run_page_context(run: CourseRun, *, staff_form: EnrolForm | None = None) -> dict:
    """What the run page needs about enrolments, for the current user's access level."""
    if current_user.is_staff:
        return staff_panel_context(run, staff_form)
    return participants_panel_context(run)


def staff_panel_context(run: CourseRun, form: EnrolForm | None = None) -> dict:
    """The staff member's own enrolment, why they can't enrol (if so), the enrol form, overlaps.

    `form` is a submitted form to show again with its errors; otherwise a blank one is made when the
    user may enrol. The rules (may enrol, may still cancel) are decided here, not in the template.
    """
    user, today = current_user, clock.today()
    enrolment = services.active_enrolment(user.id, run.id)
    position = None
    if enrolment is not None and enrolment.status == EnrolmentStatus.WAITLISTED:
        position = services.waitlist_positions([run.id]).get(enrolment.id)
    refusal = services.self_enrolment_refusal(user, run, today) if enrolment is None else None
    may_enrol = enrolment is None and refusal is None
    earlier_note = None
    if may_enrol and form is None:
        # Enrolling again: the note of the earlier enrolment, offered to keep, change or clear.
        earlier_note = services.earlier_note(user.id, run.id)
        form = EnrolForm.for_run(run, formdata=None, note=earlier_note)
        if earlier_note:
            form.note.description = " ".join(
                (
                    str(form.note.description),
                    _("Bemærkningen fra din tidligere tilmelding er udfyldt; ret eller slet den."),
                )
            )
    may_cancel = enrolment is not None and services.may_cancel_self(enrolment, run, today)
    return {
        "my_enrolment": enrolment,
        "my_position": position,
        "enrol_refusal": refusal,
        "staff_enrol_form": form if may_enrol else None,
        "run_is_full": run.seats_left == 0,
        "overlaps": services.overlapping_runs(user.id, run) if (may_enrol or enrolment is not None) else [],
        "may_cancel_own": may_cancel,
        "after_deadline_message": services.after_deadline_message() if enrolment and not may_cancel else None,
    }


def participants_panel_context(run: CourseRun) -> dict:
    """The participants section of the run page (coordinator; the run's provider).

    The lists come from services.run_participants (a fixed number of queries, whatever the run's size);
    the coordinator also gets the on-behalf enrolment form and what stands between the run and
    "completed".
    """
    participants = services.run_participants(run)
    confirmed_ids = [p.enrolment.id for p in participants.confirmed]
    attendance_days = [
        {
            "day": day,
            "registered": sum(1 for e in confirmed_ids if (e, day.id) in participants.marks),
            "present": sum(1 for e in confirmed_ids if participants.marks.get((e, day.id))),
        }
        for day in run.days
    ]
    context = {
        "participants": participants,
        "attendance_days": attendance_days,
        "can_manage": False,
        "enrol_form": None,
        "completion_problems": None,
    }
    everyone = [*participants.confirmed, *participants.waitlisted, *participants.requested, *participants.history]
    people = len(everyone)
    if request.method == "GET" and people:
        record_read(
            "participants.view",
            object_type="run",
            object_id=run.id,
            details={"people": people},
            shown=[p.enrolment for p in everyone],
        )
    if current_user.is_coordinator:
        context["can_manage"] = run.can_edit
        if run.status == RunStatus.PUBLISHED:
            context["enrol_form"] = CoordinatorEnrolForm(formdata=None)
            context["completion_problems"] = services.completion_problems(run, clock.today(), participants)
    return context
