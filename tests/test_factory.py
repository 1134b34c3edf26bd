"""The application factory honours its configuration and finds the top-level templates."""

from pathlib import Path

import pytest

from app import create_app
from config import BASE_DIR, ProductionConfig, TestingConfig


def test_testing_config_is_used(app):
    assert app.testing
    assert app.config["WTF_CSRF_ENABLED"] is True


def test_templates_resolve_from_top_level_folder(app):
    assert Path(app.jinja_loader.searchpath[0]) == BASE_DIR / "templates"
    assert app.jinja_env.get_template("base.html")


def test_production_refuses_missing_secret_key(monkeypatch):
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(ProductionConfig)


def test_production_refuses_short_secret_key(monkeypatch):
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "short")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(ProductionConfig)


def test_unknown_config_name_is_refused():
    with pytest.raises(RuntimeError, match="Unknown configuration"):
        create_app("staging")


def test_config_by_name():
    assert create_app("testing").config["ENV_NAME"] == TestingConfig.ENV_NAME


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "database": "ok",
        "outbox": {"pending": 0, "failed": 0},
        "scheduler": {"status": "off"},
    }
