"""Reporting: evaluation report and exports (later issues)."""
