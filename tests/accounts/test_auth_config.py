"""Production refuses login settings that would leave personal data behind a password only, or nobody able to
log in (ASVS 6.3.3, goal S-5)."""

from __future__ import annotations

import pytest

from config import ProductionConfig
from tests.production_settings import GOOD_SECRET


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", GOOD_SECRET)
    monkeypatch.setattr(ProductionConfig, "RATELIMIT_STORAGE_URI", "redis://localhost:6379/0")
    monkeypatch.setenv("DATABASE_URL", "postgresql://example/kursusportalen")
    monkeypatch.setattr(ProductionConfig, "SQLALCHEMY_DATABASE_URI", "postgresql+psycopg://example/kursusportalen")
    monkeypatch.setattr(ProductionConfig, "SMTP_URL", "smtp://mail.example:25")
    return ProductionConfig


def test_production_requires_a_second_factor_for_roles_that_see_personal_data(production):
    assert production.MFA_REQUIRED is True
    production.validate()


def test_switching_local_login_off_needs_single_sign_on(production, monkeypatch):
    monkeypatch.setattr(production, "LOCAL_LOGIN_ENABLED", False)
    with pytest.raises(RuntimeError, match="LOCAL_LOGIN_ENABLED"):
        production.validate()
    monkeypatch.setattr(production, "OIDC_ISSUER", "https://login.microsoftonline.com/tenant/v2.0")
    monkeypatch.setattr(production, "OIDC_CLIENT_ID", "client")
    monkeypatch.setattr(production, "OIDC_CLIENT_SECRET", GOOD_SECRET)
    production.validate()


def test_an_issuer_without_client_credentials_is_refused(production, monkeypatch):
    monkeypatch.setattr(production, "OIDC_ISSUER", "https://login.microsoftonline.com/tenant/v2.0")
    with pytest.raises(RuntimeError, match="OIDC_CLIENT_ID"):
        production.validate()
