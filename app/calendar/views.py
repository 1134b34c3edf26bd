"""Closed days (coordinator); calendar feeds come with the scheduler issue."""
from flask import Blueprint, render_template

from app.core.access import AccessLevel, allow

bp = Blueprint("calendar", __name__)


@bp.get("/closed-days")
@allow(AccessLevel.COORDINATOR)
def closed_day_list():
    return render_template("calendar/closed_day_list.html")
