"""Programmes and their budget allocations (coordinator)."""
from flask import Blueprint, render_template

from app.core.access import AccessLevel, allow

bp = Blueprint("programmes", __name__, url_prefix="/programmes")


@bp.get("/")
@allow(AccessLevel.COORDINATOR)
def programme_list():
    return render_template("programmes/programme_list.html")
