"""`flask users ...` commands."""
import click
from flask.cli import AppGroup

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create")
def create_user() -> None:
    """Create a user (filled in by the accounts slice)."""
    raise click.ClickException("not implemented yet")
