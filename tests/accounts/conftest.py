"""Fixtures for the accounts tests: a logged-in coordinator and a private instance folder."""

from __future__ import annotations

import pytest


@pytest.fixture
def as_coordinator(client, login_as, coordinator):
    """The test client, logged in as the coordinator."""
    login_as(coordinator)
    return client


@pytest.fixture(autouse=True)
def private_instance_path(app, tmp_path):
    """Pending imports are written to the instance folder: keep them out of the real one."""
    app.instance_path = str(tmp_path / "instance")
    return tmp_path / "instance"


@pytest.fixture
def fake_clock(clock):
    """The tests' clock (tests/conftest.py) moved to 2 December 2026, 09:00 UTC; `fake_clock.advance(...)`."""
    from datetime import UTC, datetime

    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    return clock
