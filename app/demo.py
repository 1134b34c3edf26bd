"""`flask demo load`: the 2008-2009 Copenhagen programme plus a current one, through the services."""
import click
from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
def load() -> None:
    """Load the demo data (idempotent)."""
    raise click.ClickException("not implemented yet")
