"""How the outbox's mails leave the building: SMTP (from config SMTP_URL), or .eml files when it is unset.

A transport is used as a context manager around one batch: one connection for the whole batch.

    with transport_from_config() as transport:
        transport.send(from_addr, [to_addr], message_bytes, outbox_id=row.id, kind=row.kind)

`send()` raises on anything but full acceptance: `smtplib.SMTPException` subclasses for an SMTP reply
(`SMTPResponseException.smtp_code`, or `SMTPRecipientsRefused.recipients` with a code per recipient) and
`OSError` for the network (refused, timed out, reset). The delivery job classifies them
(app.notifications.outbox). Logs name the outbox id and kind only: no addresses, no contents.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from flask import current_app

from app.core.clock import local_tz, utcnow

logger = logging.getLogger(__name__)

#: Seconds smtplib waits for the server on connect and on every reply, unless the URL says `?timeout=`.
DEFAULT_TIMEOUT = 30.0
_DEFAULT_PORTS = {"plain": 25, "starttls": 587, "tls": 465}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class Transport(Protocol):
    """What the delivery job needs: `open()` (idempotent; reconnects after a lost connection), `send()`,
    `close()` (never raises), and the context-manager form of open/close."""

    def open(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info) -> None: ...

    def send(
        self,
        from_addr: str,
        to_addrs: Sequence[str],
        message: bytes,
        *,
        outbox_id: int | None = None,
        kind: str = "mail",
        now: datetime | None = None,
    ) -> object: ...


class _OpenOnEnter:
    """As a context manager a transport opens on enter and always closes on exit."""

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class SmtpTransport(_OpenOnEnter):
    """smtplib with a timeout: plain, STARTTLS or implicit TLS (certificates verified), optional AUTH.

    `open()` connects (and says EHLO, upgrades, logs in); `close()` says QUIT. As a context manager it
    opens on enter and always closes on exit.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: str = "plain",
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ):
        if security not in _DEFAULT_PORTS:
            raise ValueError(f"security must be one of {sorted(_DEFAULT_PORTS)}, not {security!r}")
        if username and security == "plain" and not _is_loopback(host):
            raise ValueError("SMTP_URL: a password would travel unencrypted; use smtps:// or add ?starttls=true")
        self.host = host
        self.port = port or _DEFAULT_PORTS[security]
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    @classmethod
    def from_url(cls, url: str, *, ssl_context: ssl.SSLContext | None = None) -> SmtpTransport:
        """`smtp://[user:password@]host[:port][?starttls=true][&timeout=seconds]` or `smtps://...`.

        Default ports: 25 (plain), 587 (STARTTLS), 465 (smtps). User and password are percent-decoded.
        Anything unknown raises ValueError, so a typo in the configuration fails loudly, not silently.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("SMTP_URL has no host")
        if parts.path not in ("", "/"):
            raise ValueError("SMTP_URL must not have a path")
        options = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query)))
        unknown = set(options) - {"starttls", "timeout"}
        if unknown:
            raise ValueError(f"SMTP_URL: unknown option(s) {', '.join(sorted(unknown))}")
        starttls = _parse_bool(options.get("starttls", "false"))
        if parts.scheme == "smtps":
            if starttls:
                raise ValueError("SMTP_URL: smtps:// is already encrypted; starttls applies to smtp:// only")
            security = "tls"
        else:
            security = "starttls" if starttls else "plain"
        try:
            timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
            port = parts.port  # raises ValueError for a port out of range
        except ValueError:
            raise ValueError("SMTP_URL: the port and the timeout must be numbers") from None
        if timeout <= 0:
            raise ValueError("SMTP_URL: the timeout must be positive")
        return cls(
            parts.hostname,
            port,
            security=security,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=timeout,
            ssl_context=ssl_context,
        )

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def open(self) -> None:
        """Connect, EHLO, STARTTLS and log in as configured; closes the socket again if any step fails."""
        if self._smtp is not None:
            return
        if self.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp

    def close(self) -> None:
        """QUIT politely if the connection still works; close the socket in any case."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()

    def send(
        self,
        from_addr: str,
        to_addrs: Sequence[str],
        message: bytes,
        *,
        outbox_id: int | None = None,
        kind: str = "mail",
        now: datetime | None = None,
    ) -> None:
        """Hand one message to the server; raises unless every recipient was accepted.

        After a network error the connection is closed; the next `send()` (or `open()`) reconnects.
        """
        if self._smtp is None:
            self.open()
        assert self._smtp is not None
        try:
            refused = self._smtp.sendmail(from_addr, list(to_addrs), message)
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()
            raise
        if refused:
            # sendmail() raises only when *all* recipients are refused; a partial refusal is a failure too.
            raise smtplib.SMTPRecipientsRefused(refused)
        logger.info("mail sent over SMTP: outbox id %s, kind %s", outbox_id, kind)


class FileTransport(_OpenOnEnter):
    """Writes each mail as `<MAIL_DIR>/<YYYYmmdd-HHMMSS>-<outbox id>-<kind>.eml` (local time), for
    development: open the file in any mail client. Written to a temporary name and renamed, so a reader
    never sees half a file."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        pass

    def send(
        self,
        from_addr: str,
        to_addrs: Sequence[str],
        message: bytes,
        *,
        outbox_id: int | None = None,
        kind: str = "mail",
        now: datetime | None = None,
    ) -> Path:
        self.open()
        stamp = (now or utcnow()).astimezone(local_tz()).strftime("%Y%m%d-%H%M%S")
        safe_kind = re.sub(r"[^A-Za-z0-9_-]+", "_", kind) or "mail"
        stem = f"{stamp}-{outbox_id if outbox_id is not None else 'x'}-{safe_kind}"
        path = self.directory / f"{stem}.eml"
        n = 1
        while path.exists():  # the same row written twice (a retry): keep both
            n += 1
            path = self.directory / f"{stem}-{n}.eml"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(message)
        tmp.replace(path)
        logger.info("mail written to %s: outbox id %s, kind %s", self.directory.name, outbox_id, kind)
        return path


def transport_from_config(config=None) -> SmtpTransport | FileTransport:
    """SMTP when SMTP_URL is set, otherwise .eml files in MAIL_DIR (`config` defaults to the app's)."""
    config = config if config is not None else current_app.config
    if config.get("SMTP_URL"):
        return SmtpTransport.from_url(config["SMTP_URL"])
    return FileTransport(config["MAIL_DIR"])


def _parse_bool(value: str) -> bool:
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"SMTP_URL: {value!r} is not true or false")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
