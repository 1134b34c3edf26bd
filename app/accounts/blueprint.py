"""The accounts blueprint ("accounts"): its endpoints are served by the sign-in pages (app.accounts.views) and
the coordinator's directory pages (app.accounts.directory.views); Flask-Login finds its users here."""

from __future__ import annotations

from flask import Blueprint

from app.accounts.models import User
from app.extensions import db, login_manager

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


login_manager.login_view = "accounts.login"
login_manager.login_message = None  # the login page explains itself
