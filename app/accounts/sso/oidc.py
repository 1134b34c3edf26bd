"""OpenID Connect single sign-on against the municipality's identity provider (Microsoft Entra ID, AD FS, ...).

The Authlib Flask client does the protocol: discovery from OIDC_ISSUER, the authorization code flow with
PKCE (S256), `state` and `nonce` kept in the session, and the ID token's signature checked against the
provider's published keys. On top of that this module insists on what Authlib leaves optional:
- the discovery document's `issuer` must equal OIDC_ISSUER exactly (ASVS 10.5.3), and so must the token's `iss`;
- the token's `aud` must contain OIDC_CLIENT_ID (Authlib only checks `azp` by default; ASVS 10.5.4);
- the token response must carry an ID token at all (Authlib skips validation without one).

Who the login is: the identity row (issuer, subject) -> user; subject "<tid>:<oid>" when both Entra ID claims
are there (`oid` is immutable and never reused), else `sub`. The email only ever links the *first* login
of an identity to a pre-provisioned account, and only if that account has no identity at this issuer yet;
nobody is created here. Nothing is fetched before the first SSO login (lazy discovery), so the app starts
without the identity provider.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app
from sqlalchemy import select

from app.accounts.account_events import audit_account
from app.accounts.models import User, normalise_email
from app.accounts.sso.models import UserIdentity
from app.audit.services import record
from app.extensions import db

logger = logging.getLogger(__name__)

CLIENT_NAME = "idp"
SCOPES = "openid email profile"
#: Seconds of clock difference allowed on `exp`/`iat`.
LEEWAY_SECONDS = 60
#: An SSO login must come back from the identity provider within this many seconds of its start. Authlib keeps
#: `state` (with the nonce and the PKCE verifier) in the session cookie and never checks the expiry it stores
#: beside it, so without this an old copy of the cookie would carry a usable state for ever.
LOGIN_MAX_SECONDS = 900
#: Claims that may carry the email used for the one-time link, in this order (see docs/authentication.md).
EMAIL_CLAIMS = ("email", "preferred_username", "upn")


class SsoRefused(Exception):
    """The login can't go on. `reason` is a short code for the audit log; `status` the HTTP status."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def is_configured(app: Flask | None = None) -> bool:
    config = (app or current_app).config
    return bool(config.get("OIDC_ISSUER") and config.get("OIDC_CLIENT_ID") and config.get("OIDC_CLIENT_SECRET"))


def local_login_enabled(app: Flask | None = None) -> bool:
    return bool((app or current_app).config.get("LOCAL_LOGIN_ENABLED", True))


def configured_issuer() -> str:
    return current_app.config["OIDC_ISSUER"]


def client():
    """The app's Authlib client, registered on first use (so tests and settings changed after create_app count)."""
    app = current_app._get_current_object()
    state = app.extensions.get("kp_oidc")
    settings = (configured_issuer(), app.config["OIDC_CLIENT_ID"], app.config["OIDC_CLIENT_SECRET"])
    if state is None or state["settings"] != settings:
        oauth = OAuth(app)
        issuer, client_id, client_secret = settings
        oauth.register(
            CLIENT_NAME,
            client_id=client_id,
            client_secret=client_secret,
            server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": SCOPES,
                "code_challenge_method": "S256",
                "default_timeout": app.config.get("OIDC_TIMEOUT", 10),
            },
        )
        state = app.extensions["kp_oidc"] = {"settings": settings, "oauth": oauth}
    idp = state["oauth"].create_client(CLIENT_NAME)
    metadata = idp.load_server_metadata()
    if metadata.get("issuer") != configured_issuer():
        # e.g. Entra ID's "common" endpoint, or a misconfigured proxy: never accept tokens from it.
        idp.server_metadata = {}
        raise SsoRefused("discovery_issuer_mismatch", status=502)
    return idp


def claims_options() -> dict[str, Any]:
    """Passed to Authlib's ID token validation: exact issuer, our client id in the audience."""
    return {
        "iss": {"essential": True, "values": [configured_issuer()]},
        "aud": {"essential": True, "values": [current_app.config["OIDC_CLIENT_ID"]]},
        "sub": {"essential": True},
    }


def subject_of(claims: dict[str, Any]) -> str:
    """The stable key of the person at this issuer: tid:oid (Entra ID) or sub."""
    tid, oid = claims.get("tid"), claims.get("oid")
    if isinstance(tid, str) and isinstance(oid, str) and tid and oid:
        return f"{tid}:{oid}"
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise SsoRefused("no_subject")
    return sub


def trusted_emails(claims: dict[str, Any]) -> set[str]:
    """Lower-cased addresses the IdP vouches for: `email` unless `email_verified` is false; and for Entra ID
    (which sends no `email_verified`) also `preferred_username`/`upn` — in a single-tenant registration these
    are the sign-in names the municipality's own administrators set."""
    emails = set()
    for name in EMAIL_CLAIMS:
        value = claims.get(name)
        if not isinstance(value, str) or "@" not in value:
            continue
        if name == "email" and claims.get("email_verified") is False:
            continue
        if name != "email" and "tid" not in claims:
            continue  # only Entra ID's sign-in names; elsewhere preferred_username is whatever the user chose
        emails.add(normalise_email(value))
    return emails


@dataclass(frozen=True)
class SsoLogin:
    user: User
    linked: bool


def resolve_login(claims: dict[str, Any], *, now: datetime) -> SsoLogin:
    """The user this validated ID token belongs to, linking a first login by email once (see module doc)."""
    issuer = configured_issuer()
    subject = subject_of(claims)
    identity = db.session.scalar(
        select(UserIdentity).where(UserIdentity.issuer == issuer, UserIdentity.subject == subject)
    )
    if identity is not None:
        if not identity.user.active:
            raise SsoRefused("user_inactive", status=403)
        identity.last_login_at = now
        audit_account("auth.sso_login", identity.user_id, actor=identity.user, now=now, details={"issuer": issuer})
        db.session.flush()
        return SsoLogin(identity.user, linked=False)

    if not current_app.config.get("OIDC_LINK_BY_EMAIL", True):
        raise SsoRefused("unknown_identity", status=403)
    emails = trusted_emails(claims)
    if not emails:
        raise SsoRefused("no_verified_email", status=403)
    candidates = db.session.scalars(select(User).where(User.email.in_(emails), User.active.is_(True))).all()
    if len(candidates) != 1:
        raise SsoRefused("no_matching_user" if not candidates else "ambiguous_email", status=403)
    user = candidates[0]
    already = db.session.scalar(
        select(UserIdentity.id).where(UserIdentity.user_id == user.id, UserIdentity.issuer == issuer)
    )
    if already is not None:
        # The account is bound to another person at this issuer: a changed or reused email never takes it over.
        raise SsoRefused("account_bound_to_other_identity", status=403)
    db.session.add(UserIdentity(user_id=user.id, issuer=issuer, subject=subject, linked_at=now, last_login_at=now))
    audit_account("auth.sso_linked", user, actor=user, now=now, details={"issuer": issuer})
    audit_account("auth.sso_login", user, actor=user, now=now, details={"issuer": issuer, "first": True})
    db.session.flush()
    return SsoLogin(user, linked=True)


def record_refusal(reason: str, *, now: datetime) -> None:
    """Audit a refused SSO login (the reason code only: no tokens, no claims)."""
    record("auth.sso_refused", details={"reason": reason}, now=now)
