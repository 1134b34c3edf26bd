"""Operational health: the scheduler's heartbeat and the figures `GET /healthz` reports."""
