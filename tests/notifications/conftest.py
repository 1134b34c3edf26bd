"""A real SMTP server (aiosmtpd) on loopback for the delivery tests: no mocks of SMTP.

tests/conftest.py's autouse `no_smtp` makes every SMTP connection fail. A test that asks for `smtp_server`
gets a narrower guard instead: connections to 127.0.0.1 (where the test server listens) go through,
anything else still fails the test.
"""

from __future__ import annotations

import functools
import itertools
import os
import smtplib
import socket
import ssl
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from app.core.clock import as_utc  # noqa: F401 (the tests import it from here)
from app.enrolment.invitations import invitation_dedupe_key
from app.enrolment.models import Enrolment, EnrolmentStatus
from app.extensions import db
from app.notifications import compose, outbox
from app.notifications.compose import InvitationKind, Recipient
from app.notifications.ical import event_uid
from tests import factories

#: The real method, taken when pytest imports this file, before any fixture replaces it.
_REAL_CONNECT = smtplib.SMTP.connect
LOOPBACK = "127.0.0.1"


@dataclass
class Received:
    """One mail as the server got it: the envelope and the raw DATA bytes."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    #: Which SMTP connection brought it (1, 2, ... in the order connections delivered their first mail).
    connection: int
    login: str | None = None

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.content, policy=policy.default)

    @functools.cached_property
    def message_id(self) -> str:
        """Parsed once (the calendar property test asks for every mail's at every check)."""
        return self.message["Message-ID"]


class RecordingHandler:
    """Accepts and records every mail; `rcpt_reply` (e.g. "451 4.3.0 try later") refuses every recipient."""

    def __init__(self):
        self.received: list[Received] = []
        self.rcpt_reply: str | None = None
        self._connections = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd hook)
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        if not hasattr(session, "test_connection"):  # aiosmtpd keeps one Session per connection
            session.test_connection = next(self._connections)
        mail = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, session.test_connection)
        mail.login = login
        self.received.append(mail)
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd Controller on 127.0.0.1 and a free port that can be stopped and started again.

    A stopped Controller cannot start again (its event loop is closed), so `start()` builds a new one on
    the same port with the same handler: to the client it is the same server coming back.
    """

    def __init__(self, handler: RecordingHandler, port: int, **controller_kwargs):
        self.handler = handler
        self.port = port
        self.controller_kwargs = controller_kwargs
        self.controller: Controller | None = None

    def start(self) -> None:
        assert self.controller is None, "already running"
        controller = Controller(self.handler, hostname=LOOPBACK, port=self.port, **self.controller_kwargs)
        controller.start()
        self.controller = controller

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://{LOOPBACK}:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def count_by_message_id(self) -> Counter:
        return Counter(mail.message_id for mail in self.received)


#: Ports handed out by free_port(): below Linux's ephemeral range (32768-60999), so no bind to port 0 anywhere
#: can take one between free_port() and the server's bind, and a range of 1000 per pytest-xdist worker (gw0,
#: gw1, ...), so two workers never pick the same one.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_PORTS = itertools.count(20000 + 1000 * (_WORKER % 12))


def free_port() -> int:
    """A port nobody listens on right now (Controller cannot take port 0: it checks readiness by connecting)."""
    for port in _PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:  # taken (by another program, or still in TIME_WAIT from an earlier test)
                continue
            return port
    raise AssertionError("unreachable")


@pytest.fixture
def allow_loopback_smtp(no_smtp, monkeypatch):
    """Replace `no_smtp`'s refusal (set up first: this fixture depends on it) by a loopback-only guard."""

    def loopback_only(self, host="localhost", port=0, source_address=None):
        if host != LOOPBACK:
            raise AssertionError(f"a test tried to open an SMTP connection to {host!r}, not the local test server")
        return _REAL_CONNECT(self, host, port, source_address)

    monkeypatch.setattr(smtplib.SMTP, "connect", loopback_only)


