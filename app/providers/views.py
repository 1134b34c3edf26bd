"""Providers (coordinator)."""
from flask import Blueprint, render_template

from app.core.access import AccessLevel, allow

bp = Blueprint("providers", __name__, url_prefix="/providers")


@bp.get("/")
@allow(AccessLevel.COORDINATOR)
def provider_list():
    return render_template("providers/provider_list.html")
