"""Credential use cases: checking a password at login, the audit trail of logins, changing and resetting a
password, invitations for imported staff to set their first password, and ending a user's sessions.

Like app.accounts.directory.services: explicit `now`, DomainError subclasses, add/flush, never commit (the view owns
the transaction). Nothing here logs or audits a password, a token or an email address that has no account.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from app.accounts.account_events import audit_account, mail_account_holder
from app.accounts.models import User, hash_password
from app.accounts.queries import get_user_by_email
from app.accounts.signin import tokens
from app.accounts.signin.passwords import check_new_password
from app.accounts.signin.sessions import end_all_sessions
from app.audit.services import record
from app.core import clock
from app.core.exceptions import Conflict, ValidationFailed
from app.extensions import db

logger = logging.getLogger(__name__)

KIND_PASSWORD_RESET = "password_reset"  # noqa: S105 (an outbox kind, not a secret)
KIND_INVITATION = "account_invitation"
KIND_PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an outbox kind, not a secret)


# --- logins -------------------------------------------------------------------------------------------


_DUMMY_HASHES: dict[str, str] = {}


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None (one answer for every failure)."""
    user = get_user_by_email(email)
    if user is None or not user.password_hash:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        if method not in _DUMMY_HASHES:
            _DUMMY_HASHES[method] = hash_password("not-a-real-password")
        check_password_hash(_DUMMY_HASHES[method], password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


def record_login(user: User, *, method: str, now: datetime) -> None:
    audit_account("auth.login", user, actor=user, now=now, details={"method": method})


def record_login_failure(email: str, *, now: datetime) -> None:
    """A failed password login. The account is named only if it exists (a typed unknown address is
    personal data of nobody we know, or a typo of a password: neither is kept)."""
    user = get_user_by_email(email) if email else None
    record(
        "auth.login_failed",
        actor=None,
        object_type="user" if user else None,
        object_id=user.id if user else None,
        subject=user,
        details={"method": "password"},
        now=now,
    )


def log_out(user: User, *, now: datetime) -> None:
    """Logging out ends every session of `user` (issue 8: a copy of the cookie, on another device or in
    someone else's hands, must not outlive the logout); the caller empties this browser's session."""
    end_all_sessions(user)
    audit_account("auth.logout", user, actor=user, now=now)


def log_out_everywhere(user: User, *, now: datetime) -> None:
    """End every session of `user` (the caller ends this browser's session too)."""
    end_all_sessions(user)
    audit_account("auth.logout_everywhere", user, actor=user, now=now)


# --- changing a password ------------------------------------------------------------------------------


def _set_password(user: User, password: str) -> None:
    check_new_password(password, name=user.name, email=user.email)
    user.set_password(password)
    end_all_sessions(user)


def _notify_password_changed(user: User, *, now: datetime) -> None:
    """Tell the user their password changed, so a change they didn't make doesn't go unnoticed."""
    mail_account_holder(
        user,
        kind=KIND_PASSWORD_CHANGED,
        now=now,
        path="/password/forgot",
        link_text=lambda: _("Vælg en ny adgangskode"),
        subject=lambda: _("Din adgangskode er skiftet"),
        paragraphs=lambda: [
            _(
                "Adgangskoden til din konto i Kursusportalen er netop blevet skiftet, og du er logget af alle "
                "steder, hvor du var logget ind."
            ),
            _(
                "Var det ikke dig, så vælg en ny adgangskode med det samme via linket nedenfor, og kontakt din "
                "kursuskoordinator."
            ),
        ],
    )


def change_password(user: User, *, current_password: str, new_password: str, now: datetime) -> None:
    """The user changes their own password (account page). Every session of theirs ends; the view keeps
    the current one (`sessions.keep_current_session`).

    :raises ValidationFailed: wrong current password (`current_password`), policy (`new_password`).
    """
    if not user.check_password(current_password or ""):
        raise ValidationFailed({"current_password": [_("Den nuværende adgangskode er forkert.")]})
    if new_password == current_password:
        raise ValidationFailed({"new_password": [_("Den nye adgangskode skal være en anden end den nuværende.")]})
    try:
        _set_password(user, new_password)
    except ValidationFailed as exc:
        raise ValidationFailed({"new_password": exc.errors["password"]}) from None
    db.session.flush()
    _notify_password_changed(user, now=now)
    audit_account("auth.password_changed", user, actor=user, now=now)
    logger.info("user %s changed their password", user.id)


def password_set_by_coordinator(user: User, *, actor: User | None, now: datetime) -> None:
    """Audit and session consequences of a coordinator (or the CLI) setting a user's password."""
    end_all_sessions(user)
    _notify_password_changed(user, now=now)
    audit_account("auth.password_set", user, actor=actor, now=now)


def end_sessions_of_deactivated(user: User) -> None:
    """A coordinator deactivated `user`: every session of theirs ends now (the audit entry,
    "user.deactivate", is written by update_user with the other changed fields)."""
    end_all_sessions(user)


# --- password reset -----------------------------------------------------------------------------------


#: The recipient of the mail composed, and never queued, for an address without an active account (an
#: address that can't exist: the address typed is not written anywhere, not even to a rolled-back row).
_NO_ACCOUNT_EMAIL = "ingen.konto@kursusportalen.invalid"


def request_password_reset(email: str, *, now: datetime) -> bool:
    """Mail a reset link to the active account with this email, if there is one. The caller answers the
    same either way; the return value (True if a mail was queued) is for tests only.

    The work is the same either way too, so the time taken tells nothing (issue 20: 14 ms for a known address
    against 6 ms for an unknown one): the lookup, a token, the whole mail composed and inserted into the outbox
    inside a savepoint - kept for an active account, rolled back otherwise (for a stand-in recipient) - and one
    audit entry, naming the account only if there is one (as for a failed login). The same statements reach
    the database, and both transactions commit a row.
    """
    user = get_user_by_email(email) if email else None
    account = user if user is not None and user.active else None
    recipient = account if account is not None else User(email=_NO_ACCOUNT_EMAIL, name=_NO_ACCOUNT_EMAIL)
    savepoint = db.session.begin_nested()
    try:
        row = _queue_reset_mail(recipient, now=now)
    except BaseException:
        savepoint.rollback()
        raise
    if account is not None:
        savepoint.commit()
    else:
        if row is not None:
            db.session.expunge(row)  # its row is rolled back: nothing may find the object later
        savepoint.rollback()
    record(
        "auth.password_reset_requested",
        actor=None,
        object_type="user" if account is not None else None,
        object_id=account.id if account is not None else None,
        subject=account,
        now=now,
    )
    return account is not None


def _queue_reset_mail(user: User, *, now: datetime):
    hours = int(current_app.config["PASSWORD_RESET_HOURS"])
    return mail_account_holder(
        user,
        kind=KIND_PASSWORD_RESET,
        now=now,
        path=f"/password/reset/{tokens.make_reset_token(user)}",
        link_text=lambda: _("Vælg en ny adgangskode"),
        subject=lambda: _("Ny adgangskode til Kursusportalen"),
        paragraphs=lambda: [
            _(
                "Nogen har bedt om at nulstille adgangskoden til din konto i Kursusportalen. Var det dig, så "
                "brug linket nedenfor til at vælge en ny adgangskode."
            ),
            ngettext(
                "Linket virker i %(num)s time og kun én gang.", "Linket virker i %(num)s timer og kun én gang.", hours
            ),
            _("Har du ikke bedt om det, kan du se bort fra denne mail. Din adgangskode er ikke ændret."),
        ],
    )


def reset_password(token: str, new_password: str, *, now: datetime) -> User:
    """Set a new password through a reset link. Every session of the user ends; the link is used up.

    :raises tokens.TokenRefused: the link is invalid, expired or used. :raises ValidationFailed: the policy
    (field `password`).
    """
    user = tokens.user_for_reset_token(token)
    _set_password(user, new_password)
    db.session.flush()
    _notify_password_changed(user, now=now)
    audit_account("auth.password_reset", user, actor=None, now=now)
    logger.info("user %s reset their password by mail link", user.id)
    return user


# --- invitations --------------------------------------------------------------------------------------


def _check_invitable(user: User) -> None:
    if user.password_hash is not None:
        raise Conflict(_("%(name)s har allerede en adgangskode og kan logge ind.", name=user.name))
    if not user.active:
        raise Conflict(_("%(name)s er inaktiv. Gør brugeren aktiv, før du sender en invitation.", name=user.name))


def send_invitation(user: User, *, actor: User | None, now: datetime) -> None:
    """Mail `user` (active, without a password) a link to set their password. A new invitation makes the
    links of earlier ones stop working. :raises Conflict: the user has a password or is inactive."""
    _check_invitable(user)
    user.invitation_sent_at = tokens.invitation_stamp(now)
    db.session.flush()
    days = int(current_app.config["INVITATION_DAYS"])
    municipality = current_app.config["MUNICIPALITY_NAME"]
    mail_account_holder(
        user,
        kind=KIND_INVITATION,
        now=now,
        path=f"/invitation/{tokens.make_invitation_token(user)}",
        link_text=lambda: _("Vælg din adgangskode"),
        subject=lambda: _("Din konto i Kursusportalen"),
        paragraphs=lambda: [
            _(
                "%(municipality)s bruger Kursusportalen til kurser for medarbejderne. Du har fået en konto, "
                "så du kan se og tilmelde dig kurser.",
                municipality=municipality,
            ),
            _(
                "Brug linket nedenfor til at vælge din adgangskode. Derefter logger du ind med din "
                "e-mailadresse %(email)s.",
                email=user.email,
            ),
            ngettext(
                "Linket virker i %(num)s dag. Er det udløbet, kan du bede om et nyt under »Glemt "
                "adgangskode?« på login-siden eller spørge din kursuskoordinator.",
                "Linket virker i %(num)s dage. Er det udløbet, kan du bede om et nyt under »Glemt "
                "adgangskode?« på login-siden eller spørge din kursuskoordinator.",
                days,
            ),
        ],
    )
    audit_account("auth.invitation_sent", user, actor=actor, now=now)


@dataclass(frozen=True)
class BulkInvitationResult:
    sent: int
    skipped_recent: int


def send_invitations_to_all(*, actor: User | None, now: datetime) -> BulkInvitationResult:
    """Invite every active user without a password, except those whose invitation is still valid
    (sent within INVITATION_DAYS): the bulk action re-sends expired ones, never spams valid ones."""
    valid_since = now - timedelta(days=int(current_app.config["INVITATION_DAYS"]))
    candidates = list(
        db.session.scalars(select(User).where(User.password_hash.is_(None), User.active.is_(True)).order_by(User.id))
    )
    due = [u for u in candidates if u.invitation_sent_at is None or clock.as_utc(u.invitation_sent_at) < valid_since]
    for user in due:
        send_invitation(user, actor=actor, now=now)
    return BulkInvitationResult(sent=len(due), skipped_recent=len(candidates) - len(due))


def count_without_password() -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(User).where(User.password_hash.is_(None), User.active.is_(True))
        )
        or 0
    )


def accept_invitation(token: str, new_password: str, *, now: datetime) -> User:
    """Set the first password through an invitation link; the caller logs the user in (start_session).

    :raises tokens.TokenRefused: invalid, expired, replaced or already used. :raises ValidationFailed: policy.
    """
    user = tokens.user_for_invitation_token(token)
    _set_password(user, new_password)
    db.session.flush()
    audit_account("auth.invitation_accepted", user, actor=user, now=now)
    logger.info("user %s set their first password from an invitation", user.id)
    return user
