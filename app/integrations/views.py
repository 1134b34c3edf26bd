"""The coordinator's page of integration clients: add one, rotate its token, revoke it. A token is shown once,
in the response of the POST that made it (never stored, never redirected through the session)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core import clock
from app.core.access import AccessLevel, allow
from app.core.exceptions import DomainError
from app.core.transaction import refused, submitted
from app.extensions import db
from app.integrations import services
from app.integrations.forms import ClientForm
from app.integrations.models import IntegrationClient

bp = Blueprint("integrations", __name__)


def _token_page(client: IntegrationClient, token: str, *, rotated: bool):
    response = render_template("integrations/client_token.html", client=client, token=token, rotated=rotated)
    # The token is in the page: no cache (browser's back button, a proxy) may keep it. 201: a new credential was
    # created (also by a rotation), and the page that shows it is the answer, not a redirect (the token must not
    # travel through the session cookie, which is signed, not encrypted).
    return response, 201, {"Cache-Control": "no-store"}


@bp.get("/integrations")
@allow(AccessLevel.COORDINATOR)
def client_list():
    """The integration clients (SCIM provisioning, the read API) with their scopes and last use."""
    return render_template("integrations/client_list.html", clients=services.list_clients(), scopes=services.SCOPES)


@bp.route("/integrations/new", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def client_create():
    """Add a client; the answer shows its token once."""
    form = ClientForm()
    created = submitted(
        form,
        lambda: services.create_client(
            actor=current_user, name=form.name.data, scopes=form.scopes.data, now=clock.utcnow()
        ),
    )
    if created is None:
        return render_template("integrations/client_form.html", form=form)
    client, token = created
    return _token_page(client, token, rotated=False)


@bp.post("/integrations/<int:client_id>/rotate")
@allow(AccessLevel.COORDINATOR)
def client_rotate(client_id: int):
    """Give the client a new token (the old one stops working now); the answer shows it once."""
    client = db.get_or_404(IntegrationClient, client_id)
    try:
        token = services.rotate_token(client, actor=current_user, now=clock.utcnow())
    except DomainError as exc:
        refused(exc)
        return redirect(url_for(".client_list"))
    return _token_page(client, token, rotated=True)


@bp.post("/integrations/<int:client_id>/revoke")
@allow(AccessLevel.COORDINATOR)
def client_revoke(client_id: int):
    """Revoke the client: its token is refused from now on, for good."""
    client = db.get_or_404(IntegrationClient, client_id)
    try:
        services.revoke_client(client, actor=current_user, now=clock.utcnow())
    except DomainError as exc:
        refused(exc)
    else:
        flash(_("Klienten %(name)s er tilbagekaldt. Dens nøgle virker ikke længere.", name=client.name), "success")
    return redirect(url_for(".client_list"))