def _running_server(**controller_kwargs):
    server = SmtpServer(RecordingHandler(), free_port(), **controller_kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server(allow_loopback_smtp):
    """A plain SMTP server on loopback that records what it receives (`.received`)."""
    yield from _running_server()


# --- TLS ------------------------------------------------------------------------------------------------

SMTP_USER = "kursusportalen"
SMTP_PASSWORD = "hemmeligt/kodeord@1"  # a '/' and an '@' to prove the URL's percent-decoding


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    # handled=False: aiosmtpd itself answers a failure with "535 5.7.8 Authentication credentials invalid".
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Trusts exactly this certificate, and checks it names 127.0.0.1 (hostname checking stays on)."""
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> TlsFiles:
    """A throw-away self-signed certificate for 127.0.0.1, made with the openssl command line."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(  # noqa: S603 (fixed arguments, no shell)
        [  # noqa: S607 (openssl from PATH, as any developer machine and CI image has it)
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return TlsFiles(cert=cert, key=key)


@pytest.fixture
def starttls_server(allow_loopback_smtp, tls_files):
    """Plain SMTP that offers STARTTLS, requires it, and allows AUTH only after it."""
    yield from _running_server(
        tls_context=tls_files.server_context(),
        require_starttls=True,
        authenticator=_authenticator,
        auth_require_tls=True,
        auth_required=True,
    )


@pytest.fixture
def smtps_server(allow_loopback_smtp, tls_files):
    """Implicit TLS (smtps) offering AUTH (the recorded mail says who logged in).

    aiosmtpd's `auth_require_tls` only recognises STARTTLS, so it must be off here (the whole connection is
    TLS anyway); AUTH is then offered but not required, because aiosmtpd warns about "AUTH required without
    TLS" otherwise, which is not true of an smtps connection.
    """
    yield from _running_server(
        ssl_context=tls_files.server_context(),
        authenticator=_authenticator,
        auth_require_tls=False,
    )


# --- queueing real invitations ----------------------------------------------------------------------------

#: "Now" in the outbox tests: time is passed in, never slept through.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RUN_URL = "https://kursus.example.dk/runs/1"


@pytest.fixture
def course_run(app):
    """A run whose teaching days straddle the spring DST change, follow-up day after the autumn one."""
    return factories.make_course_run(
        title="Tidlig inddragelse, hold Å",
        days=(date(2026, 3, 27), date(2026, 3, 30), date(2026, 10, 26)),
        venue="Kursuscenter Valby",
    )


def _enrolment_id(day, user) -> int:
    """The user's enrolment on the day's run, added (flushed, not committed) when there is none yet."""
    enrolment = db.session.scalar(
        select(Enrolment).where(Enrolment.course_run_id == day.course_run_id, Enrolment.user_id == user.id)
    )
    if enrolment is None:
        enrolment = Enrolment(course_run_id=day.course_run_id, user_id=user.id, status=EnrolmentStatus.CONFIRMED)
        db.session.add(enrolment)
        db.session.flush()
    return enrolment.id


@pytest.fixture
def queue_invitation(app):
    """queue_invitation(day, user, kind=..., sequence=None, now=NOW) -> the OutboxMessage (or None when its
    dedupe key is queued already), keyed as the calendar sync keys it (the dedupe key from
    app.enrolment.invitations, for the user's enrolment on the run; supersede `<event uid>|<attendee
    email>`). Does not commit."""

    def queue(day, user, kind=InvitationKind.INVITATION, *, sequence=None, now=NOW):
        kind = InvitationKind(kind)
        sequence = day.sequence if sequence is None else sequence
        msg = compose.invitation_message(
            day, Recipient.from_user(user), kind, stamp=now, run_url=RUN_URL, sequence=sequence
        )
        return outbox.enqueue(
            msg,
            kind=kind.value,
            dedupe_key=invitation_dedupe_key(day.id, _enrolment_id(day, user), sequence),
            recipient_email=user.email,
            now=now,
            user_id=user.id,
            run_id=day.course_run_id,
            supersede_key=f"{event_uid(day)}|{user.email}",
        )

    return queue
