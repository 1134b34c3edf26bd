"""CLI commands: `flask users create`, `flask demo load`, `flask privacy ...` (flaskr's init_app pattern)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app import demo_scale
    from app.accounts.directory.cli import users_cli
    from app.demo import demo_cli
    from app.privacy.cli import privacy_cli

    demo_scale.register(demo_cli)  # `flask demo scale`, the national data set

    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(privacy_cli)
