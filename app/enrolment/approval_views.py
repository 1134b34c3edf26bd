"""The leader's page "Godkendelser" (issue 24), on the enrolment blueprint: the pending requests of the
leader's staff, and the decision on one. Rules in app.enrolment.approval; a request of someone the user
does not lead answers 404 (its existence is not theirs to learn)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.directory.leaders import load_leadership
from app.audit.services import record_read
from app.core import clock
from app.core.access import AccessLevel, allow
from app.core.exceptions import DomainError
from app.core.transaction import refused
from app.enrolment import approval
from app.enrolment.forms import ApprovalDecisionForm
from app.enrolment.models import Enrolment, EnrolmentStatus
from app.enrolment.views import bp
from app.extensions import db


def may_see_approvals(user, **_kwargs) -> bool:
    """A staff member who leads at least one unit."""
    return bool(user.is_leader)


def leads_requester(user, enrolment_id: int, **_kwargs) -> bool:
    """The enrolment exists and `user` leads its person (not themself), whatever the request's state: a
    decided one answers with a message, not a 404."""
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or enrolment.user_id == user.id or enrolment.user.unit_id is None:
        return False
    return user.id in load_leadership().leaders_of(enrolment.user.unit_id)


def _form(enrolment_id: int) -> ApprovalDecisionForm:
    return ApprovalDecisionForm(prefix=f"e{enrolment_id}")


def _page(failed: ApprovalDecisionForm | None = None, failed_id: int | None = None, status: int = 200):
    pending = approval.pending_for(current_user)
    record_read("approval.list", shown=pending, details={"requests": len(pending)})
    forms = {e.id: (failed if e.id == failed_id and failed is not None else _form(e.id)) for e in pending}
    return render_template("enrolment/approvals.html", pending=pending, forms=forms), status


@bp.get("/approvals")
@allow(AccessLevel.STAFF, check=may_see_approvals)
def approvals():
    """The requests waiting for this leader: person, unit, run, its dates and cost; approve or reject each."""
    return _page()


@bp.post("/approvals/<int:enrolment_id>")
@allow(AccessLevel.STAFF, check=leads_requester)
def approval_decide(enrolment_id: int):
    """Approve or reject one request, with an optional reason mailed to the person."""
    form = _form(enrolment_id)
    if not form.validate_on_submit():
        return _page(form, enrolment_id, 400)
    try:
        enrolment = approval.decide(
            current_user, enrolment_id, form.decision.data == "approve", form.reason.data, clock.utcnow()
        )
    except DomainError as exc:
        refused(exc, form)
        if exc.field and exc.field in form:
            return _page(form, enrolment_id, 400)
        return redirect(url_for(".approvals"))
    name = enrolment.user.name
    if enrolment.status == EnrolmentStatus.REJECTED:
        flash(_("Tilmeldingen fra %(name)s er afvist.", name=name), "success")
    elif enrolment.status == EnrolmentStatus.REQUESTED:
        flash(_("Tilmeldingen fra %(name)s er godkendt og venter nu på kursuskoordinatoren.", name=name), "success")
    elif enrolment.status == EnrolmentStatus.WAITLISTED:
        flash(
            _(
                "Tilmeldingen fra %(name)s er godkendt. Kursusforløbet er fuldt, så %(name)s er sat på ventelisten.",
                name=name,
            ),
            "success",
        )
    else:
        flash(_("Tilmeldingen fra %(name)s er godkendt, og der er en plads.", name=name), "success")
    return redirect(url_for(".approvals"))
