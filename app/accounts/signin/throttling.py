"""Throttling of logins, password-reset requests and password changes (Flask-Limiter).

Each limit is checked before the view runs; a breached one answers 429 (errors/429.html) before the
password is even looked at, so a locked login refuses the right password too, until the window has moved on.
What *counts* differs:

- login: only failed attempts count (`count_failure()` from the view), in three counters (issue 20: one
  counter per email address let anybody lock a named colleague out, and one per IP address of 20 locked out a
  whole town hall behind its NAT):
  - per email address *and* IP address (LOGIN_LIMIT_PER_ACCOUNT_AND_IP, 5 in 15 minutes): the hard stop for
    one guesser, which locks the account from that address only - the owner elsewhere logs in;
  - per email address from all addresses together (LOGIN_LIMIT_PER_ACCOUNT, 50 an hour): the ceiling for
    guessing spread over many addresses, above what one address may do under the first (20 an hour), so no
    single address can reach it;
  - per IP address, all accounts together (LOGIN_LIMIT_PER_IP, 100 in 15 minutes): bounds one address
    trying many accounts, high enough for a town hall's shared address.
  Known and unknown email addresses count alike, so no limit tells anybody whether an account exists. A
  successful password reset clears the account's counters (`clear_login_counters`), so the real owner of a
  locked account gets in through *Glemt adgangskode?*: the reset request has limits of its own, never the
  login's.
- password-reset requests: every request counts, per IP and per email address;
- password change on the account page: wrong current passwords count, per user.

Counter keys hold a keyed hash (HMAC with SECRET_KEY) of the email address, not the address: the storage may
be a shared Redis, and a plain hash of a guessable address is no secret. The IP address is in the clear, as
Flask-Limiter keys it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import current_app, g, request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits import parse_many

from app.extensions import limiter

logger = logging.getLogger(__name__)

_FAILED = "_throttle_failed"

#: The login counters' scopes (part of their storage keys; shared limits, so the scope is exactly this).
SCOPE_ACCOUNT_AND_IP = "login-account-ip"
SCOPE_ACCOUNT = "login-account"
SCOPE_IP = "login-ip"

#: Which login lock refused the request, for the 429 page (templates/errors/429.html reads `g.login_lock`):
#: "account" (the email address's own counters: a password reset lifts them) or "address" (the IP address's).
LOCK_ACCOUNT = "account"
LOCK_ADDRESS = "address"


def count_failure() -> None:
    """Make this request count against the limits that count failures only."""
    setattr(g, _FAILED, True)


def _failed(_response) -> bool:
    return bool(getattr(g, _FAILED, False))


def _digest(text: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _normalised(email: str | None) -> str:
    return (email or "").strip().lower()[:254]


def _submitted_email() -> str:
    return _normalised(request.form.get("email"))


def _account_key_for(email: str) -> str:
    return "email:" + _digest(email) if email else "email:-"


def _account_and_ip_key_for(email: str, address: str) -> str:
    return "email-ip:" + _digest(f"{email}\n{address}") if email else f"email-ip:-:{address}"


def _email_key() -> str:
    """The submitted email address, normalised and hashed ("-" when none was typed)."""
    return _account_key_for(_submitted_email())


def _email_and_ip_key() -> str:
    """The submitted email address together with the client's IP address, hashed."""
    return _account_and_ip_key_for(_submitted_email(), get_remote_address())


def _user_key() -> str:
    return f"user:{current_user.get_id() or '-'}"


def _config(name: str):
    return lambda: current_app.config[name]


def _lock(kind: str):
    def note(_limit) -> None:
        g.login_lock = kind  # the response stays the 429 page (returning None)

    return note


def limit_logins(view):
    """Login POST: failures per email address and IP address, per email address, and per IP address."""
    for setting, scope, key_func, kind in (
        ("LOGIN_LIMIT_PER_IP", SCOPE_IP, get_remote_address, LOCK_ADDRESS),
        ("LOGIN_LIMIT_PER_ACCOUNT", SCOPE_ACCOUNT, _email_key, LOCK_ACCOUNT),
        ("LOGIN_LIMIT_PER_ACCOUNT_AND_IP", SCOPE_ACCOUNT_AND_IP, _email_and_ip_key, LOCK_ACCOUNT),
    ):
        view = limiter.shared_limit(
            _config(setting),
            scope,
            key_func=key_func,
            methods=["POST"],
            deduct_when=_failed,
            on_breach=_lock(kind),
        )(view)
    return view


def clear_login_counters(email: str) -> None:
    """A successful password reset: the account's failed logins are forgotten - those from all addresses
    together, and those from the address the reset was made from. Other addresses' counts for the account
    stay (a guesser elsewhere still waits); so do the IP address's own.

    Best effort: if the storage fails the reset still stands (logged without the address)."""
    email = _normalised(email)
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    counters = (
        ("LOGIN_LIMIT_PER_ACCOUNT", SCOPE_ACCOUNT, _account_key_for(email)),
        ("LOGIN_LIMIT_PER_ACCOUNT_AND_IP", SCOPE_ACCOUNT_AND_IP, _account_and_ip_key_for(email, get_remote_address())),
    )
    try:
        for setting, scope, key in counters:
            identifiers = [prefix, key, scope] if prefix else [key, scope]
            for item in parse_many(current_app.config[setting]):
                limiter.limiter.clear(item, *identifiers)
    except Exception:  # the storage went away: the counters run out on their own
        logger.warning("could not clear the login counters after a password reset", exc_info=True)


def limit_reset_requests(view):
    """Password-reset request POST: every request counts, per IP and per email address."""
    view = limiter.limit(
        _config("PASSWORD_RESET_LIMIT_PER_ACCOUNT"), key_func=_email_key, methods=["POST"], scope="reset-account"
    )(view)
    return limiter.limit(
        _config("PASSWORD_RESET_LIMIT_PER_IP"), key_func=get_remote_address, methods=["POST"], scope="reset-ip"
    )(view)


def limit_password_changes(view):
    """Account page password change POST: wrong current passwords per user."""
    return limiter.limit(
        _config("PASSWORD_CHANGE_LIMIT"),
        key_func=_user_key,
        methods=["POST"],
        deduct_when=_failed,
        scope="password-change",
    )(view)


def limit_person_searches(view):
    """Searches for people, per coordinator (enrol on someone's behalf, a unit's leaders): generous for typing
    (each keystroke may ask), but no harvesting. One counter for every search page."""
    return limiter.limit(
        lambda: current_app.config["PERSON_SEARCH_LIMIT"],
        key_func=lambda: f"user:{current_user.get_id() or '-'}",
        scope="person-search",
    )(view)
