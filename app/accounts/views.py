"""Login and logout; user, staff-role and unit administration for coordinators."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from app.accounts.forms import LoginForm
from app.accounts.models import User
from app.accounts.services import authenticate
from app.core.access import ALL_LEVELS, AccessLevel, allow, public
from app.extensions import db, login_manager

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


login_manager.login_view = "accounts.login"
login_manager.login_message = None  # the login page explains itself


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Log in with email and password."""
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append(_("Forkert e-mail eller adgangskode."))
        else:
            next_url = _safe_next(request.args.get("next"))
            session.clear()  # a fresh session on login (no fixation)
            login_user(user)
            return redirect(next_url or url_for("main.home"))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@allow(*ALL_LEVELS)
def logout():
    """Log out (POST with CSRF, so another site cannot log you out)."""
    logout_user()
    session.clear()
    flash(_("Du er logget af."), "success")
    return redirect(url_for("accounts.login"))


@bp.get("/users")
@allow(AccessLevel.COORDINATOR)
def user_list():
    """Staff and other users (filled in by the accounts slice)."""
    return render_template("accounts/user_list.html")


@bp.get("/staff-roles")
@allow(AccessLevel.COORDINATOR)
def staff_role_list():
    return render_template("accounts/staff_role_list.html")


@bp.get("/units")
@allow(AccessLevel.COORDINATOR)
def unit_list():
    return render_template("accounts/unit_list.html")
