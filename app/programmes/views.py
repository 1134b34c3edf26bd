"""Programmes and their budget allocations (coordinator)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core import clock
from app.core.access import AccessLevel, allow
from app.core.db import keep_for_request
from app.core.exceptions import DomainError
from app.core.money import kroner_to_ore, ore_to_kroner
from app.core.transaction import refused, submitted
from app.extensions import db
from app.programmes import services
from app.programmes.forms import BudgetAllocationForm, BudgetAmountForm, ProgrammeForm
from app.programmes.models import Programme
from app.providers.models import Provider
from app.providers.services import list_active_providers

bp = Blueprint("programmes", __name__, url_prefix="/programmes")

PER_PAGE = 25


def _allocation_form() -> BudgetAllocationForm:
    form = BudgetAllocationForm()
    form.provider_id.choices = [("", _("Vælg udbyder"))] + [(p.id, p.name) for p in list_active_providers()]
    return form


def _render_detail(programme: Programme, allocation_form: BudgetAllocationForm):
    return render_template(
        "programmes/programme_detail.html",
        programme=programme,
        budget=services.get_programme_budget(programme),
        runs=services.list_programme_runs(programme),
        run_links="courses.run_detail" in current_app.view_functions,
        form=allocation_form,
    )


def _load_allocation(programme_id: int, allocation_id: int):
    allocation = services.get_allocation(programme_id, allocation_id)
    if allocation is None:
        abort(404)
    return allocation


@bp.get("/")
@allow(AccessLevel.COORDINATOR)
def programme_list():
    """All programmes, newest first, with targets and allocated budget."""
    page = services.list_programmes(page=request.args.get("page", 1, type=int), per_page=PER_PAGE)
    return render_template("programmes/programme_list.html", page=page)


@bp.route("/new", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def programme_create():
    """Create a programme."""
    return _programme_form_page(None)


@bp.get("/<int:programme_id>")
@allow(AccessLevel.COORDINATOR)
def programme_detail(programme_id: int):
    """A programme's data, its budget allocations per year and provider, and its course runs."""
    programme = db.get_or_404(Programme, programme_id)
    return _render_detail(programme, _allocation_form())


@bp.route("/<int:programme_id>/edit", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def programme_edit(programme_id: int):
    """Change a programme's name, period, targets and texts."""
    return _programme_form_page(db.get_or_404(Programme, programme_id))


def _programme_form_page(programme: Programme | None):
    """The programme form, for a new programme (None) or an existing one."""
    form = ProgrammeForm(obj=programme)
    if programme is None:
        saved = submitted(form, lambda: services.create_programme(form.as_data(), actor=current_user))
        done = _("Indsatsen %(name)s er oprettet.", name=saved.name) if saved else ""
    else:
        saved = submitted(form, lambda: services.update_programme(programme, form.as_data(), actor=current_user))
        done = _("Indsatsen %(name)s er gemt.", name=saved.name) if saved else ""
    if saved is None:
        return render_template("programmes/programme_form.html", form=form, programme=programme)
    flash(done, "success")
    return redirect(url_for(".programme_detail", programme_id=saved.id))


@bp.post("/<int:programme_id>/allocations")
@allow(AccessLevel.COORDINATOR)
def allocation_create(programme_id: int):
    """Add a budget allocation (provider × year × amount); errors show on the programme page."""
    programme = db.get_or_404(Programme, programme_id)
    form = _allocation_form()
    if form.validate_on_submit():
        provider = db.get_or_404(Provider, form.provider_id.data)
        try:
            services.add_budget_allocation(
                programme, provider, form.year.data, kroner_to_ore(form.amount.data), actor=current_user
            )
        except DomainError as exc:
            refused(exc, form)
        else:
            flash(
                _("Budgetrammen for %(provider)s i %(year)s er tilføjet.", provider=provider.name, year=form.year.data),
                "success",
            )
            return redirect(url_for(".programme_detail", programme_id=programme.id, _anchor="budget"))
    return _render_detail(programme, form)


@bp.route("/<int:programme_id>/allocations/<int:allocation_id>/edit", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def allocation_edit(programme_id: int, allocation_id: int):
    """Change the amount of one of the programme's budget allocations."""
    allocation = _load_allocation(programme_id, allocation_id)
    form = BudgetAmountForm(data={"amount": ore_to_kroner(allocation.amount_ore)})
    if form.validate_on_submit():
        try:
            services.update_budget_allocation(allocation, kroner_to_ore(form.amount.data), actor=current_user)
        except DomainError as exc:
            refused(exc, form)
        else:
            flash(
                _(
                    "Budgetrammen for %(provider)s i %(year)s er gemt.",
                    provider=allocation.provider.name,
                    year=allocation.year,
                ),
                "success",
            )
            return redirect(url_for(".programme_detail", programme_id=programme_id, _anchor="budget"))
    return render_template(
        "programmes/allocation_edit.html", form=form, allocation=allocation, programme=allocation.programme
    )


@bp.post("/<int:programme_id>/allocations/<int:allocation_id>/delete")
@allow(AccessLevel.COORDINATOR)
def allocation_delete(programme_id: int, allocation_id: int):
    """Delete one of the programme's budget allocations."""
    allocation = _load_allocation(programme_id, allocation_id)
    provider_name, year = allocation.provider.name, allocation.year
    services.delete_budget_allocation(allocation, actor=current_user)
    flash(_("Budgetrammen for %(provider)s i %(year)s er slettet.", provider=provider_name, year=year), "success")
    return redirect(url_for(".programme_detail", programme_id=programme_id, _anchor="budget"))


# --- dashboard and evaluation report -------------------------------------------------------------


@bp.get("/<int:programme_id>/dashboard")
@allow(AccessLevel.COORDINATOR)
def programme_dashboard(programme_id: int):
    """Targets (activity, result, effect) and budget of a programme, in numbers and bars."""
    from app.programmes import charts
    from app.programmes.dashboard import programme_figures

    keep_for_request(db.get_or_404(Programme, programme_id))  # programme_figures reads it from the identity map
    f = programme_figures(programme_id, clock.today())
    return render_template(
        "programmes/dashboard.html",
        f=f,
        completions_chart=charts.completions_chart(
            f.result.by_month, f.result.target, f.starts_on, f.deadline, f.today
        ),
        budget_chart=charts.budget_chart(f.budget),
        month_name=charts.month_name,
    )


@bp.get("/<int:programme_id>/report.pdf")
@allow(AccessLevel.COORDINATOR)
def programme_report_pdf(programme_id: int):
    """The evaluation report as a PDF (charts drawn server-side)."""
    from app.programmes import report

    keep_for_request(db.get_or_404(Programme, programme_id))
    figures = report.figures_for_report(programme_id)
    return report.attachment(report.render_pdf(figures), "application/pdf", *report.file_names(figures, "pdf"))


@bp.get("/<int:programme_id>/report.xlsx")
@allow(AccessLevel.COORDINATOR)
def programme_report_xlsx(programme_id: int):
    """The evaluation report's tables as an Excel workbook, one sheet each."""
    from app.programmes import report

    keep_for_request(db.get_or_404(Programme, programme_id))
    figures = report.figures_for_report(programme_id)
    return report.attachment(report.render_xlsx(figures), report.XLSX_MIMETYPE, *report.file_names(figures, "xlsx"))
