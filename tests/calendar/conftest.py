"""Fixtures for the calendar-truth tests: the real app on a database that several connections share (a
SQLite file, or PostgreSQL from TEST_DATABASE_URL), with real commits, and a real SMTP server (aiosmtpd) on
loopback whose handler can hold one mail "in flight" while the test changes something from another
connection."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import pytest

from tests.concurrency.conftest import app_on_shared_database
from tests.notifications.conftest import RecordingHandler, SmtpServer, free_port


@pytest.fixture
def committing_app(tmp_path):
    """The real app on a shared database (schema created here, dropped afterwards), inside its context."""
    with app_on_shared_database(tmp_path, pool_size=5, max_overflow=5) as app:
        yield app


@dataclass
class Gate:
    """Holds the first mail to `address` in the server's DATA phase until `release` is set."""

    address: str
    entered: threading.Event
    release: threading.Event


class GatedHandler(RecordingHandler):
    def __init__(self):
        super().__init__()
        self.gate: Gate | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        gate = self.gate
        if gate is not None and gate.address in [a.lower() for a in envelope.rcpt_tos]:
            self.gate = None
            gate.entered.set()
            await asyncio.to_thread(gate.release.wait, 60)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def gated_smtp(allow_loopback_smtp, committing_app):
    server = SmtpServer(GatedHandler(), free_port())
    server.start()
    committing_app.config["SMTP_URL"] = server.url
    try:
        yield server
    finally:
        if server.handler.gate is not None:
            server.handler.gate.release.set()
        server.stop()


@pytest.fixture
def allow_loopback_smtp(no_smtp, monkeypatch):
    """As tests/notifications' fixture of the same name: SMTP to 127.0.0.1 only."""
    from tests.notifications.conftest import _REAL_CONNECT, LOOPBACK

    def loopback_only(self, host="localhost", port=0, source_address=None):
        if host != LOOPBACK:
            raise AssertionError(f"a test tried to open an SMTP connection to {host!r}")
        return _REAL_CONNECT(self, host, port, source_address)

    monkeypatch.setattr("smtplib.SMTP.connect", loopback_only)
