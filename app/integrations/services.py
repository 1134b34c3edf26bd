"""Use cases for integration clients: create, rotate, revoke (a coordinator), and finding the client a bearer
token belongs to (app.integrations.auth). Services flush but never commit.

A token is "kp_" + 43 URL-safe characters (256 random bits from `secrets`). Only its SHA-256 is stored, so a
copy of the database holds no usable token; the coordinator sees the token once, on the page that made it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.models import User
from app.audit.services import record
from app.core.exceptions import DomainError, ValidationFailed
from app.core.i18n import _l
from app.core.validators import too_long_message
from app.extensions import db
from app.integrations.models import IntegrationClient

logger = logging.getLogger(__name__)

#: Every scope a client may hold, with its label (Danish msgid). "scim" is the provisioning service (it
#: creates, changes and deactivates staff); the others are the read API's (/api/v1), one per kind of data.
SCOPES = {
    "scim": _l("SCIM-provisionering af medarbejdere (opretter, ændrer og deaktiverer brugere)"),
    "runs:read": _l("Læse kursusforløb med dage, pladser og status"),
    "participants:read": _l("Læse deltagere på et kursusforløb med status, fremmøde og gennemførelse"),
    "completions:read": _l("Læse gennemførte kurser pr. person"),
    "programmes:read": _l("Læse en indsats' nøgletal"),
}

TOKEN_PREFIX = "kp_"  # noqa: S105 (the tokens' prefix, not a secret)
#: Characters of the token kept in clear (`token_hint`) so tokens can be told apart: the prefix and 4 more.
HINT_LENGTH = len(TOKEN_PREFIX) + 4
NAME_MAX_LENGTH = 120


def hash_token(token: str) -> str:
    """The stored form of a bearer token: hex SHA-256 (the token is random, so no salt or stretching)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _set_token(client: IntegrationClient, now: datetime) -> str:
    token = _new_token()
    client.token_hash = hash_token(token)
    client.token_hint = token[:HINT_LENGTH]
    client.token_created_at = now
    return token


def list_clients() -> list[IntegrationClient]:
    """Every client, active ones first, then by name."""
    stmt = select(IntegrationClient).order_by(IntegrationClient.revoked_at.is_not(None), IntegrationClient.name)
    return list(db.session.scalars(stmt))


def client_for_token(token: str) -> IntegrationClient | None:
    """The client whose current token is `token` (revoked ones included: the caller refuses them), or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    return db.session.scalar(select(IntegrationClient).where(IntegrationClient.token_hash == hash_token(token)))


def _check(name: str, scopes: Iterable[str], client: IntegrationClient | None = None) -> tuple[str, str]:
    errors: dict[str, list[str]] = {}
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = [_("Skriv et navn på klienten, f.eks. systemets navn.")]
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = [too_long_message(NAME_MAX_LENGTH)]
    else:
        other = db.session.scalar(select(IntegrationClient).where(IntegrationClient.name == name))
        if other is not None and other is not client:
            errors["name"] = [_("Der findes allerede en klient med det navn.")]
    chosen = sorted(set(scopes))
    if not chosen:
        errors["scopes"] = [_("Vælg mindst én adgang.")]
    elif any(scope not in SCOPES for scope in chosen):
        errors["scopes"] = [_("Vælg adgange fra listen.")]
    if errors:
        raise ValidationFailed(errors)
    return name, " ".join(chosen)


def create_client(*, actor: User, name: str, scopes: Iterable[str], now: datetime) -> tuple[IntegrationClient, str]:
    """A coordinator adds a client; returns it and its token, which is shown once and never again.

    :raises ValidationFailed: no name, a name in use, no scope or an unknown one.
    """
    name, scope_text = _check(name, scopes)
    client = IntegrationClient(name=name, scopes=scope_text, created_by_id=actor.id, created_at=now)
    token = _set_token(client, now)
    db.session.add(client)
    db.session.flush()
    record(
        "integration_client.create",
        actor=actor,
        object_type="integration_client",
        object_id=client.id,
        details={"scopes": scope_text.split()},
        now=now,
    )
    logger.info("integration client %s created by user %s", client.id, actor.id)
    return client, token


def rotate_token(client: IntegrationClient, *, actor: User, now: datetime) -> str:
    """Replace the client's token (the old one is refused from now on); returns the new one, shown once.

    :raises DomainError: the client is revoked.
    """
    if client.is_revoked:
        raise DomainError(_("Klienten er tilbagekaldt og kan ikke få en ny nøgle."))
    token = _set_token(client, now)
    record("integration_client.rotate", actor=actor, object_type="integration_client", object_id=client.id, now=now)
    db.session.flush()
    logger.info("integration client %s: token rotated by user %s", client.id, actor.id)
    return token


def revoke_client(client: IntegrationClient, *, actor: User, now: datetime) -> None:
    """Refuse the client's token from now on, for good (the client stays as history of its calls).

    :raises DomainError: already revoked.
    """
    if client.is_revoked:
        raise DomainError(_("Klienten er allerede tilbagekaldt."))
    client.revoked_at = now
    record("integration_client.revoke", actor=actor, object_type="integration_client", object_id=client.id, now=now)
    db.session.flush()
    logger.info("integration client %s revoked by user %s", client.id, actor.id)
