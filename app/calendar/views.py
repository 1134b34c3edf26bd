"""Closed days (coordinator): the municipality's own non-working days; calendar feeds come later."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.calendar import services
from app.calendar.forms import ClosedDayFilterForm, ClosedDayForm
from app.calendar.models import ClosedDay
from app.core import clock
from app.core.access import AccessLevel, allow
from app.core.exceptions import DomainError, ValidationFailed
from app.core.templating import dk_date
from app.extensions import db

bp = Blueprint("calendar", __name__)

PER_PAGE = 50


def _show_error(form, exc: DomainError) -> None:
    """Put a service's refusal next to the field it concerns, or flash it when it concerns none."""
    # No rollback here: services check before they change anything, and a unique-constraint race is
    # undone by the service's own savepoint.
    errors = exc.errors if isinstance(exc, ValidationFailed) else {exc.field: [exc.message]}
    for name, messages in errors.items():
        if name and name in form:
            form[name].errors = [*form[name].errors, *messages]
        else:
            for message in messages:
                flash(message, "error")


@bp.get("/closed-days")
@allow(AccessLevel.COORDINATOR)
def closed_day_list():
    """Closed days (optionally of one year), with that year's public holidays for reference."""
    this_year = clock.today().year
    years = {*services.list_closed_day_years(), this_year - 1, this_year, this_year + 1}
    filter_form = ClosedDayFilterForm(formdata=request.args)
    filter_form.set_year_choices(years)
    if "year" in request.args:
        filter_form.validate()
    year = filter_form.selected_year()
    page = services.list_closed_days(year, page=request.args.get("page", 1, type=int), per_page=PER_PAGE)
    holiday_year = year or this_year
    return render_template(
        "calendar/closed_day_list.html",
        page=page,
        filter_form=filter_form,
        year=year,
        holiday_year=holiday_year,
        holidays=services.list_public_holidays(holiday_year, services.holiday_language()),
    )


@bp.route("/closed-days/new", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def closed_day_create():
    """Add a closed day."""
    form = ClosedDayForm()
    if form.validate_on_submit():
        try:
            closed_day = services.add_closed_day(form.day.data, form.reason.data, actor=current_user)
        except DomainError as exc:
            _show_error(form, exc)
        else:
            db.session.commit()
            flash(_("%(day)s er nu en lukkedag.", day=dk_date(closed_day.day)), "success")
            return redirect(url_for(".closed_day_list", year=closed_day.day.year))
    return render_template("calendar/closed_day_form.html", form=form, closed_day=None)


@bp.route("/closed-days/<int:closed_day_id>/edit", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def closed_day_edit(closed_day_id: int):
    """Change a closed day's date or reason."""
    closed_day = db.get_or_404(ClosedDay, closed_day_id)
    form = ClosedDayForm(obj=closed_day)
    if form.validate_on_submit():
        try:
            services.update_closed_day(closed_day, form.day.data, form.reason.data, actor=current_user)
        except DomainError as exc:
            _show_error(form, exc)
        else:
            db.session.commit()
            flash(_("Lukkedagen %(day)s er gemt.", day=dk_date(closed_day.day)), "success")
            return redirect(url_for(".closed_day_list", year=closed_day.day.year))
    return render_template("calendar/closed_day_form.html", form=form, closed_day=closed_day)


@bp.post("/closed-days/<int:closed_day_id>/delete")
@allow(AccessLevel.COORDINATOR)
def closed_day_delete(closed_day_id: int):
    """Delete a closed day (the date becomes a working day again)."""
    closed_day = db.get_or_404(ClosedDay, closed_day_id)
    day = closed_day.day
    services.delete_closed_day(closed_day, actor=current_user)
    db.session.commit()
    flash(_("%(day)s er ikke længere en lukkedag.", day=dk_date(day)), "success")
    return redirect(url_for(".closed_day_list", year=day.year))
