"""Course runs (list and detail for everyone, by their rules; create, edit, publish, cancel for the
coordinator), the follow-up-day proposal, and methods (coordinator, reached from the settings hub)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from app.core import clock
from app.core.access import ALL_LEVELS, AccessLevel, allow
from app.core.data_versions import VersionedCache
from app.core.exceptions import DomainError
from app.core.i18n import locale_name
from app.core.templating import dk_date
from app.core.transaction import refused, submitted
from app.courses import follow_up, queries, services
from app.courses.forms import CourseRunForm, MethodForm, RunFilterForm, parse_iso_date
from app.courses.models import RUN_LIST_CHOICES, CourseRun, Method, RunKind, RunStatus
from app.enrolment import services as enrolment_services
from app.enrolment.models import EnrolmentStatus
from app.enrolment.run_page import render_run_page
from app.extensions import db

bp = Blueprint("courses", __name__)
#: The run page's follow-up reason (coordinator), in the reader's language: app.courses.follow_up.explain.
bp.add_app_template_global(follow_up.explain, "follow_up_reason")


def _rule_inputs() -> tuple[dict, int]:
    """What the follow-up rule needs besides teaching day 2: the closed days and the month offset."""
    return services._closed_days(), current_app.config["FOLLOW_UP_OFFSET_MONTHS"]


def _language() -> str:
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


# --------------------------------------------------------------------------------------------------
# Run list and detail
# --------------------------------------------------------------------------------------------------


@bp.get("/runs")
@allow(*ALL_LEVELS)
def run_list():
    """The runs the user may see: all (coordinator), own provider's (provider), open to the role (staff).
    Every filter lives in the query string, so a filtered list can be bookmarked and works without JS."""
    user = current_user
    today = clock.today()
    formdata = request.args
    if user.is_provider:  # a provider sees their own provider's runs only: no such field, no such filter
        formdata = request.args.copy()
        formdata.poplist("provider")
    form = RunFilterForm(formdata=formdata)
    choices = queries.run_list_choices(user, today, with_providers=not user.is_provider)
    form.set_choices(
        programmes=choices.programmes,
        providers=choices.providers,
        methods=choices.methods,
        years=choices.years,
        months=[(y, m, dk_date(date(y, m, 1), "LLLL y")) for y, m in choices.months],
        any_label=_("Alle"),
    )
    form.validate()
    status, kind = form.value("status"), form.value("kind")
    filters = queries.RunFilters(
        programme_id=form.value("programme"),
        provider_id=None if user.is_provider else form.value("provider"),
        method_id=form.value("method"),
        status=RunStatus(status) if status and not user.is_staff else None,
        kind=RunKind(kind) if kind else None,
        text=form.value("q"),
        venue=form.value("venue"),
        year=form.value("year"),
        month=form.month_value(),
        free_only=bool(form.free.data),
        sort=queries.run_sort_for(user, request.args.get("sort")),
    )
    page = queries.list_runs(
        user, filters, today, request.args.get("page", 1, type=int), current_app.config["RUNS_PER_PAGE"]
    )
    args = {k: v for k, v in formdata.items() if k != "page" and v}
    filtered = any(k in args for k in FILTER_FIELDS)
    mine, positions = _my_enrolments(user, page)
    return render_template(
        "courses/run_list.html",
        filter_form=filter_form_html(user, today, form, formdata, filters, args, filtered),
        page=page,
        filters=filters,
        args=args,
        filtered=filtered,
        my_enrolments=mine,
        my_positions=positions,
    )


#: The run list's filter fields: any of them in the query string makes the list "filtered" (the reset link).
FILTER_FIELDS = ("q", "programme", "method", "provider", "venue", "status", "kind", "month", "year", "free")


#: The run list's filter form as HTML, remembered under the data version of its choices (RUN_LIST_CHOICES).
_filter_form_cache: VersionedCache[Markup] = VersionedCache(RUN_LIST_CHOICES, maxsize=256)


def filter_form_html(user, today: date, form, formdata, filters, args, filtered: bool) -> Markup:
    """The filter form's HTML (templates/courses/_run_filter_form.html): a quarter of the run list's template,
    the same for everyone who sees the same choices in the same language with the same query string (a GET
    form: no CSRF token, nothing personal). Remembered, under the version token of the choices it shows, per
    what decides them (the choices' own key: scope, day, providers shown), the language, the kind of user (the
    fields shown) and the query string's values the form shows or checks; `maxsize` bounds what arbitrary
    query strings can fill (issue 22)."""
    key = (
        queries.choice_key(user, today, with_providers=not user.is_provider),
        locale_name(),
        request.script_root,  # the form's action, should the app be reached under more than one path prefix
        user.is_provider,
        user.is_staff,
        tuple((name, tuple(formdata.getlist(name))) for name in FILTER_FIELDS),
        request.args.get("sort") or None,
        filters.sort,
        tuple(args),
        filtered,
    )

    def render() -> Markup:
        html = render_template(
            "courses/_run_filter_form.html", form=form, filters=filters, args=args, filtered=filtered
        )
        return Markup(html)  # noqa: S704 (the template's own autoescaped output)

    return _filter_form_cache.get(key, render)


def _my_enrolments(user, page) -> tuple[dict, dict]:
    """Staff: run id -> their active enrolment on this page's runs, and enrolment id -> waiting-list
    position (two queries at most, whatever the page size)."""
    if not user.is_staff or page is None or not page.items:
        return {}, {}
    mine = enrolment_services.my_statuses(user, [run.id for run in page.items])
    waiting = [e.course_run_id for e in mine.values() if e.status == EnrolmentStatus.WAITLISTED]
    return mine, enrolment_services.waitlist_positions(waiting)


@bp.get("/runs/<int:run_id>")
@allow(*ALL_LEVELS, check=services.can_view_run)
def run_detail(run_id: int):
    """One run with its days and the follow-up proposal; actions for the coordinator."""
    run = db.get_or_404(CourseRun, run_id)
    return render_run_page(run)


# --------------------------------------------------------------------------------------------------
# Create and edit
# --------------------------------------------------------------------------------------------------


def _run_form(run: CourseRun | None = None) -> CourseRunForm:
    form = CourseRunForm(data=CourseRunForm.initial_data(run) if run is not None and request.method == "GET" else None)
    form.set_choices(
        queries.list_programmes(),
        queries.list_providers(active_only=True, include_id=run.provider_id if run else None),
        queries.list_methods(),
        queries.list_staff_roles(),
        _("Vælg indsats"),
        _("Vælg udbyder"),
    )
    if run is not None and run.follow_up_proposed_on is not None:
        form.follow_up_date.description = _(
            "Lad feltet stå tomt for at følge forslaget, som nu er %(day)s. Ændrer du 2. undervisningsdag, "
            "beregnes et nyt forslag.",
            day=dk_date(run.follow_up_proposed_on),
        )
    return form


def _fill_proposal(form: CourseRunForm) -> None:
    """The "Beregn forslag" button: put the proposal in the follow-up field and explain it; save nothing."""
    field = form.day2_date
    if not field.validate(form) or field.data is None:
        return
    closed_days, months = _rule_inputs()
    try:
        proposal = services.propose_follow_up_day(field.data, closed_days, months, language=_language())
    except (ValueError, OverflowError):
        field.errors.append(_("Der kan ikke beregnes en opfølgningsdag ud fra denne dato."))
        return
    form.follow_up_date.data = proposal.day
    form.follow_up_date.raw_data = None  # render the proposal, not what was typed
    form.follow_up_date.description = services.describe_proposal(proposal)


def _over_budget(form: CourseRunForm, run: CourseRun | None = None):
    """The provider's budget check when saving would push it over its allocation for the year
    (app.programmes.dashboard.budget_after); else None."""
    from app.programmes.dashboard import budget_after

    if form.programme_id.data is None or form.provider_id.data is None or form.day1_date.data is None:
        return None
    check = budget_after(
        form.programme_id.data,
        form.provider_id.data,
        form.day1_date.data.year,
        form.as_data().price_ore,
        exclude_run_id=run.id if run is not None else None,
    )
    return check if check.pushes_over else None


def _saved_days(run: CourseRun | None) -> dict:
    """Form prefix -> the stored date of each day (the follow-up day only when typed in, not proposed)."""
    if run is None:
        return {}
    prefixes = {1: "day1", 2: "day2", 3: "follow_up"}
    saved = {prefixes[d.position]: d.day for d in run.days if d.position in prefixes}
    if not run.follow_up_overridden:
        saved.pop("follow_up", None)
    return saved


def _unconfirmed_warnings(form: CourseRunForm, run: CourseRun | None = None):
    """(budget check or None, date warnings) when the valid form asks for a "Gem alligevel" it has not got;
    (None, []) when it may be saved. Shown as a summary at the top and confirmed with one checkbox."""
    budget = _over_budget(form, run)
    closed_days, months = _rule_inputs()
    dates = services.date_warnings(
        form.as_data(), closed_days, clock.today(), months, language=_language(), saved_days=_saved_days(run)
    )
    if (budget is None and not dates) or form.confirm_anyway.data:
        return None, []
    return budget, dates


def _proposal_requested() -> bool:
    return request.method == "POST" and request.form.get("action") == "propose"


@bp.route("/runs/new", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def run_create():
    """Create a run (saved as a draft) with its two teaching days and its follow-up day."""
    return _run_form_page(None)


@bp.route("/runs/<int:run_id>/edit", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def run_edit(run_id: int):
    """Change a draft or published run; days that change get a new calendar sequence."""
    run = db.get_or_404(CourseRun, run_id)
    if not run.can_edit:
        flash(
            _("Kursusforløbet er %(status)s og kan ikke længere redigeres.", status=run.status.in_sentence),
            "error",
        )
        return redirect(url_for(".run_detail", run_id=run.id))
    return _run_form_page(run)


def _run_form_page(run: CourseRun | None):
    """The run form, for a new run (None) or an existing one: a date proposal, the unconfirmed warnings
    ("Gem alligevel"), or the save."""
    form, budget, warnings = _run_form(run), None, []
    if _proposal_requested():
        _fill_proposal(form)
    elif form.validate_on_submit():
        budget, warnings = _unconfirmed_warnings(form, run)
        if not (budget or warnings):
            try:
                if run is None:
                    saved = services.create_course_run(current_user, form.as_data(), *_rule_inputs())
                    done = _("Kursusforløbet %(title)s er oprettet som kladde.", title=saved.title)
                else:
                    saved = services.update_course_run(current_user, run, form.as_data(), *_rule_inputs())
                    done = _("Kursusforløbet %(title)s er gemt.", title=saved.title)
            except DomainError as exc:
                refused(exc, form)
            else:
                flash(done, "success")
                return redirect(url_for(".run_detail", run_id=saved.id))
    return render_template(
        "courses/run_edit.html", form=form, run=run, budget=budget, warnings=warnings, proposed=_proposal_requested()
    )


def _run_action(run_id: int, action, message: str):
    run = db.get_or_404(CourseRun, run_id)
    try:
        action(current_user, run)
    except DomainError as exc:
        refused(exc)
    else:
        flash(message % {"title": run.title}, "success")
    return redirect(url_for(".run_detail", run_id=run_id))


@bp.post("/runs/<int:run_id>/publish")
@allow(AccessLevel.COORDINATOR)
def run_publish(run_id: int):
    """Publish a draft: staff of the eligible roles can now see and enrol."""
    return _run_action(run_id, services.publish_course_run, _("Kursusforløbet %(title)s er offentliggjort."))


@bp.post("/runs/<int:run_id>/cancel-run")
@allow(AccessLevel.COORDINATOR)
def run_cancel(run_id: int):
    """Cancel a draft or published run."""
    return _run_action(run_id, services.cancel_course_run, _("Kursusforløbet %(title)s er aflyst."))


@bp.get("/runs/follow-up-proposal")
@allow(AccessLevel.COORDINATOR)
def follow_up_proposal():
    """JSON {"day", "text"}: the follow-up proposal for ?teaching_day_2=YYYY-MM-DD (for the form's script)."""
    teaching_day_2 = parse_iso_date(request.args.get("teaching_day_2"))
    if teaching_day_2 is None:
        return jsonify(error=_("Angiv 2. undervisningsdag som ÅÅÅÅ-MM-DD.")), 400
    closed_days, months = _rule_inputs()
    try:
        proposal = services.propose_follow_up_day(teaching_day_2, closed_days, months, language=_language())
    except (ValueError, OverflowError):
        return jsonify(error=_("Der kan ikke beregnes en opfølgningsdag ud fra denne dato.")), 400
    return jsonify(day=proposal.day.isoformat(), text=services.describe_proposal(proposal))


# --------------------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------------------


@bp.get("/methods")
@allow(AccessLevel.COORDINATOR)
def method_list():
    """The methods runs can teach, with how many runs use each."""
    return render_template("courses/method_list.html", methods=services.list_methods_with_usage())


@bp.route("/methods/new", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def method_create():
    """Add a method."""
    return _method_form_page(None)


@bp.route("/methods/<int:method_id>/edit", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def method_edit(method_id: int):
    """Rename or describe a method."""
    return _method_form_page(db.get_or_404(Method, method_id))


def _method_form_page(method: Method | None):
    """The method form, for a new method (None) or an existing one (with how many runs teach it)."""
    form = MethodForm(obj=method)
    if method is None:
        saved = submitted(form, lambda: services.create_method(current_user, form.as_data()))
        done = _("Metoden %(name)s er oprettet.", name=saved.name) if saved else ""
    else:
        saved = submitted(form, lambda: services.update_method(current_user, method, form.as_data()))
        done = _("Metoden %(name)s er gemt.", name=saved.name) if saved else ""
    if saved is None:
        run_count = services.method_run_count(method) if method is not None else None
        return render_template("courses/method_edit.html", form=form, method=method, run_count=run_count)
    flash(done, "success")
    return redirect(url_for(".method_list"))


@bp.post("/methods/<int:method_id>/delete")
@allow(AccessLevel.COORDINATOR)
def method_delete(method_id: int):
    """Delete a method no run uses."""
    method = db.get_or_404(Method, method_id)
    name = method.name
    try:
        services.delete_method(current_user, method)
    except DomainError as exc:
        refused(exc)
    else:
        flash(_("Metoden %(name)s er slettet.", name=name), "success")
    return redirect(url_for(".method_list"))
