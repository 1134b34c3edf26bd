"""Anonymise a leaver: a confirmation page and its POST (coordinators)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.models import User
from app.audit.services import record_read
from app.core import clock
from app.core.access import AccessLevel, allow
from app.core.exceptions import DomainError
from app.core.transaction import refused
from app.extensions import db
from app.privacy import services
from app.privacy.forms import AnonymiseUserForm

bp = Blueprint("privacy", __name__)


@bp.route("/users/<int:user_id>/anonymise", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def anonymise_user(user_id: int):
    """What anonymising the person does, and the typed-name confirmation (irreversible)."""
    user = db.get_or_404(User, user_id)
    if user.is_anonymised:
        abort(404)
    actor = current_user._get_current_object()
    form = AnonymiseUserForm()
    refusal = services.anonymisation_refusal(actor, user)
    if refusal is None and form.validate_on_submit():
        now = clock.now()
        try:
            services.anonymise_user(actor, user.id, now, now.date(), confirm_name=form.confirm_name.data)
        except DomainError as exc:
            refused(exc, form)
        else:
            flash(_("Brugeren er anonymiseret."), "success")
            return redirect(url_for("accounts.user_list"))
    user = db.get_or_404(User, user_id)  # after a rollback, freshly loaded
    html = render_template(
        "privacy/anonymise_user.html",
        user=user,
        form=form,
        refusal=refusal,
        future=services.future_enrolment_count(user.id, clock.today()),
    )
    if request.method == "GET":
        record_read("user.anonymise_view", subject=user, object_type="user", object_id=user.id)
    return html
