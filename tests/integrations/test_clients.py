"""Integration clients (issue 23): the coordinator's page, token storage, and `require_client` as a program meets it.

The decorator is tried on routes the tests add (own app), so these tests hold for /scim/v2 and /api/v1 alike.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Blueprint, g, jsonify
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.core import transaction
from app.extensions import db
from app.integrations import services
from app.integrations.auth import ClientRefused, require_client
from app.integrations.models import IntegrationClient
from tests.conftest import post_action, post_form

TOKEN_RE = re.compile(r'id="token"[^>]*value="(kp_[A-Za-z0-9_-]{43})"')


def _token_in(page: str) -> str:
    match = TOKEN_RE.search(page)
    assert match, "the page shows no token"
    return match.group(1)


def _entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# --- the coordinator's page ---------------------------------------------------------------------------------


def test_a_coordinator_creates_a_client_and_sees_its_token_once(client, login_as, coordinator):
    login_as(coordinator)
    response = post_form(client, "/integrations/new", {"name": "Entra ID", "scopes": ["scim"]}, follow_redirects=False)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    token = _token_in(response.get_data(as_text=True))
    stored = db.session.scalar(select(IntegrationClient).where(IntegrationClient.name == "Entra ID"))
    assert stored.scopes == "scim"
    assert stored.created_by_id == coordinator.id
    # only the hash is stored; the list shows the hint, never the token
    assert stored.token_hash == services.hash_token(token) != token
    assert token not in repr([getattr(stored, c.key) for c in IntegrationClient.__table__.columns])
    listing = client.get("/integrations").get_data(as_text=True)
    assert "Entra ID" in listing and stored.token_hint in listing and token not in listing
    [entry] = _entries("integration_client.create")
    assert entry.actor_id == coordinator.id and entry.object_id == stored.id
    assert token not in repr(entry.details)


def test_the_form_refuses_no_name_no_scope_and_unknown_scopes(client, login_as, coordinator):
    login_as(coordinator)
    page = post_form(client, "/integrations/new", {"name": "", "scopes": []}).get_data(as_text=True)
    assert "Skriv et navn på klienten" in page and "Vælg mindst én adgang." in page
    page = post_form(client, "/integrations/new", {"name": "X", "scopes": ["admin"]}).get_data(as_text=True)
    assert "kp_" not in page
    assert db.session.scalar(select(IntegrationClient)) is None


def test_the_form_in_english(client, login_as, coordinator):
    coordinator.locale = "en"
    db.session.commit()
    login_as(coordinator)
    page = client.get("/integrations/new").get_data(as_text=True)
    assert "Add client" in page and "SCIM provisioning of staff" in page


def test_rotating_replaces_the_token_and_revoking_refuses_it(app, client, login_as, coordinator):
    _, old = services.create_client(actor=coordinator, name="HR", scopes=["runs:read"], now=_now())
    db.session.commit()
    login_as(coordinator)
    response = post_action(client, f"/integrations/{_client_id('HR')}/rotate", from_url="/integrations")
    assert response.status_code == 201
    new = _token_in(response.get_data(as_text=True))
    assert new != old
    assert services.client_for_token(old) is None
    assert services.client_for_token(new).name == "HR"
    response = post_action(client, f"/integrations/{_client_id('HR')}/revoke", from_url="/integrations")
    assert response.status_code == 302
    assert services.client_for_token(new).is_revoked
    assert [e.action for e in _entries("integration_client.rotate") + _entries("integration_client.revoke")] == [
        "integration_client.rotate",
        "integration_client.revoke",
    ]


@pytest.mark.parametrize("who", ["staff_member", "provider_user"])
def test_only_the_coordinator_manages_clients(request, client, login_as, who):
    login_as(request.getfixturevalue(who))
    assert client.get("/integrations").status_code == 403
    assert client.get("/integrations/new").status_code == 403


def _client_id(name: str) -> int:
    return db.session.scalar(select(IntegrationClient.id).where(IntegrationClient.name == name))


def _now():
    from app.core.clock import utcnow

    return utcnow()


# --- require_client ------------------------------------------------------------------------------------------


@pytest.fixture
def routes(app):
    """/_int/plain (runs:read, no error handler of its own) and /_int/json/<n> (scim, renders refusals as JSON)."""

    @require_client("runs:read")
    def plain():
        return jsonify(client=g.integration_client.name)

    bp = Blueprint("int_test", __name__)

    @bp.get("/_int/json/<int:n>")
    @require_client("scim")
    def with_json(n):
        return jsonify(n=n)

    @bp.post("/_int/json/<int:n>")
    @require_client("scim")
    def post_json(n):
        return jsonify(n=n), 201

    @bp.errorhandler(ClientRefused)
    def refused(exc):
        return jsonify(status=str(exc.status), detail=exc.detail), exc.status, exc.headers

    app.add_url_rule("/_int/plain", "int_plain", plain)
    app.register_blueprint(bp)
    transaction.init_app(app)
    return app


def _make(coordinator, name="BI", scopes=("runs:read",)):
    client_row, token = services.create_client(actor=coordinator, name=name, scopes=scopes, now=_now())
    db.session.commit()
    return client_row, token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.own_app
def test_a_valid_token_with_the_scope_is_let_in_audited_and_stamped(routes, client, coordinator, clock):
    row, token = _make(coordinator)
    response = client.get("/_int/plain", headers=_bearer(token))
    assert response.status_code == 200 and response.json == {"client": "BI"}
    [entry] = _entries("integration.call")
    assert entry.client_id == row.id and entry.actor_id is None
    assert entry.details == {"method": "GET", "endpoint": "int_plain", "status": 200}
    db.session.refresh(row)
    first_use = row.last_used_at
    assert first_use is not None
    clock.advance(timedelta(seconds=30))
    client.get("/_int/plain", headers=_bearer(token))
    db.session.refresh(row)
    assert row.last_used_at == first_use  # at most once a minute
    clock.advance(timedelta(seconds=31))
    client.get("/_int/plain", headers=_bearer(token))
    db.session.refresh(row)
    assert row.last_used_at > first_use


@pytest.mark.own_app
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer "}, {"Authorization": "Bearer kp_nope"}],
    ids=["none", "basic", "empty", "unknown"],
)
def test_no_or_a_wrong_token_is_401_with_a_bearer_challenge(routes, client, coordinator, headers):
    _make(coordinator)
    response = client.get("/_int/plain", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert _entries("integration.call") == []


@pytest.mark.own_app
def test_a_revoked_token_is_refused(routes, client, coordinator):
    row, token = _make(coordinator)
    services.revoke_client(row, actor=coordinator, now=_now())
    db.session.commit()
    response = client.get("/_int/plain", headers=_bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.own_app
def test_a_token_without_the_scope_is_403(routes, client, coordinator):
    _, token = _make(coordinator, scopes=("scim",))
    response = client.get("/_int/plain", headers=_bearer(token))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


@pytest.mark.own_app
def test_a_logged_in_coordinator_without_a_token_is_refused(routes, client, login_as, coordinator):
    login_as(coordinator)
    assert client.get("/_int/plain").status_code == 401


@pytest.mark.own_app
def test_the_blueprint_renders_refusals_and_posts_need_no_csrf_token(routes, client, coordinator):
    _, token = _make(coordinator, scopes=("scim",))
    response = client.get("/_int/json/1")
    assert response.status_code == 401 and response.json["status"] == "401"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post("/_int/json/2", json={}, headers=_bearer(token)).status_code == 201


@pytest.mark.own_app
def test_each_client_is_rate_limited_on_its_own(routes, app, client, coordinator):
    app.config["INTEGRATION_RATE_LIMIT"] = "3 per minute"
    _, token = _make(coordinator)
    _, other = _make(coordinator, name="HR")
    assert [client.get("/_int/plain", headers=_bearer(token)).status_code for _ in range(3)] == [200] * 3
    refused = client.get("/_int/plain", headers=_bearer(token))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert client.get("/_int/plain", headers=_bearer(other)).status_code == 200
