"""Course runs and methods."""
from flask import Blueprint, render_template

from app.core.access import ALL_LEVELS, AccessLevel, allow

bp = Blueprint("courses", __name__)


@bp.get("/runs")
@allow(*ALL_LEVELS)
def run_list():
    return render_template("courses/run_list.html")


@bp.get("/methods")
@allow(AccessLevel.COORDINATOR)
def method_list():
    return render_template("courses/method_list.html")
