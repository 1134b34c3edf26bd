"""The second factor's pages: the code after a password login, enrolment, the user's own MFA page, and the
coordinator's reset for a lost phone. The rules are in app.accounts.mfa.services."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, abort, flash, make_response, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.mfa import services as mfa
from app.accounts.mfa.forms import ButtonForm, MfaCodeForm, MfaSetupForm
from app.accounts.mfa.models import MfaCredential
from app.accounts.models import User
from app.accounts.signin import credentials
from app.accounts.signin.sessions import start_session
from app.core import clock, transaction
from app.core.access import ALL_LEVELS, AccessLevel, allow, public
from app.core.templating import dk_datetime
from app.extensions import db

bp = Blueprint("mfa", __name__)

METHOD_PASSWORD_TOTP = "password+totp"  # noqa: S105 (method names, not secrets)
METHOD_PASSWORD_RECOVERY = "password+recovery"  # noqa: S105

_PENDING = "mfa_pending"


def begin(user: User, next_url: str | None) -> Response:
    """Called by the password login once the password is right and a second factor is needed."""
    session.clear()  # nothing of an earlier session survives, as in start_session
    token = mfa.begin_pending_login(user, now=clock.utcnow())
    confirmed = mfa.has_mfa(user)
    session[_PENDING] = {"uid": user.id, "token": token, "next": next_url}
    return redirect(url_for("mfa.login_code" if confirmed else "mfa.login_setup"))


def _pending() -> MfaCredential | None:
    data = session.get(_PENDING)
    if not isinstance(data, dict):
        return None
    return mfa.pending_credential(data.get("uid"), data.get("token"), now=clock.utcnow())


def _back_to_login(message: str) -> Response:
    session.pop(_PENDING, None)
    flash(message, "error")
    return redirect(url_for("accounts.login"))


def _expired() -> Response:
    return _back_to_login(_("Dit login er udløbet eller afbrudt. Log ind igen."))


def _next_url() -> str:
    data = session.get(_PENDING) or {}
    return data.get("next") or url_for("main.home")


@bp.route("/login/mfa", methods=["GET", "POST"])
@public
def login_code():
    """Second step of a password login: the code from the authenticator app, or a recovery code."""
    credential = _pending()
    if credential is None:
        return _expired()
    if not credential.confirmed:
        return redirect(url_for("mfa.login_setup"))
    form = MfaCodeForm()
    if form.validate_on_submit():
        now = clock.utcnow()
        result = mfa.check_login_code(credential, form.code.data, now=now)
        if result.refused:  # not even checked: locked (403, until someone acts) or too early (429)
            form.code.errors.append(_limit_message(result) or _("Prøv igen om lidt."))
            status = 403 if result.locked and result.retry_at is None else 429
            return _code_page(credential, form, status=status, retry_at=result.retry_at)
        if result.ok:
            target = _next_url()
            user = credential.user
            method = METHOD_PASSWORD_TOTP if result.kind == "totp" else METHOD_PASSWORD_RECOVERY
            start_session(user, method=method)
            credentials.record_login(user, method=method, now=now)
            if result.kind == "recovery":
                left = mfa.unused_recovery_codes(user)
                flash(
                    ngettext(
                        "Du har brugt en gendannelseskode. Du har %(num)s gendannelseskode tilbage.",
                        "Du har brugt en gendannelseskode. Du har %(num)s gendannelseskoder tilbage.",
                        left,
                    ),
                    "warning",
                )
            return redirect(target)
        if result.locked_out:
            return _back_to_login(_("For mange forkerte koder. Log ind igen."))
        form.code.errors.append(
            _limit_message(result) or _("Koden er forkert eller allerede brugt. Prøv igen med en ny kode.")
        )
    return _code_page(credential, form, status=200)


def _limit_message(result: mfa.CodeCheck | None) -> str | None:
    """Why the next code won't be checked now: locked (a recovery code or a coordinator), or wait until when;
    None when no limit applies."""
    if result is None or not (result.locked or result.retry_at is not None):
        return None
    if result.retry_at is None:
        return _(
            "Totrinsbekræftelsen er låst efter for mange forkerte koder. Brug en af dine gendannelseskoder, "
            "eller bed en kursuskoordinator om at låse den op."
        )
    when = dk_datetime(result.retry_at, "HH:mm:ss")
    if result.locked:
        return _(
            "Totrinsbekræftelsen er låst efter for mange forkerte koder. Du kan bruge en gendannelseskode fra "
            "kl. %(time)s, eller bede en kursuskoordinator om at låse den op.",
            time=when,
        )
    return _("For mange forkerte koder. Vent til kl. %(time)s, og prøv så igen med en ny kode.", time=when)


def _code_page(credential: MfaCredential, form: MfaCodeForm, *, status: int, retry_at=None):
    response = make_response(
        render_template("accounts/mfa_code.html", form=form, locked=credential.locked_at is not None), status
    )
    if retry_at is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil((retry_at - clock.utcnow()).total_seconds())))
    return response


@bp.route("/login/mfa/setup", methods=["GET", "POST"])
@public
def login_setup():
    """A user who must use a second factor but has none sets up the app before the login completes."""
    credential = _pending()
    if credential is None:
        return _expired()
    if credential.confirmed:
        return redirect(url_for("mfa.login_code"))
    form = MfaSetupForm()
    if form.validate_on_submit():
        codes = mfa.confirm_enrolment(credential, form.code.data, now=clock.utcnow(), pending=True)
        locked_out = codes is None and credential.pending_token_hash is None
        if codes is not None:
            target = _next_url()
            start_session(credential.user, method=METHOD_PASSWORD_TOTP)
            credentials.record_login(credential.user, method=METHOD_PASSWORD_TOTP, now=clock.utcnow())
            return render_template("accounts/mfa_recovery_codes.html", codes=codes, continue_url=target)
        if locked_out:
            return _back_to_login(_("For mange forkerte koder. Log ind igen."))
        form.code.errors.append(_("Koden er forkert. Tjek, at telefonens ur går rigtigt, og prøv igen."))
    return _setup_page(credential, form, cancel_url=url_for("accounts.login"))


def _setup_page(credential: MfaCredential, form, *, cancel_url: str):
    return render_template(
        "accounts/mfa_setup.html",
        form=form,
        secret=mfa.formatted_secret(credential),
        uri=mfa.provisioning_uri(credential),
        cancel_url=cancel_url,
    )


@bp.get("/mfa/qr.svg")
@public
def qr():
    """The QR code of the secret being enrolled (of the pending login, or of the logged-in user)."""
    credential = mfa.credential_for(current_user) if current_user.is_authenticated else _pending()
    if credential is None or credential.confirmed:
        abort(404)
    response = Response(mfa.qr_svg(credential), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the user's own page -----------------------------------------------------------------------------------


def _me() -> User:
    return current_user._get_current_object()


@bp.get("/account/mfa")
@allow(*ALL_LEVELS)
def account():
    """Your second factor: on or off, recovery codes left, and the buttons to change that."""
    return _account_page(MfaCodeForm())


def _account_page(code_form: MfaCodeForm) -> str:
    user = _me()
    return render_template(
        "accounts/mfa_account.html",
        enabled=mfa.has_mfa(user),
        required=mfa.is_required_for(user),
        codes_left=mfa.unused_recovery_codes(user),
        button_form=ButtonForm(),
        code_form=code_form,
    )


@bp.post("/account/mfa/enrol")
@allow(*ALL_LEVELS)
def account_enrol():
    """Start setting up an authenticator app (a fresh secret)."""
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    if not mfa.has_mfa(_me()):
        mfa.start_enrolment(_me(), now=clock.utcnow())
    return redirect(url_for("mfa.account_setup"))


@bp.route("/account/mfa/setup", methods=["GET", "POST"])
@allow(*ALL_LEVELS)
def account_setup():
    """Scan the QR code and confirm with a first code."""
    credential = mfa.credential_for(_me())
    if credential is None or credential.confirmed:
        return redirect(url_for("mfa.account"))
    form = MfaSetupForm()
    if form.validate_on_submit():
        codes = mfa.confirm_enrolment(credential, form.code.data, now=clock.utcnow(), pending=False)
        if codes is not None:
            return render_template("accounts/mfa_recovery_codes.html", codes=codes, continue_url=url_for("mfa.account"))
        transaction.discard()
        form.code.errors.append(_("Koden er forkert. Tjek, at telefonens ur går rigtigt, og prøv igen."))
    return _setup_page(credential, form, cancel_url=url_for("mfa.account"))


def _account_with_code_error(form: MfaCodeForm, result: mfa.CodeCheck | None = None) -> tuple[str, int]:
    message = _limit_message(result) or _("Koden er forkert eller allerede brugt.")
    form.code.errors = [*form.code.errors, message]
    return _account_page(form), 400


def _with_current_code(credential: MfaCredential, act: Callable[[datetime], ResponseReturnValue]):
    """Do `act(now)` once the posted form holds a current code from the user's app; else the account page
    again (400) with why: the code is missing, wrong, used, or the second step is slowed down or locked."""
    form = MfaCodeForm()
    if not form.validate_on_submit():
        return _account_with_code_error(form)
    now = clock.utcnow()
    result = mfa.verify_current_code(credential, form.code.data, now=now)
    if not result.ok:
        return _account_with_code_error(form, result)
    return act(now)


@bp.post("/account/mfa/recovery-codes")
@allow(*ALL_LEVELS)
def account_recovery_codes():
    """New recovery codes (the old ones stop working), after a current code from the app."""
    credential = mfa.credential_for(_me())
    if credential is None or not credential.confirmed:
        return redirect(url_for("mfa.account"))

    def show_new_codes(now: datetime):
        codes = mfa.regenerate_recovery_codes(_me(), now=now)
        return render_template("accounts/mfa_recovery_codes.html", codes=codes, continue_url=url_for("mfa.account"))

    return _with_current_code(credential, show_new_codes)


@bp.post("/account/mfa/disable")
@allow(*ALL_LEVELS)
def account_disable():
    """Switch the second factor off (only where it is voluntary), after a current code from the app."""
    user = _me()
    credential = mfa.credential_for(user)
    if mfa.is_required_for(user):
        abort(403)
    if credential is None or not credential.confirmed:
        return redirect(url_for("mfa.account"))

    def switch_off(now: datetime):
        mfa.remove_mfa(user, actor=user, now=now)
        flash(_("Totrinsbekræftelse er slået fra."), "success")
        return redirect(url_for("mfa.account"))

    return _with_current_code(credential, switch_off)


# --- the coordinator's reset ----------------------------------------------------------------------------


@bp.post("/users/<int:user_id>/mfa/reset")
@allow(AccessLevel.COORDINATOR)
def reset(user_id: int):
    """Remove another user's authenticator app and recovery codes (a lost phone); audited."""
    user = db.get_or_404(User, user_id)
    if user.id == _me().id:
        abort(403)  # your own: from your MFA page, with a code
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    mfa.remove_mfa(user, actor=_me(), now=clock.utcnow())
    flash(
        _(
            "Totrinsbekræftelse for %(name)s er nulstillet. Brugeren sætter den op igen ved næste login.",
            name=user.name,
        ),
        "success",
    )
    return redirect(url_for("accounts.user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/mfa/unlock")
@allow(AccessLevel.COORDINATOR)
def unlock(user_id: int):
    """Unlock another user's second step locked by too many wrong codes (their app works again); audited."""
    user = db.get_or_404(User, user_id)
    if user.id == _me().id:
        abort(403)  # your own: another coordinator decides (somebody has your password)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    if mfa.unlock(user, actor=_me(), now=clock.utcnow()):
        flash(_("Totrinsbekræftelsen for %(name)s er låst op.", name=user.name), "success")
    return redirect(url_for("accounts.user_edit", user_id=user.id))


@bp.app_context_processor
def _mfa_template_helpers():
    return {"mfa_enabled_for": mfa.has_mfa, "mfa_locked_for": mfa.is_locked}
