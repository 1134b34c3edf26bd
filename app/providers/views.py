"""Providers (coordinator): list, create, edit (deactivate instead of delete) and an overview page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.audit.services import record_shown
from app.core.access import AccessLevel, allow
from app.core.transaction import submitted
from app.extensions import db
from app.providers import services
from app.providers.forms import ProviderForm
from app.providers.models import Provider

bp = Blueprint("providers", __name__, url_prefix="/providers")

PER_PAGE = 25


@bp.get("/")
@allow(AccessLevel.COORDINATOR)
def provider_list():
    """All providers with contact details, active flag and number of users."""
    page = services.list_providers(page=request.args.get("page", 1, type=int), per_page=PER_PAGE)
    return render_template("providers/provider_list.html", page=page)


@bp.route("/new", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def provider_create():
    """Create a provider."""
    return _provider_form_page(None)


@bp.get("/<int:provider_id>")
@allow(AccessLevel.COORDINATOR)
def provider_detail(provider_id: int):
    """A provider's data, its budget allocations across programmes and its users."""
    provider = db.get_or_404(Provider, provider_id)
    users = services.list_provider_users(provider)
    record_shown("provider.view", users, object_type="provider", object_id=provider.id)
    return render_template(
        "providers/provider_detail.html",
        provider=provider,
        allocations=services.list_provider_allocations(provider),
        users=users,
    )


@bp.route("/<int:provider_id>/edit", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def provider_edit(provider_id: int):
    """Change a provider's data, or deactivate it."""
    return _provider_form_page(db.get_or_404(Provider, provider_id))


def _provider_form_page(provider: Provider | None):
    """The provider form, for a new provider (None) or an existing one."""
    form = ProviderForm(obj=provider)
    if provider is None:
        saved = submitted(form, lambda: services.create_provider(form.as_data(), actor=current_user))
        done = _("Udbyderen %(name)s er oprettet.", name=saved.name) if saved else ""
    else:
        saved = submitted(form, lambda: services.update_provider(provider, form.as_data(), actor=current_user))
        done = _("Udbyderen %(name)s er gemt.", name=saved.name) if saved else ""
    if saved is None:
        return render_template("providers/provider_form.html", form=form, provider=provider)
    flash(done, "success")
    return redirect(url_for(".provider_detail", provider_id=saved.id))
