"""The second factor for password logins: TOTP (RFC 6238) with single-use recovery codes.

Who needs it: everybody who has enrolled, and, with MFA_REQUIRED, every coordinator and provider user
(they see other people's personal data; ASVS 6.3.3). Single sign-on logins never come here: the identity
provider enforces its own MFA.

A password login that needs a second factor does not log in. It leaves a *pending login*: a random token
in the browser's session whose hash, expiry and failure count live on the user's `MfaCredential` row, so
that replaying an older session cookie can't reset the count and a new password login replaces the old
pending one. After MFA_MAX_ATTEMPTS wrong codes the pending login is dropped.

Services add and flush, never commit; they take `now` explicitly.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.mfa_models import MfaCredential, MfaRecoveryCode
from app.accounts.models import User
from app.audit.services import record
from app.core.access import AccessLevel
from app.core.clock import as_utc
from app.extensions import db

#: Access levels that must use a second factor when MFA_REQUIRED is on.
LEVELS_REQUIRING_MFA = frozenset({AccessLevel.COORDINATOR, AccessLevel.PROVIDER})
RECOVERY_CODE_COUNT = 10
#: No 0/o, 1/l/i: the codes are read off paper.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 12  # ~59 bits each, stored with a salted password hash
#: Codes from one step before and after the current one are accepted (clock drift, slow typing).
TOTP_VALID_WINDOW = 1


# --- who needs it ---------------------------------------------------------------------------------------


def is_required_for(user: User) -> bool:
    return bool(current_app.config.get("MFA_REQUIRED")) and user.access_level in LEVELS_REQUIRING_MFA


def credential_for(user: User) -> MfaCredential | None:
    return db.session.get(MfaCredential, user.id)


def has_mfa(user: User) -> bool:
    credential = credential_for(user)
    return credential is not None and credential.confirmed


def needs_second_factor(user: User) -> bool:
    """After a correct password: must this login show a code (or enrol first) before it becomes a session?"""
    return is_required_for(user) or has_mfa(user)


def unused_recovery_codes(user: User) -> int:
    return len(
        db.session.scalars(
            select(MfaRecoveryCode.id).where(MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None))
        ).all()
    )


# --- TOTP -----------------------------------------------------------------------------------------------


def provisioning_uri(credential: MfaCredential) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(credential.secret).provisioning_uri(
        name=credential.user.email, issuer_name=current_app.config["MFA_ISSUER_NAME"]
    )


def qr_svg(credential: MfaCredential) -> bytes:
    """The provisioning URI as an SVG QR code, drawn here (no JavaScript, nothing fetched)."""
    buffer = io.BytesIO()
    segno.make(provisioning_uri(credential), error="m").save(
        buffer, kind="svg", scale=5, border=4, xmldecl=False, title="QR"
    )
    return buffer.getvalue()


def formatted_secret(credential: MfaCredential) -> str:
    """The base32 secret in groups of four, for typing into an app by hand."""
    return " ".join(credential.secret[i : i + 4] for i in range(0, len(credential.secret), 4))


def _normalise(code: str | None) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def _matching_step(credential: MfaCredential, code: str, now: datetime) -> int | None:
    """The time-step whose TOTP equals `code` (within the window), if it is newer than the last one used."""
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(credential.secret)
    current = totp.timecode(now)
    for step in range(current - TOTP_VALID_WINDOW, current + TOTP_VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if credential.last_used_step is not None and step <= credential.last_used_step:
                return None  # replay of a code already used (or an older one)
            return step
    return None


def _claim_step(credential: MfaCredential, step: int) -> bool:
    """Record `step` as used, unless a concurrent request used it (or a later one) first: one code, one login."""
    db.session.flush()
    claimed = db.session.execute(
        update(MfaCredential)
        .where(
            MfaCredential.user_id == credential.user_id,
            or_(MfaCredential.last_used_step.is_(None), MfaCredential.last_used_step < step),
        )
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(credential)
    return claimed == 1


# --- pending logins ---------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def begin_pending_login(user: User, *, now: datetime) -> str:
    """Start waiting for `user`'s second factor; return the token for the browser's session.

    A user without a credential gets an unconfirmed one (a fresh secret) to enrol with.
    """
    credential = credential_for(user)
    if credential is None:
        credential = MfaCredential(user=user, user_id=user.id, secret=pyotp.random_base32(), created_at=now)
        db.session.add(credential)
    token = secrets.token_urlsafe(32)
    credential.pending_token_hash = _token_hash(token)
    credential.pending_expires_at = now + timedelta(seconds=current_app.config["MFA_PENDING_SECONDS"])
    credential.pending_failures = 0
    db.session.flush()
    return token


def pending_credential(user_id: object, token: object, *, now: datetime) -> MfaCredential | None:
    """The credential whose pending login this session holds, if it is still valid."""
    if not isinstance(user_id, int) or not isinstance(token, str):
        return None
    credential = db.session.get(MfaCredential, user_id)
    if credential is None or not credential.pending_token_hash or credential.pending_expires_at is None:
        return None
    if not hmac.compare_digest(credential.pending_token_hash, _token_hash(token)):
        return None
    if as_utc(credential.pending_expires_at) <= now or not credential.user.active:
        return None
    return credential


def _end_pending(credential: MfaCredential) -> None:
    credential.pending_token_hash = None
    credential.pending_expires_at = None
    credential.pending_failures = 0


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    #: "totp" or "recovery" when ok.
    kind: str | None = None
    #: True when this failure used up the attempts: the pending login is gone.
    locked_out: bool = False


def _failed(credential: MfaCredential, *, now: datetime, stage: str) -> CodeCheck:
    db.session.flush()
    db.session.execute(  # counted in SQL, so simultaneous wrong codes all count
        update(MfaCredential)
        .where(MfaCredential.user_id == credential.user_id)
        .values(pending_failures=MfaCredential.pending_failures + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(credential)
    locked_out = credential.pending_failures >= current_app.config["MFA_MAX_ATTEMPTS"]
    record(
        "auth.mfa_failed",
        object_type="user",
        object_id=credential.user_id,
        subject=credential.user_id,
        details={"stage": stage, "attempt": credential.pending_failures, "locked_out": locked_out},
        now=now,
    )
    if locked_out:
        _end_pending(credential)
    db.session.flush()
    return CodeCheck(ok=False, locked_out=locked_out)


def check_login_code(credential: MfaCredential, code: str, *, now: datetime) -> CodeCheck:
    """Check the code of a pending login: a TOTP code, or one of the recovery codes (used up)."""
    value = _normalise(code)
    step = _matching_step(credential, value, now)
    if step is not None and credential.confirmed and _claim_step(credential, step):
        _end_pending(credential)
        db.session.flush()
        return CodeCheck(ok=True, kind="totp")
    if credential.confirmed and len(value) == RECOVERY_CODE_LENGTH and _use_recovery_code(credential, value, now):
        _end_pending(credential)
        record(
            "auth.recovery_code_used",
            object_type="user",
            object_id=credential.user_id,
            subject=credential.user_id,
            details={"left": unused_recovery_codes(credential.user)},
            now=now,
        )
        db.session.flush()
        return CodeCheck(ok=True, kind="recovery")
    return _failed(credential, now=now, stage="login")


def _use_recovery_code(credential: MfaCredential, value: str, now: datetime) -> bool:
    codes = db.session.scalars(
        select(MfaRecoveryCode).where(MfaRecoveryCode.user_id == credential.user_id, MfaRecoveryCode.used_at.is_(None))
    ).all()
    for stored in codes:
        if check_password_hash(stored.code_hash, value):
            used = db.session.execute(  # single use, even for two requests at once
                update(MfaRecoveryCode)
                .where(MfaRecoveryCode.id == stored.id, MfaRecoveryCode.used_at.is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            db.session.refresh(stored)
            return used == 1
    return False


# --- enrolment, recovery codes, reset --------------------------------------------------------------------


def start_enrolment(user: User, *, now: datetime) -> MfaCredential:
    """A logged-in user (staff, voluntarily) starts enrolling: a fresh unconfirmed secret.

    Does nothing to a confirmed credential (the caller shows the status page instead).
    """
    credential = credential_for(user)
    if credential is not None and credential.confirmed:
        return credential
    if credential is None:
        credential = MfaCredential(user=user, user_id=user.id, secret=pyotp.random_base32(), created_at=now)
        db.session.add(credential)
    else:
        credential.secret = pyotp.random_base32()
    db.session.flush()
    return credential


def confirm_enrolment(credential: MfaCredential, code: str, *, now: datetime, pending: bool) -> list[str] | None:
    """Confirm the app works with a first code: MFA is on, and the new recovery codes are returned (once).

    None for a wrong code; during a pending login that counts as a failed attempt.
    """
    if credential.confirmed:
        return None
    step = _matching_step(credential, _normalise(code), now)
    if step is None or not _claim_step(credential, step):
        if pending:
            _failed(credential, now=now, stage="enrolment")
        return None
    credential.confirmed_at = now
    _end_pending(credential)
    codes = _replace_recovery_codes(credential.user, now=now)
    record(
        "auth.mfa_enabled",
        actor=credential.user,
        object_type="user",
        object_id=credential.user_id,
        subject=credential.user_id,
        now=now,
    )
    db.session.flush()
    return codes


def verify_current_code(credential: MfaCredential, code: str, *, now: datetime) -> bool:
    """A logged-in user proves they still hold the app (before new recovery codes or switching MFA off)."""
    step = _matching_step(credential, _normalise(code), now) if credential.confirmed else None
    if step is None or not _claim_step(credential, step):
        record(
            "auth.mfa_failed",
            actor=credential.user,
            object_type="user",
            object_id=credential.user_id,
            subject=credential.user_id,
            details={"stage": "account"},
            now=now,
        )
        db.session.flush()
        return False
    return True


def regenerate_recovery_codes(user: User, *, now: datetime) -> list[str]:
    """Replace every recovery code (used or not) with ten new ones, returned once."""
    codes = _replace_recovery_codes(user, now=now)
    record("auth.recovery_codes_regenerated", actor=user, object_type="user", object_id=user.id, subject=user, now=now)
    db.session.flush()
    return codes


def _replace_recovery_codes(user: User, *, now: datetime) -> list[str]:
    db.session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    method = current_app.config["MFA_RECOVERY_HASH_METHOD"]
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    for code in codes:
        db.session.add(
            MfaRecoveryCode(user_id=user.id, code_hash=generate_password_hash(code, method=method), created_at=now)
        )
    return [format_recovery_code(code) for code in codes]


def format_recovery_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def remove_mfa(user: User, *, actor: User, now: datetime) -> bool:
    """Remove `user`'s TOTP and recovery codes (lost phone: a coordinator; or the user switching it off).

    With MFA_REQUIRED the user enrols again at the next password login. False if there was nothing.
    """
    credential = credential_for(user)
    had = credential is not None and credential.confirmed
    db.session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    if credential is not None:
        db.session.delete(credential)
    record(
        "auth.mfa_reset" if actor.id != user.id else "auth.mfa_disabled",
        actor=actor,
        object_type="user",
        object_id=user.id,
        subject=user,
        details={"had_mfa": had},
        now=now,
    )
    db.session.flush()
    return had
