"""`/healthz` tells the public up or down only; the details (outbox backlog, scheduler heartbeat) go to a
monitor: the HEALTHZ_TOKEN, or a request from this host straight to gunicorn (app/health/monitoring.py)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

from app.health.services import record_heartbeat
from app.notifications.models import OutboxStatus
from tests.health.test_healthz import _queue
from tests.test_production import production  # noqa: F401 (fixture)

#: Fixed, not drawn per run: the parametrised test ids below contain it, and pytest-xdist's workers must collect
#: the same ids.
TOKEN = "mC4pT9qZr2Xw7LkV0sYb3NhJ8dGf6uEaQ1iOeRtUyPo"  # noqa: S105 (a test token, never a production value)
INTERNET = {"REMOTE_ADDR": "203.0.113.7"}


def _details_shown(response) -> bool:
    return response.is_json and "outbox" in response.json


@pytest.fixture
def monitored(app):
    app.config["HEALTHZ_TOKEN"] = TOKEN
    return app


def test_the_public_answer_is_up_or_down_without_details(app, client, clock):
    _queue(2, OutboxStatus.FAILED)
    up = client.get("/healthz", environ_base=INTERNET)
    assert up.status_code == 200 and up.get_data(as_text=True) == "ok\n"
    assert up.mimetype == "text/plain" and up.headers["Cache-Control"] == "no-store"

    app.config["SCHEDULER"] = "external"
    record_heartbeat(clock.utcnow() - timedelta(minutes=10))
    down = client.get("/healthz", environ_base=INTERNET)
    assert down.status_code == 503 and down.get_data(as_text=True) == "unavailable\n"
    for detail in ("outbox", "scheduler", "heartbeat", "stale", "failed"):
        assert detail not in down.get_data(as_text=True)


def test_the_monitoring_token_shows_the_details(monitored, client):
    _queue(1, OutboxStatus.FAILED)
    response = client.get("/healthz", environ_base=INTERNET, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.json["outbox"] == {"pending": 0, "failed": 1}
    assert client.get("/healthz", environ_base=INTERNET, headers={"Authorization": f"bearer {TOKEN}"}).is_json


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer ",
        "Bearer æøå",
    ],
)
def test_a_wrong_token_gets_the_public_answer(monitored, client, authorization):
    response = client.get("/healthz", environ_base=INTERNET, headers={"Authorization": authorization})
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok\n"


def test_no_token_configured_means_no_token_accepted(app, client):
    app.config["HEALTHZ_TOKEN"] = None
    response = client.get("/healthz", environ_base=INTERNET, headers={"Authorization": "Bearer None"})
    assert not _details_shown(response)


@pytest.mark.parametrize("peer", ["127.0.0.1", "127.0.0.53", "::1"])
def test_a_request_from_this_host_straight_to_gunicorn_sees_the_details(client, peer):
    assert _details_shown(client.get("/healthz", environ_base={"REMOTE_ADDR": peer}))


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_a_request_through_a_proxy_is_never_local(client, header):
    """nginx connects from loopback: its requests carry X-Forwarded-For, and those are the internet's."""
    value = "for=127.0.0.1" if header == "Forwarded" else "127.0.0.1"
    response = client.get("/healthz", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={header: value})
    assert not _details_shown(response)


def test_behind_proxy_fix_the_real_peer_decides_not_the_forwarded_address(app, client, monkeypatch):
    """With PROXY_COUNT=1, ProxyFix makes request.remote_addr the X-Forwarded-For address: a client on the
    internet that sends `X-Forwarded-For: 127.0.0.1` through a proxy must not pass for this host."""
    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1))
    forged = client.get("/healthz", environ_base=INTERNET, headers={"X-Forwarded-For": "127.0.0.1"})
    assert not _details_shown(forged)
    through_nginx = client.get(
        "/healthz", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"X-Forwarded-For": "::1"}
    )
    assert not _details_shown(through_nginx)
    on_the_host = client.get("/healthz", environ_base={"REMOTE_ADDR": "127.0.0.1"})  # curl 127.0.0.1:8000
    assert _details_shown(on_the_host)


@pytest.mark.parametrize(
    "token",
    [
        "x" * 40,
        "monitoring-token-for-the-healthz-endpoint",
        "change-me-to-the-output-of-python3-c-import-secrets-print-secrets.token_urlsafe-32",
        "short",
    ],
)
def test_production_refuses_a_weak_or_published_healthz_token(production, monkeypatch, token):  # noqa: F811
    monkeypatch.setattr(production, "HEALTHZ_TOKEN", token)
    with pytest.raises(RuntimeError, match="HEALTHZ_TOKEN") as refused:
        production.validate()
    assert token not in str(refused.value)


def test_production_accepts_a_random_healthz_token_or_none(production, monkeypatch):  # noqa: F811
    monkeypatch.setattr(production, "HEALTHZ_TOKEN", secrets.token_urlsafe(32))
    production.validate()
    monkeypatch.setattr(production, "HEALTHZ_TOKEN", None)
    production.validate()
