"""Single sign-on pages: /login/sso sends the browser to the identity provider, /login/sso/callback finishes.

The callback is a GET because the provider redirects the browser there (and the SameSite=Lax session cookie,
which holds `state`, is only sent on a top-level GET). It is the one GET that writes (the identity link and
the audit entries), protected by `state`, PKCE and `nonce` instead of a CSRF token.

Replays: Authlib removes the state from the session once used, but the session is a cookie, and a copy taken
before the callback still holds it. Such a copy is refused after `oidc.LOGIN_MAX_SECONDS`; before that, the
code in the callback address has been redeemed already, and the provider redeems a code once (RFC 6749
4.1.2; the test provider too). Refused callbacks (400: state, code, token) count per IP address against
LOGIN_LIMIT_PER_IP, like failed password logins: each costs a request to the provider and an audit entry.

This module also owns the login page's modes: with LOCAL_LOGIN_ENABLED off the email/password form is
hidden and posting it (or the second-factor pages behind it) answers 404.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import requests
from authlib.common.errors import AuthlibBaseError
from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from joserfc.errors import ClaimError, JoseError

from app.accounts.signin.sessions import start_session
from app.accounts.sso import oidc
from app.core import clock, transaction
from app.core.access import public
from app.core.urls import external_url
from app.extensions import limiter

bp = Blueprint("sso", __name__)
logger = logging.getLogger(__name__)

METHOD_OIDC = "oidc"
_NEXT = "sso_next"
_STARTED = "sso_started_at"

#: Endpoints of the local (email + password) login, refused when LOCAL_LOGIN_ENABLED is off.
LOCAL_LOGIN_ENDPOINTS = frozenset(
    {
        "mfa.login_code",
        "mfa.login_setup",
        # passwords are set only for the local login: without it, reset and invitation links are refused too
        "accounts.password_forgot",
        "accounts.password_reset",
        "accounts.accept_invitation",
    }
)


@bp.before_app_request
def _refuse_local_login_when_disabled():
    if oidc.local_login_enabled():
        return None
    if request.endpoint in LOCAL_LOGIN_ENDPOINTS or (request.endpoint == "accounts.login" and request.method == "POST"):
        abort(404)
    return None


@bp.app_context_processor
def _login_modes():
    def sso_button_label() -> str:
        return current_app.config.get("OIDC_BUTTON_LABEL") or _("Log ind med kommunens konto")

    return {
        "sso_enabled": oidc.is_configured,
        "local_login_enabled": oidc.local_login_enabled,
        "sso_button_label": sso_button_label,
    }


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _refused(reason: str, status: int):
    """Audit the refusal and show a clear page; nobody is logged in."""
    transaction.discard()
    oidc.record_refusal(reason, now=clock.utcnow())
    logger.info("SSO login refused: %s", reason)
    unknown = reason in {
        "unknown_identity",
        "no_verified_email",
        "no_matching_user",
        "ambiguous_email",
        "account_bound_to_other_identity",
        "user_inactive",
    }
    return render_template("accounts/sso_refused.html", unknown_user=unknown, unavailable=status >= 500), status


def _protocol_refusal(response) -> bool:
    """A callback refused for its state, code or token (400); not an unknown person (403) or the provider down."""
    return response.status_code == 400


def _limit_refused_callbacks(view):
    return limiter.limit(
        lambda: current_app.config["LOGIN_LIMIT_PER_IP"],
        key_func=get_remote_address,
        methods=["GET"],
        deduct_when=_protocol_refusal,
        scope="sso-callback-ip",
    )(view)


def _started_recently(now: datetime) -> bool:
    try:
        started = clock.as_utc(datetime.fromisoformat(session.get(_STARTED, "")))
    except (TypeError, ValueError):
        return False
    return timedelta(0) <= now - started <= timedelta(seconds=oidc.LOGIN_MAX_SECONDS)


@bp.get("/login/sso")
@public
def start():
    """Send the browser to the municipality's identity provider (discovery is read on the first use)."""
    if not oidc.is_configured():
        abort(404)
    try:
        idp = oidc.client()
        # on BASE_URL, never the request's Host header (behind a proxy that is the internal address)
        redirect_uri = external_url("sso.callback")
        response = idp.authorize_redirect(redirect_uri)
    except oidc.SsoRefused as exc:
        return _refused(exc.reason, exc.status)
    except (requests.RequestException, AuthlibBaseError, ValueError, KeyError, RuntimeError) as exc:
        logger.warning("SSO discovery failed: %s", type(exc).__name__)
        return _refused("provider_unavailable", 502)
    next_url = _safe_next(request.args.get("next"))
    if next_url:
        session[_NEXT] = next_url
    session[_STARTED] = clock.utcnow().isoformat()
    return response


@bp.get("/login/sso/callback")
@public
@_limit_refused_callbacks
def callback():
    """The identity provider sends the browser back here: check everything, then log the user in."""
    if not oidc.is_configured():
        abort(404)
    now = clock.utcnow()
    if not _started_recently(now):
        return _refused("login_expired", 400)  # no login under way here, or an old copy of the cookie
    try:
        idp = oidc.client()
        token = idp.authorize_access_token(claims_options=oidc.claims_options(), leeway=oidc.LEEWAY_SECONDS)
        claims = token.get("userinfo") if isinstance(token, dict) else None
        if not claims:
            raise oidc.SsoRefused("no_id_token")
        login = oidc.resolve_login(dict(claims), now=now)
    except oidc.SsoRefused as exc:
        return _refused(exc.reason, exc.status)
    except JoseError as exc:
        # bad signature, wrong issuer or audience, expired, nonce mismatch ...: the error's name is enough
        reason = f"invalid_id_token:{getattr(exc, 'error', type(exc).__name__)}"
        if isinstance(exc, ClaimError):
            reason += f":{exc.claim}"
        return _refused(reason, 400)
    except AuthlibBaseError as exc:
        # mismatching state, an error from the provider, a refused code exchange
        return _refused(f"oauth:{getattr(exc, 'error', type(exc).__name__)}", 400)
    except (requests.RequestException, ValueError, KeyError, RuntimeError) as exc:
        logger.warning("SSO callback failed: %s", type(exc).__name__)
        return _refused("provider_unavailable", 502)
    next_url = _safe_next(session.get(_NEXT))
    start_session(login.user, method=METHOD_OIDC)
    return redirect(next_url or url_for("main.home"))
