"""Production never carries the demo: the demo commands refuse under the production configuration, and the
production web server and scheduler refuse to start while the database holds demo accounts (on SQLite and on
PostgreSQL: the database is the test database)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.demo import DEMO_PASSWORD, DemoAccountsInProduction, refuse_demo_accounts
from app.extensions import db
from config import BASE_DIR
from tests import factories


@pytest.fixture
def as_production(app, monkeypatch):
    """The test app, told it runs the production configuration (what the demo guards look at)."""
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    return app


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize(
    "command", [["demo", "load"], ["demo", "scale", "--staff", "5", "--runs", "1"], ["demo", "logins"]]
)
def test_demo_commands_refuse_under_production(as_production, runner, command):
    result = runner.invoke(args=command)
    assert result.exit_code == 1, result.output
    assert "produktionsinstallation" in result.output and "flask users create" in result.output
    assert DEMO_PASSWORD not in result.output
    assert user_count() == 0


def test_demo_help_still_answers_under_production(as_production, runner):
    result = runner.invoke(args=["demo", "--help"])
    assert result.exit_code == 0 and "refused under the production configuration" in result.output


def test_demo_logins_still_work_outside_production(app, runner):
    result = runner.invoke(args=["demo", "logins"])
    assert result.exit_code == 0 and DEMO_PASSWORD in result.output


@pytest.mark.parametrize("email", ["koordinator@demo.test", "medarbejder000123@scale.test", "Someone@Demo.Test"])
def test_production_refuses_a_database_with_demo_addresses(as_production, email):
    factories.make_user(access_level="staff", email=email.lower(), password=None)
    with pytest.raises(DemoAccountsInProduction, match="flask users create") as refusal:
        refuse_demo_accounts(as_production)
    assert email.lower() in str(refusal.value)


@pytest.mark.parametrize("level", ["coordinator", "provider"])
def test_production_refuses_a_privileged_account_with_the_demo_password(as_production, level):
    provider = factories.make_provider() if level == "provider" else None
    factories.make_user(access_level=level, email="leder@kommune.dk", password=DEMO_PASSWORD, provider=provider)
    with pytest.raises(DemoAccountsInProduction, match="leder@kommune.dk"):
        refuse_demo_accounts(as_production)


def test_production_starts_with_real_accounts(as_production):
    factories.make_user(access_level="coordinator", email="koordinator@kommune.dk")
    factories.make_user(access_level="staff", email="sara@kommune.dk", password=DEMO_PASSWORD)  # no one else's data
    refuse_demo_accounts(as_production)  # no exception


def test_other_configurations_may_hold_the_demo(app):
    factories.make_user(access_level="coordinator", email="koordinator@demo.test", password=DEMO_PASSWORD)
    refuse_demo_accounts(app)  # testing configuration: the demo is allowed


def test_gunicorn_master_exits_before_serving_demo_accounts(as_production):
    """gunicorn.conf.py's on_starting hook runs in the master before any worker starts: SystemExit with the
    reason makes gunicorn exit with status 1."""
    settings: dict = {}
    exec((BASE_DIR / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 (our own config file)
    server = SimpleNamespace(app=SimpleNamespace(wsgi=lambda: as_production))
    settings["on_starting"](server)  # an empty database: starts
    factories.make_user(access_level="coordinator", email="koordinator@demo.test")
    with pytest.raises(SystemExit, match="demokonti"):
        settings["on_starting"](server)


def test_scheduler_exits_with_ex_config_before_serving_demo_accounts(as_production, monkeypatch):
    import app as app_package
    from scheduler import __main__ as scheduler_main

    factories.make_user(access_level="coordinator", email="koordinator@demo.test")
    monkeypatch.setattr(app_package, "create_app", lambda *_: as_production)

    def must_not_wait(*args, **kwargs):
        raise AssertionError("the scheduler went on to wait for leadership")

    monkeypatch.setattr("scheduler.leader.wait_for_leadership", must_not_wait)
    assert scheduler_main.main() == scheduler_main.EXIT_CONFIG == 78
