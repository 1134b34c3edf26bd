"""`require_client(scope)`: the view decorator of every route a program calls with a bearer token
(/scim/v2, /api/v1). docs/architecture.md "Integration clients" describes the contract.

For each request it
- reads `Authorization: Bearer <token>` and finds the client by the token's hash; a missing, unknown or revoked
  token raises `ClientRefused(401)` (with `WWW-Authenticate: Bearer`), a client without `scope` `ClientRefused(403)`;
- counts the call against the client's rate limit (INTEGRATION_RATE_LIMIT, Flask-Limiter's storage and key
  prefix), over it `ClientRefused(429)` with `Retry-After`;
- sets `g.integration_client` (the audit log's `record()` writes it into every entry of the request as the one
  who did it), stamps `last_used_at` (at most once a minute), runs the view, and records the call itself
  ("integration.call": method, endpoint and status; no query string, which may carry a name or an address).

The blueprint decides what a refusal looks like (SCIM's error JSON, the API's problem+json):
`@bp.errorhandler(ClientRefused)` renders `exc.status`, `exc.detail` and must send `exc.headers`. Without one,
app/errors.py answers with plain text. A refusal is raised inside the request's transaction owner, so nothing of
it is kept: a refused call is logged (client id and reason) but not audited, like any refused action.

The view needs no `@allow`/`@public`: the decorator sets the access rule (`AccessRule(client_scope=...)`), which
the session-based access check lets through, and exempts the view from CSRF (no cookie is involved).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from flask import current_app, g, request
from limits import parse_many

from app.audit.services import record
from app.core.access import AccessRule
from app.core.clock import as_utc, utcnow
from app.extensions import csrf, limiter
from app.integrations.models import IntegrationClient
from app.integrations.services import SCOPES, client_for_token

logger = logging.getLogger(__name__)

#: `last_used_at` is written when it is older than this: one UPDATE a minute per busy client, not one a call.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: The rate limit counters' scope (part of their storage key, after the client's id).
RATE_LIMIT_SCOPE = "integration-client"


class ClientRefused(Exception):
    """The call is refused before the view runs. `status` 401/403/429; `reason` a short code for logs
    ("missing_token", "invalid_token", "revoked", "insufficient_scope", "rate_limited"); `detail` an English
    sentence for the calling program's log; `headers` to send (WWW-Authenticate, Retry-After)."""

    def __init__(self, status: int, reason: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = headers or {}


def current_client() -> IntegrationClient | None:
    """The client of this request (set by `require_client`), or None."""
    return g.get("integration_client")


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _challenge(error: str | None = None, scope: str | None = None) -> dict[str, str]:
    # RFC 6750 §3: the scheme, and for a bad token the error code (no description: nothing to leak).
    value = 'Bearer realm="kursusportalen"'
    if error:
        value += f', error="{error}"'
    if scope:
        value += f', scope="{scope}"'
    return {"WWW-Authenticate": value}


def authenticate(scope: str) -> IntegrationClient:
    """The client calling with a valid token that holds `scope`, rate limit counted; else `ClientRefused`."""
    token = _bearer_token()
    if token is None:
        raise ClientRefused(401, "missing_token", "A bearer token is required.", _challenge())
    client = client_for_token(token)
    if client is None or client.is_revoked:
        reason = "revoked" if client is not None else "invalid_token"
        logger.info("integration call refused: %s (client %s)", reason, client.id if client else "-")
        raise ClientRefused(
            401, reason, "The bearer token is invalid or has been revoked.", _challenge("invalid_token")
        )
    retry_after = _over_rate_limit(client)
    if retry_after is not None:
        logger.info("integration call refused: rate limited (client %s)", client.id)
        raise ClientRefused(
            429, "rate_limited", "Too many requests for this client.", {"Retry-After": str(retry_after)}
        )
    if scope not in client.scope_set:
        logger.info("integration call refused: scope %s missing (client %s)", scope, client.id)
        raise ClientRefused(
            403, "insufficient_scope", f"The token lacks the scope {scope}.", _challenge("insufficient_scope", scope)
        )
    return client


def _over_rate_limit(client: IntegrationClient) -> int | None:
    """Count this call; the seconds to wait when the client is over INTEGRATION_RATE_LIMIT, else None. Fails
    open (logged) if the limiter's storage is away, as Flask-Limiter's own limits do with its fallback."""
    config = current_app.config
    if not config.get("RATELIMIT_ENABLED", True):
        return None
    prefix = config.get("RATELIMIT_KEY_PREFIX") or ""
    identifiers = (
        [prefix, f"client:{client.id}", RATE_LIMIT_SCOPE] if prefix else [f"client:{client.id}", RATE_LIMIT_SCOPE]
    )
    try:
        for item in parse_many(config["INTEGRATION_RATE_LIMIT"]):
            if not limiter.limiter.hit(item, *identifiers):
                reset_at = limiter.limiter.get_window_stats(item, *identifiers).reset_time
                return max(1, int(reset_at - time.time()) + 1)
    except Exception:  # the storage went away: let the call through rather than stop provisioning
        logger.warning("integration rate limit not checked: storage unavailable", exc_info=True)
    return None


def _touch(client: IntegrationClient, now: datetime) -> None:
    if client.last_used_at is None or now - as_utc(client.last_used_at) >= LAST_USED_RESOLUTION:
        client.last_used_at = now


def require_client(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a view called by programs with a bearer token holding `scope` (one of
    app.integrations.services.SCOPES). See the module docstring for what it does and raises."""
    if scope not in SCOPES:
        raise ValueError(f"unknown integration scope {scope!r}")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            client = authenticate(scope)
            g.integration_client = client
            now = utcnow()
            _touch(client, now)
            response = current_app.make_response(view(*args, **kwargs))
            record(
                "integration.call",
                details={"method": request.method, "endpoint": request.endpoint, "status": response.status_code},
                now=now,
            )
            return response

        wrapper.access_rule = AccessRule(client_scope=scope)  # type: ignore[attr-defined]
        csrf.exempt(wrapper)
        return wrapper

    return decorate
