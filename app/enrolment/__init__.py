"""Enrolment: enrolments, waiting list, attendance and completion (the enrolment issue)."""
