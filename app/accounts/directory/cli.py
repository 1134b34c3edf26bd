"""`flask users ...` commands: create a user from the command line (the first coordinator, say)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from app.accounts.directory.services import (
    UserData,
    create_user,
    get_provider_by_name,
    get_staff_role_by_name,
    get_unit_by_name,
)
from app.core.access import AccessLevel
from app.core.cli import CommandFailed, prompt_new_password
from app.core.exceptions import DomainError
from app.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create")
@click.option("--email", required=True, help="Login email (stored lower-case).")
@click.option("--name", required=True, help="Full name.")
@click.option(
    "--access",
    "access_level",
    required=True,
    type=click.Choice([level.value for level in AccessLevel]),
    help="Access level.",
)
@click.option("--provider", "provider_name", help="Provider name (required with --access provider).")
@click.option("--staff-role", "staff_role_name", help="Staff role name (e.g. Sagsbehandler).")
@click.option("--unit", "unit_name", help="Unit name.")
@click.option(
    "--password",
    help="Password (at least PASSWORD_MIN_LENGTH characters, not guessable); prompted for, hidden, when left out.",
)
def create_user_command(
    email: str,
    name: str,
    access_level: str,
    provider_name: str | None,
    staff_role_name: str | None,
    unit_name: str | None,
    password: str | None,
) -> None:
    """Create a user through the same service as the coordinator's form."""
    staff_role = _lookup(get_staff_role_by_name, staff_role_name, _("Ukendt stillingsbetegnelse"))
    unit = _lookup(get_unit_by_name, unit_name, _("Ukendt enhed"))
    provider = _lookup(get_provider_by_name, provider_name, _("Ukendt udbyder"))
    if access_level == AccessLevel.PROVIDER and provider is None:
        raise CommandFailed(_("--provider skal angives sammen med --access provider."))
    if password is None:
        password = prompt_new_password()
    data = UserData(
        name=name,
        email=email,
        access_level=AccessLevel(access_level),
        staff_role_id=staff_role.id if staff_role else None,
        unit_id=unit.id if unit else None,
        provider_id=provider.id if provider else None,
        active=True,
        password=password,
    )
    try:
        user = create_user(actor=None, data=data)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise CommandFailed(exc.message) from None
    click.echo(_("Oprettet: %(email)s (%(level)s, id %(id)s).", email=user.email, level=user.access_level, id=user.id))


def _lookup(finder, name: str | None, message: str):
    if not name:
        return None
    record = finder(name)
    if record is None:
        raise CommandFailed(f"{message}: {name}")
    return record
