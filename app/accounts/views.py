"""The sign-in pages, on the accounts blueprint: login and logout, the account page (change password, log out
everywhere), and the password reset and invitation links.

They compose app.accounts.signin with the second step (app.accounts.mfa), so they live beside the sub-packages
rather than in signin/ (which mfa builds on)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.blueprint import bp
from app.accounts.directory.forms import ACCESS_LEVEL_LABELS
from app.accounts.mfa import services as mfa
from app.accounts.mfa import views as mfa_views
from app.accounts.models import User
from app.accounts.signin import credentials, tokens
from app.accounts.signin.credentials import authenticate
from app.accounts.signin.forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, SetPasswordForm
from app.accounts.signin.passwords import policy_description
from app.accounts.signin.sessions import (
    METHOD_INVITATION,
    METHOD_PASSWORD,
    end_session,
    keep_current_session,
    start_session,
)
from app.accounts.signin.throttling import (
    clear_login_counters,
    count_failure,
    limit_logins,
    limit_password_changes,
    limit_reset_requests,
)
from app.core import clock, transaction
from app.core.access import ALL_LEVELS, allow, public
from app.core.exceptions import DomainError
from app.core.transaction import refused
from app.core.urls import local_path


def _safe_next(target: str | None) -> str | None:
    return local_path(target)


@bp.route("/login", methods=["GET", "POST"])
@public
@limit_logins
def login():
    """Log in with email and password (throttled: app.accounts.signin.throttling)."""
    form = LoginForm()
    if form.validate_on_submit():
        now = clock.utcnow()
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            count_failure()
            credentials.record_login_failure(form.email.data, now=now)
            form.password.errors.append(_("Forkert e-mail eller adgangskode."))
        else:
            next_url = _safe_next(request.args.get("next"))
            if mfa.needs_second_factor(user):  # not logged in yet: the code (or enrolment) comes first
                return mfa_views.begin(user, next_url)
            start_session(user, method=METHOD_PASSWORD)
            credentials.record_login(user, method=METHOD_PASSWORD, now=now)
            return redirect(next_url or url_for("main.home"))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@allow(*ALL_LEVELS)
def logout():
    """Log out, ending every session of the user (POST with CSRF, so another site cannot log you out)."""
    credentials.log_out(_actor(), now=clock.utcnow())
    end_session()
    flash(_("Du er logget af."), "success")
    return redirect(url_for("accounts.login"))


# --- the account page ---------------------------------------------------------------------------------


def _account_page(form: ChangePasswordForm, status: int = 200):
    form.new_password.description = policy_description()
    return render_template("accounts/account.html", form=form, access_labels=ACCESS_LEVEL_LABELS), status


@bp.get("/account")
@allow(*ALL_LEVELS)
def account():
    """The logged-in user's own account: who they are, change password, log out everywhere."""
    return _account_page(ChangePasswordForm())


@bp.post("/account/password")
@allow(*ALL_LEVELS)
@limit_password_changes
def change_password():
    """Change one's own password: every other session ends, this one goes on."""
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(form, 400)
    user = _actor()
    try:
        credentials.change_password(
            user,
            current_password=form.current_password.data,
            new_password=form.new_password.data,
            now=clock.utcnow(),
        )
    except DomainError as exc:
        if "current_password" in getattr(exc, "errors", {}):
            count_failure()
        refused(exc, form)
        return _account_page(form, 400)
    keep_current_session(user)
    flash(_("Din adgangskode er skiftet. Du er logget af alle andre steder."), "success")
    return redirect(url_for("accounts.account"))


@bp.post("/account/logout-everywhere")
@allow(*ALL_LEVELS)
def logout_everywhere():
    """End every session of the user, this one included, on every device."""
    credentials.log_out_everywhere(_actor(), now=clock.utcnow())
    end_session()
    flash(_("Du er logget af alle steder, også her."), "success")
    return redirect(url_for("accounts.login"))


# --- password reset and invitations (anonymous, by signed link) ---------------------------------------


def _no_referrer(response):
    """Pages whose address holds a token: never leak it in a Referer header."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _link_refused(problem: tokens.TokenProblem, kind: str):
    status = 400 if problem == tokens.TokenProblem.INVALID else 410
    page = render_template("accounts/link_refused.html", problem=problem.value, kind=kind)
    return _no_referrer(make_response(page, status))


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@limit_reset_requests
def password_forgot():
    """Ask for a reset link by mail; the answer is the same whether the account exists or not."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        credentials.request_password_reset(form.email.data, now=clock.utcnow())
        return render_template("accounts/password_forgot_sent.html", hours=current_app.config["PASSWORD_RESET_HOURS"])
    return render_template("accounts/password_forgot.html", form=form)


def _choose_password_by_link(
    token: str,
    kind: str,
    user_for_token: Callable[[str], User],
    use_link: Callable[[str, datetime], User],
    done: Callable[[User], ResponseReturnValue],
    template: str,
):
    """A page reached through a mailed link (`kind` "reset" or "invitation"): a bad or used link is refused
    with its own page; else the new password, twice, is set with `use_link(password, now)` and `done(user)`
    answers. The address holds the token, so the page never sends a Referer."""
    try:
        user = user_for_token(token)
    except tokens.TokenRefused as exc:
        return _link_refused(exc.problem, kind)
    form = SetPasswordForm()
    form.password.description = policy_description()
    if form.validate_on_submit():
        try:
            user = use_link(form.password.data, clock.utcnow())
        except tokens.TokenRefused as exc:
            transaction.discard()
            return _link_refused(exc.problem, kind)
        except DomainError as exc:
            refused(exc, form)
        else:
            return done(user)
    page = render_template(template, form=form, user=user)
    return _no_referrer(make_response(page, 400 if form.errors else 200))


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
def password_reset(token: str):
    """Choose a new password through the mailed link."""

    def logged_out(user: User):
        clear_login_counters(user.email)  # a locked-out owner logs in with the new password at once
        end_session()
        flash(_("Din adgangskode er skiftet. Log ind med den nye adgangskode."), "success")
        return redirect(url_for("accounts.login"))

    return _choose_password_by_link(
        token,
        "reset",
        tokens.user_for_reset_token,
        lambda password, now: credentials.reset_password(token, password, now=now),
        logged_out,
        "accounts/password_reset.html",
    )


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str):
    """Imported staff choose their first password through the invitation link, and are logged in."""

    def accept_and_log_in(password: str, now: datetime) -> User:
        user = credentials.accept_invitation(token, password, now=now)
        start_session(user, method=METHOD_INVITATION)
        credentials.record_login(user, method=METHOD_INVITATION, now=now)
        return user

    def welcome(user: User):
        flash(_("Velkommen til Kursusportalen. Din adgangskode er gemt, og du er logget ind."), "success")
        return redirect(url_for("main.home"))

    return _choose_password_by_link(
        token,
        "invitation",
        tokens.user_for_invitation_token,
        accept_and_log_in,
        welcome,
        "accounts/invitation.html",
    )


def _actor() -> User:
    return current_user._get_current_object()
