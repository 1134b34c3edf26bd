"""Programmes: targets, deadline and budget allocations per provider per year."""
