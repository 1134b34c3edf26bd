"""CLI commands: `flask users create`, `flask demo load` (registered with flaskr's init_app pattern)."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.accounts.cli import users_cli
    from app.demo import demo_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
