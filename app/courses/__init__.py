"""Courses: methods, course runs and their course days; the follow-up-day proposal."""
