"""Enrolment pages. Staff: enrol, cancel, my courses. The coordinator's pages (participants, on-behalf
enrolment, approval, promotion, moves, attendance, completion) live in coordinator_views.py on the same
blueprint. `run_page_context()` gives the run page (courses.run_detail) its enrolment panels."""
from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from app.courses.models import CourseRun

bp = Blueprint("enrolment", __name__)


def run_page_context(run: CourseRun) -> dict:
    """What the run page needs about enrolments, for the current user's access level."""
    if current_user.is_staff:
        return staff_panel_context(run)
    return coordinator_views.participants_panel_context(run)


def staff_panel_context(run: CourseRun) -> dict:
    """The staff member's own enrolment, why they can't enrol (if so), the enrol form, overlaps."""
    return {}


from app.enrolment import coordinator_views  # noqa: E402,F401  (registers the coordinator's routes on bp)
