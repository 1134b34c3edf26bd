"""The coordinator's (and, for attendance, the provider's) enrolment pages, on the enrolment blueprint."""
from __future__ import annotations

from app.courses.models import CourseRun


def participants_panel_context(run: CourseRun) -> dict:
    """The participants section of the run page (coordinator; the run's provider)."""
    return {}
