"""The second factor for password logins: TOTP (RFC 6238) with single-use recovery codes.

Who needs it: everybody who has enrolled, and, with MFA_REQUIRED, every coordinator and provider user
(they see other people's personal data; ASVS 6.3.3). Single sign-on logins never come here: the identity
provider enforces its own MFA.

A password login that needs a second factor does not log in. It leaves a *pending login*: a random token
in the browser's session whose hash, expiry and failure count live on the user's `MfaCredential` row, so
that replaying an older session cookie can't reset the count and a new password login replaces the old
pending one. After MFA_MAX_ATTEMPTS wrong codes the pending login is dropped.

Limits (issue 20): a new password login starts a new pending login, so the pending count alone would give
whoever knows the password five more guesses per login, without end. Wrong codes are therefore also counted
per account (`failed_codes`: a column, so across logins, processes and hosts), and only a right code, a
recovery code or a coordinator's unlock resets that count:
- after MFA_SLOWDOWN_AFTER (5) wrong codes, each further code is checked only MFA_SLOWDOWN_SECONDS (30) after
  the last wrong one, doubling with each failure, at most MFA_SLOWDOWN_MAX_SECONDS (300); earlier attempts
  are refused unchecked;
- at MFA_LOCK_AFTER (10) the second step is locked: TOTP codes are refused unchecked, even the right one,
  until a recovery code (still paced by the slowdown) or a coordinator (`unlock`) unlocks it; the user is
  mailed.
Every code checked first claims its attempt with a conditional UPDATE (not before `next_code_at`; for a TOTP
code, not while locked) that counts it as wrong; a right code then resets the count. Simultaneous guesses
therefore queue on the row, each seeing what the one before left: none gets past the limits.
The account page's "prove you still hold the app" check counts the same way; enrolment does not (the
secret is on the screen, there is nothing to guess).

Services add and flush, never commit; they take `now` explicitly.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.account_events import audit_account, mail_account_holder
from app.accounts.mfa.models import MfaCredential, MfaRecoveryCode
from app.accounts.models import User
from app.core.access import AccessLevel
from app.core.clock import as_utc
from app.core.db import rows_affected
from app.extensions import db

#: Access levels that must use a second factor when MFA_REQUIRED is on.
LEVELS_REQUIRING_MFA = frozenset({AccessLevel.COORDINATOR, AccessLevel.PROVIDER})
RECOVERY_CODE_COUNT = 10
#: No 0/o, 1/l/i: the codes are read off paper.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 12  # ~59 bits each, stored with a salted password hash
#: Codes from one step before and after the current one are accepted (clock drift, slow typing).
TOTP_VALID_WINDOW = 1
#: The outbox kind of the mail telling a user their second step was locked.
KIND_MFA_LOCKED = "mfa_locked"


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
    claimed = rows_affected(
        db.session.execute(
            update(MfaCredential)
            .where(
                MfaCredential.user_id == credential.user_id,
                or_(MfaCredential.last_used_step.is_(None), MfaCredential.last_used_step < step),
            )
            .values(last_used_step=step)
            .execution_options(synchronize_session=False)
        )
    )
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
    #: True when this failure used up the pending login's attempts: the pending login is gone.
    locked_out: bool = False
    #: The code was not even checked: too early after the last wrong one (`retry_at`), or a TOTP code while the
    #: second step is locked.
    refused: bool = False
    #: The second step is locked (after this attempt): only a recovery code or a coordinator unlocks it.
    locked: bool = False
    #: When the next code will be checked (None: right away).
    retry_at: datetime | None = None


# --- limits: wrong codes per account -----------------------------------------------------------------------


def slowdown_seconds(failures: int) -> int:
    """How long after the `failures`-th wrong code in a row the next code is checked (0: at once)."""
    config = current_app.config
    over = failures - int(config["MFA_SLOWDOWN_AFTER"])
    if over < 0:
        return 0
    return min(int(config["MFA_SLOWDOWN_SECONDS"]) * 2 ** min(over, 32), int(config["MFA_SLOWDOWN_MAX_SECONDS"]))


def is_locked(user: User) -> bool:
    credential = credential_for(user)
    return credential is not None and credential.locked_at is not None


def _retry_at(credential: MfaCredential, now: datetime) -> datetime | None:
    if credential.next_code_at is None or as_utc(credential.next_code_at) <= now:
        return None
    return as_utc(credential.next_code_at)


def _claim_attempt(credential: MfaCredential, *, now: datetime, totp: bool) -> bool:
    """Take the right to check one code, counting it as wrong until it proves right (see the module doc).

    False: not now (before `next_code_at`), or a TOTP code while locked; nothing is counted then.
    """
    db.session.flush()
    conditions = [
        MfaCredential.user_id == credential.user_id,
        or_(MfaCredential.next_code_at.is_(None), MfaCredential.next_code_at <= now),
    ]
    if totp:
        conditions.append(MfaCredential.locked_at.is_(None))
    claimed = rows_affected(
        db.session.execute(
            update(MfaCredential)
            .where(*conditions)
            .values(failed_codes=MfaCredential.failed_codes + 1)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.refresh(credential)
    return claimed == 1


def _refused(credential: MfaCredential, *, now: datetime, stage: str, totp: bool) -> CodeCheck:
    """An attempt refused unchecked; audited once per wrong code and per MFA_SLOWDOWN_MAX_SECONDS."""
    locked = credential.locked_at is not None
    retry_at = _retry_at(credential, now)
    quiet = timedelta(seconds=int(current_app.config["MFA_SLOWDOWN_MAX_SECONDS"]))
    noted = rows_affected(
        db.session.execute(
            update(MfaCredential)
            .where(
                MfaCredential.user_id == credential.user_id,
                or_(MfaCredential.refusal_noted_at.is_(None), MfaCredential.refusal_noted_at <= now - quiet),
            )
            .values(refusal_noted_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.refresh(credential)
    if noted == 1:
        audit_account(
            "auth.mfa_throttled",
            credential.user_id,
            actor=None,
            now=now,
            details={
                "stage": stage,
                "reason": "locked" if locked and totp else "wait",
                "failures": credential.failed_codes,
                "retry_after": _seconds_until(retry_at, now),
            },
        )
    db.session.flush()
    return CodeCheck(ok=False, refused=True, locked=locked, retry_at=retry_at)


def _seconds_until(moment: datetime | None, now: datetime) -> int:
    """Whole seconds from `now` to `moment`, rounded up (0 for None or the past)."""
    if moment is None or moment <= now:
        return 0
    return math.ceil((moment - now).total_seconds())


def _reset_failures(credential: MfaCredential) -> int:
    """Forget the wrong codes (a right code, or an unlock); returns how many there were."""
    failures = credential.failed_codes
    credential.failed_codes = 0
    credential.next_code_at = None
    credential.locked_at = None
    credential.refusal_noted_at = None
    return failures


def _right_code(credential: MfaCredential, *, now: datetime, kind: str) -> None:
    """A right code: the count starts again; a recovery code also unlocks a locked second step."""
    was_locked = credential.locked_at is not None
    failures = _reset_failures(credential) - 1  # the claim counted this right code too
    if was_locked:
        audit_account(
            "auth.mfa_unlocked",
            credential.user_id,
            actor=credential.user,
            now=now,
            details={"by": kind, "failures": failures},
        )


def _wrong_code(credential: MfaCredential, *, now: datetime, stage: str, pending: bool) -> CodeCheck:
    """The claimed attempt was wrong: it stays counted; slow down or lock; audit; drop a worn-out pending login."""
    failures = credential.failed_codes
    delay = slowdown_seconds(failures)
    credential.next_code_at = now + timedelta(seconds=delay) if delay else None
    credential.refusal_noted_at = None
    just_locked = credential.locked_at is None and failures >= int(current_app.config["MFA_LOCK_AFTER"])
    if just_locked:
        credential.locked_at = now
    locked_out = _count_pending_failure(credential) if pending else False
    locked = credential.locked_at is not None
    details: dict[str, object] = {"stage": stage, "failures": failures, "delay_seconds": delay, "locked": locked}
    if pending:
        details.update(attempt=credential.pending_failures, locked_out=locked_out)
    audit_account(
        "auth.mfa_failed", credential.user_id, actor=None if pending else credential.user, now=now, details=details
    )
    if just_locked:
        audit_account("auth.mfa_locked", credential.user_id, actor=None, now=now, details={"failures": failures})
        _notify_locked(credential.user, now=now)
    if locked_out:
        _end_pending(credential)
    db.session.flush()
    return CodeCheck(ok=False, locked_out=locked_out, locked=locked, retry_at=_retry_at(credential, now))


def _count_pending_failure(credential: MfaCredential) -> bool:
    """One more wrong code for the pending login; True when that used up its MFA_MAX_ATTEMPTS."""
    db.session.flush()
    db.session.execute(  # counted in SQL, so simultaneous wrong codes all count
        update(MfaCredential)
        .where(MfaCredential.user_id == credential.user_id)
        .values(pending_failures=MfaCredential.pending_failures + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(credential, ["pending_failures"])
    return credential.pending_failures >= current_app.config["MFA_MAX_ATTEMPTS"]


def _notify_locked(user: User, *, now: datetime) -> None:
    """Tell the user, in their language, that their second step is locked and what to do about it."""
    mail_account_holder(
        user,
        kind=KIND_MFA_LOCKED,
        now=now,
        path="/password/forgot",
        link_text=lambda: _("Vælg en ny adgangskode"),
        subject=lambda: _("Din totrinsbekræftelse er låst"),
        paragraphs=lambda: [
            _(
                "Der er tastet forkerte koder til totrinsbekræftelsen på din konto i Kursusportalen for mange "
                "gange efter den rigtige adgangskode. Derfor tager Kursusportalen ikke længere imod koder fra "
                "din godkendelsesapp."
            ),
            _(
                "Log ind med en af dine gendannelseskoder i stedet, eller bed en kursuskoordinator om at låse "
                "totrinsbekræftelsen op."
            ),
            _(
                "Var det ikke dig, kender en anden din adgangskode: vælg en ny med det samme via linket nedenfor, "
                "og kontakt din kursuskoordinator."
            ),
        ],
    )


def unlock(user: User, *, actor: User, now: datetime) -> bool:
    """A coordinator unlocks `user`'s second step: the authenticator app works again (audited).

    False if it was not locked.
    """
    credential = credential_for(user)
    if credential is None or credential.locked_at is None:
        return False
    failures = _reset_failures(credential)
    audit_account("auth.mfa_unlocked", user, actor=actor, now=now, details={"by": "coordinator", "failures": failures})
    db.session.flush()
    return True


# --- checking a code ---------------------------------------------------------------------------------------


def _is_totp_shaped(value: str) -> bool:
    return len(value) == 6 and value.isdigit()


def check_login_code(credential: MfaCredential, code: str, *, now: datetime) -> CodeCheck:
    """Check the code of a pending login: a TOTP code, or one of the recovery codes (used up).

    Within the limits (module doc): too early, or a TOTP code while locked, is refused without being checked.
    """
    value = _normalise(code)
    totp = _is_totp_shaped(value)
    if not _claim_attempt(credential, now=now, totp=totp):
        return _refused(credential, now=now, stage="login", totp=totp)
    step = _matching_step(credential, value, now) if totp else None
    if step is not None and credential.confirmed and _claim_step(credential, step):
        _right_code(credential, now=now, kind="totp")
        _end_pending(credential)
        db.session.flush()
        return CodeCheck(ok=True, kind="totp")
    if credential.confirmed and not totp and _use_recovery_code(credential, value, now):
        _right_code(credential, now=now, kind="recovery")
        _end_pending(credential)
        audit_account(
            "auth.recovery_code_used",
            credential.user_id,
            actor=None,
            now=now,
            details={"left": unused_recovery_codes(credential.user)},
        )
        db.session.flush()
        return CodeCheck(ok=True, kind="recovery")
    return _wrong_code(credential, now=now, stage="login", pending=True)


def _use_recovery_code(credential: MfaCredential, value: str, now: datetime) -> bool:
    """Use up the unused recovery code `value`, if it is one. The caller counts and limits the attempt like
    any code; a value that can't be a recovery code is refused before any (slow) hash is computed."""
    if len(value) != RECOVERY_CODE_LENGTH or not set(value) <= set(RECOVERY_ALPHABET):
        return False
    codes = db.session.scalars(
        select(MfaRecoveryCode).where(MfaRecoveryCode.user_id == credential.user_id, MfaRecoveryCode.used_at.is_(None))
    ).all()
    for stored in codes:
        if check_password_hash(stored.code_hash, value):
            used = rows_affected(
                db.session.execute(  # single use, even for two requests at once
                    update(MfaRecoveryCode)
                    .where(MfaRecoveryCode.id == stored.id, MfaRecoveryCode.used_at.is_(None))
                    .values(used_at=now)
                    .execution_options(synchronize_session=False)
                )
            )
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

    None for a wrong code; during a pending login that counts against the pending login's MFA_MAX_ATTEMPTS
    (audited), not against the account's limits: the secret is on the screen, there is nothing to guess.
    """
    if credential.confirmed:
        return None
    step = _matching_step(credential, _normalise(code), now)
    if step is None or not _claim_step(credential, step):
        if pending:
            locked_out = _count_pending_failure(credential)
            audit_account(
                "auth.mfa_failed",
                credential.user_id,
                actor=None,
                now=now,
                details={"stage": "enrolment", "attempt": credential.pending_failures, "locked_out": locked_out},
            )
            if locked_out:
                _end_pending(credential)
            db.session.flush()
        return None
    credential.confirmed_at = now
    _end_pending(credential)
    codes = _replace_recovery_codes(credential.user, now=now)
    audit_account("auth.mfa_enabled", credential.user_id, actor=credential.user, now=now)
    db.session.flush()
    return codes


def verify_current_code(credential: MfaCredential, code: str, *, now: datetime) -> CodeCheck:
    """A logged-in user proves they still hold the app (before new recovery codes or switching MFA off).

    Counted and limited like a login's code (a stolen session must not guess its way to switching MFA off).
    """
    value = _normalise(code)
    if not _claim_attempt(credential, now=now, totp=True):
        return _refused(credential, now=now, stage="account", totp=True)
    step = _matching_step(credential, value, now) if credential.confirmed else None
    if step is not None and _claim_step(credential, step):
        _right_code(credential, now=now, kind="totp")
        db.session.flush()
        return CodeCheck(ok=True, kind="totp")
    return _wrong_code(credential, now=now, stage="account", pending=False)


def regenerate_recovery_codes(user: User, *, now: datetime) -> list[str]:
    """Replace every recovery code (used or not) with ten new ones, returned once."""
    codes = _replace_recovery_codes(user, now=now)
    audit_account("auth.recovery_codes_regenerated", user, actor=user, now=now)
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
    audit_account(
        "auth.mfa_reset" if actor.id != user.id else "auth.mfa_disabled",
        user,
        actor=actor,
        now=now,
        details={"had_mfa": had},
    )
    db.session.flush()
    return had
