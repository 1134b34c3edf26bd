"""Closed days (coordinator): the municipality's own non-working days. Calendar output: the personal
subscription feed (`/calendar/<token>.ics`, public: calendar clients send no cookies), one run's days as
an .ics download, and creating/replacing the feed's secret address (app.calendar.feeds)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.calendar import feeds, services
from app.calendar.forms import CalendarTokenForm, ClosedDayFilterForm, ClosedDayForm
from app.calendar.models import ClosedDay
from app.core import clock
from app.core.access import ALL_LEVELS, AccessLevel, allow, public
from app.core.downloads import as_attachment
from app.core.templating import dk_date
from app.core.transaction import submitted
from app.courses.models import CourseRun
from app.courses.services import can_view_run
from app.extensions import db

bp = Blueprint("calendar", __name__)
logger = logging.getLogger(__name__)

PER_PAGE = 50


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
    return _closed_day_form_page(None)


@bp.route("/closed-days/<int:closed_day_id>/edit", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def closed_day_edit(closed_day_id: int):
    """Change a closed day's date or reason."""
    return _closed_day_form_page(db.get_or_404(ClosedDay, closed_day_id))


def _closed_day_form_page(closed_day: ClosedDay | None):
    """The closed-day form, for a new closed day (None) or an existing one."""
    form = ClosedDayForm(obj=closed_day)
    if closed_day is None:
        saved = submitted(form, lambda: services.add_closed_day(form.day.data, form.reason.data, actor=current_user))
        done = _("%(day)s er nu en lukkedag.", day=dk_date(saved.day)) if saved else ""
    else:
        saved = submitted(
            form, lambda: services.update_closed_day(closed_day, form.day.data, form.reason.data, actor=current_user)
        )
        done = _("Lukkedagen %(day)s er gemt.", day=dk_date(saved.day)) if saved else ""
    if saved is None:
        return render_template("calendar/closed_day_form.html", form=form, closed_day=closed_day)
    flash(done, "success")
    return redirect(url_for(".closed_day_list", year=saved.day.year))


@bp.post("/closed-days/<int:closed_day_id>/delete")
@allow(AccessLevel.COORDINATOR)
def closed_day_delete(closed_day_id: int):
    """Delete a closed day (the date becomes a working day again)."""
    closed_day = db.get_or_404(ClosedDay, closed_day_id)
    day = closed_day.day
    services.delete_closed_day(closed_day, actor=current_user)
    flash(_("%(day)s er ikke længere en lukkedag.", day=dk_date(day)), "success")
    return redirect(url_for(".closed_day_list", year=day.year))


# --------------------------------------------------------------------------------------------------
# The personal feed and the .ics download
# --------------------------------------------------------------------------------------------------

ICS_MIMETYPE = "text/calendar"  # werkzeug adds "; charset=utf-8" to text/* types


def calendar_section(user) -> dict:
    """The calendar section of Mine kurser: the personal feed's address if it was created (a GET never
    creates it), and the form that creates or replaces it."""
    token = user.calendar_token
    feed_url, webcal_url = feeds.feed_urls(token) if token else (None, None)
    return {"calendar_form": CalendarTokenForm(), "feed_url": feed_url, "webcal_url": webcal_url}


def _calendar_response(body: bytes) -> Response:
    response = Response(body, mimetype=ICS_MIMETYPE)
    # Personal data: no shared cache may keep it. Clients revalidate with the ETag.
    response.headers["Cache-Control"] = "private"
    return response


@bp.get("/calendar/<token>.ics")
@public
def feed(token: str):
    """The personal subscription feed. Public because calendar clients send no cookies: the unguessable token
    is the key. Unknown or replaced tokens and deactivated users answer 404. Never logs the token."""
    user = feeds.user_by_token(token)
    if user is None:
        abort(404)
    rendered = feeds.render_feed(user, run_url=feeds.published_run_url)
    # Decided on the ETag only: a moved course day changes the bytes but not necessarily Last-Modified.
    if request.if_none_match and request.if_none_match.contains_weak(rendered.etag):
        response = _calendar_response(b"")
        response.status_code = 304
    else:
        response = _calendar_response(rendered.body)
    response.set_etag(rendered.etag)
    response.last_modified = rendered.last_modified
    return response


@bp.get("/runs/<int:run_id>.ics")
@allow(*ALL_LEVELS, check=can_view_run)
def run_ics(run_id: int):
    """One run's days as an .ics file to import (no METHOD, the invitations' UIDs). For someone who has or
    had a seat on it, with their status as in their feed; otherwise the days plainly."""
    run = db.get_or_404(CourseRun, run_id)
    body = feeds.render_run(run, current_user, run_url=lambda r: feeds.external_url("courses.run_detail", run_id=r.id))
    ascii_name, name = feeds.safe_filename(run.title)
    # The calendar response keeps its own cache headers (private, revalidated).
    return as_attachment(_calendar_response(body), f"{ascii_name}.ics", f"{name}.ics", no_store=False)


@bp.post("/me/calendar-token")
@allow(*ALL_LEVELS)
def calendar_token():
    """Create the personal feed address, or replace it (the old one answers 404 from now on)."""
    back = url_for("enrolment.my_courses", _anchor="kalender") if current_user.is_staff else url_for("main.home")
    form = CalendarTokenForm()
    if not form.validate_on_submit():
        flash(_("Formularen er udløbet. Prøv igen."), "error")
        return redirect(back)
    user = current_user._get_current_object()
    if user.calendar_token:
        feeds.regenerate_token(user)
        message = _(
            "Du har fået en ny kalenderadresse. Den gamle adresse virker ikke længere, så kalendere, "
            "der abonnerer på den, skal have den nye adresse."
        )
        logger.info("calendar feed address replaced by user %s", user.id)
    else:
        feeds.ensure_token(user)
        message = _("Din kalenderadresse er oprettet.")
        logger.info("calendar feed address created by user %s", user.id)
    flash(message, "success")
    return redirect(back)
