"""Follow-up-day feedback pages: the staff member's form (`/me/feedback/<enrolment>`), the aggregate of a run
(coordinator and the run's provider; providers see free text without names) and of a programme (coordinator).
The rules live in `app.programmes.feedback`."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.audit.services import record_shown
from app.core import clock
from app.core.access import AccessLevel, allow
from app.core.exceptions import DomainError, ValidationFailed
from app.core.transaction import refused
from app.courses.models import CourseRun
from app.courses.services import can_view_run
from app.enrolment.models import Enrolment
from app.extensions import db
from app.programmes import feedback as services
from app.programmes.feedback_forms import FeedbackForm
from app.programmes.models import Programme

bp = Blueprint("feedback", __name__)


def owns_enrolment(user, enrolment_id: int) -> bool:
    """Ownership check: the enrolment exists and is the user's own (otherwise 404)."""
    enrolment = db.session.get(Enrolment, enrolment_id)
    return enrolment is not None and enrolment.user_id == user.id


@bp.route("/me/feedback/<int:enrolment_id>", methods=["GET", "POST"])
@allow(AccessLevel.STAFF, check=owns_enrolment)
def give_feedback(enrolment_id: int):
    """The participant's feedback on a run: given once, edited until the programme closes."""
    enrolment = db.get_or_404(Enrolment, enrolment_id)  # there: the access check loaded it
    run = enrolment.run
    today = clock.today()
    state = services.eligibility(enrolment, today)
    existing = services.feedback_for(enrolment.id)
    closed = services.is_closed(run.programme, today)
    if state != services.Eligibility.ELIGIBLE:
        return _form_page(run=run, enrolment=enrolment, form=None, refusal=state.message, closed=False, existing=None)
    if closed:
        form = FeedbackForm.for_run(run, feedback=existing, formdata=None)
        return _form_page(run=run, enrolment=enrolment, form=form, refusal=None, closed=True, existing=existing)
    form = FeedbackForm.for_run(run, feedback=existing)
    if form.validate_on_submit():
        try:
            services.save_feedback(
                enrolment,
                answers=form.answers(),
                earlier=form.earlier_involvement.data,
                free_text=form.free_text.data,
                now=clock.now(),
                today=today,
            )
        except ValidationFailed as exc:
            refused(exc, form)
        except DomainError as exc:
            refused(exc)
            return redirect(url_for("enrolment.my_courses"))
        else:
            flash(
                _("Tak for din tilbagemelding.") if existing is None else _("Din tilbagemelding er rettet."), "success"
            )
            return redirect(url_for("enrolment.my_courses"))
    return _form_page(run=run, enrolment=enrolment, form=form, refusal=None, closed=False, existing=existing)


@bp.get("/runs/<int:run_id>/feedback")
@allow(AccessLevel.COORDINATOR, AccessLevel.PROVIDER, check=can_view_run)
def run_feedback(run_id: int):
    """The aggregate of a run's feedback; free text with names for the coordinator, without for providers."""
    run = db.get_or_404(CourseRun, run_id)  # there: the access check loaded it
    attributed = current_user.is_coordinator
    # The provider's texts carry no names, but each is still the participant's own words: logged the same way.
    return _summary_page(
        services.free_texts(run_id=run.id, attributed=attributed),
        ("run", run.id),
        run=run,
        programme=run.programme,
        summary=services.summary_for_run(run.id),
        attributed=attributed,
        rates=None,
    )


@bp.get("/programmes/<int:programme_id>/feedback")
@allow(AccessLevel.COORDINATOR)
def programme_feedback(programme_id: int):
    """The aggregate of a programme's feedback, with the response rate per run."""
    programme = db.get_or_404(Programme, programme_id)
    return _summary_page(
        services.free_texts(programme_id=programme.id, attributed=True),
        ("programme", programme.id),
        run=None,
        programme=programme,
        summary=services.summary_for_programme(programme.id),
        attributed=True,
        rates=services.response_rates_by_run(programme.id),
    )


def _summary_page(texts, shown_on: tuple[str, int], **context):
    """The feedback summary page; the free texts it shows are a read of their authors' words (audited)."""
    object_type, object_id = shown_on
    record_shown(
        "feedback.view",
        [t.author_id for t in texts],
        object_type=object_type,
        object_id=object_id,
        details={"texts": len(texts)},
    )
    return render_template("programmes/feedback_summary.html", texts=texts, labels=_labels(), **context)


def _form_page(**context):
    return render_template(
        "programmes/feedback_form.html",
        frequency_label=services.frequency_label,
        earlier_label=services.earlier_label,
        **context,
    )


def _labels() -> dict:
    return {
        "frequency": [(v, services.frequency_label(v)) for v in services.FREQUENCY_SCALE],
        "earlier": [(v, services.earlier_label(v)) for v in services.EARLIER_SCALE],
    }


__all__ = ["bp", "owns_enrolment"]
