"""The transactional mail outbox (docs/technical-notes.md#outbox): mails are queued as rows inside the caller's
transaction and delivered later by a job.

What is guaranteed, and what is not:

- **Nothing lost.** `enqueue()` writes the row in the same transaction as the change the mail announces:
  a rolled-back change leaves no mail, a committed one always has its mail. `deliver_due()` marks a row
  sent only after the server accepted it; a failed attempt keeps the row pending (with back-off) until
  MAIL_MAX_ATTEMPTS attempts, then marks it failed, where the coordinator sees it and can `retry()` it.
- **Never queued twice.** `dedupe_key` is unique and `enqueue()` inserts with `INSERT ... ON CONFLICT DO
  NOTHING`: a second enqueue of the same key inserts nothing and returns None, even from a concurrent
  transaction (PostgreSQL makes the second wait for the first), and never aborts the caller's transaction.
- **Delivered at least once, not exactly once.** `deliver_due()` commits after every message. If the
  process dies (or the database goes away) after the server accepted a mail but before that commit, the
  row is still pending and the mail is sent again on the next run. Nothing can close that window: the
  SMTP server and our database do not share a transaction. The duplicate is made harmless rather than
  impossible: the Message-ID is frozen in the stored bytes, so it is the same on both copies (mail
  servers and clients that de-duplicate by Message-ID show one), and an invitation carries the same UID
  and SEQUENCE, which calendar clients treat as the same revision of the same event. Apart from that
  crash window, every mail is sent once: two delivery jobs running at once skip each other's rows
  (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's database write lock serialises them).

Times: pass aware datetimes (`now`); they are stored in UTC.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import defer, selectinload

from app.accounts.models import User
from app.audit.services import record
from app.core.db import Page, paginate
from app.core.exceptions import Conflict, DomainError, NotAllowed
from app.courses.models import CourseDay, CourseRun
from app.extensions import db
from app.notifications import compose
from app.notifications.compose import FrozenMail, Recipient, in_language, message_bytes
from app.notifications.models import OutboxMessage, OutboxStatus
from app.notifications.transport import Transport, transport_from_config

__all__ = [
    "DeliveryReport",
    "deliver_all_due",
    "deliver_due",
    "enqueue",
    "list_outbox",
    "message_id_for",
    "outbox_counts",
    "queue_notice",
    "retry",
    "retry_delay",
]

logger = logging.getLogger(__name__)

#: Back-off after the n-th failed attempt: 1, 2, 4, 8, 16, 32 minutes, then every hour.
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)
#: Longest error text kept in `last_error`.
ERROR_MAX = 2000

_COLUMN_LIMITS = {"kind": 40, "dedupe_key": 200, "supersede_key": 200, "recipient_email": 254}
_SUBJECT_MAX = 300


@dataclass
class DeliveryReport:
    """What one `deliver_due()` run did: mails accepted by the server, mails to be tried again later,
    and mails given up on (status failed)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    #: Rows the batch query picked (at most the batch size): a full batch means more may be due.
    picked: int = field(default=0, compare=False)
    #: Batches run (`deliver_all_due`).
    batches: int = field(default=0, compare=False)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.picked += other.picked
        self.batches += other.batches


# --------------------------------------------------------------------------------------------------
# Queueing
# --------------------------------------------------------------------------------------------------


def message_id_for(dedupe_key: str, domain: str | None = None) -> str:
    """A Message-ID that depends only on the dedupe key: `<outbox.<hash>@CALENDAR_UID_DOMAIN>`."""
    digest = hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:32]
    return f"<outbox.{digest}@{domain or current_app.config['CALENDAR_UID_DOMAIN']}>"


def enqueue(
    msg: EmailMessage | FrozenMail,
    *,
    kind: str,
    dedupe_key: str,
    recipient_email: str,
    now: datetime,
    user_id: int | None = None,
    run_id: int | None = None,
    supersede_key: str | None = None,
) -> OutboxMessage | None:
    """Queue `msg` for delivery, inside the caller's transaction (flushes, never commits).

    The mail is stored as its full bytes now (`message_bytes(msg)`), so its texts, times and SEQUENCE are
    frozen. A message without a Message-ID gets `message_id_for(dedupe_key)` (set on `msg`). A `FrozenMail`
    (compose.invitation_mail: the bytes already made, all but the Message-ID) always gets that one.

    Returns None, and inserts nothing, when a mail with this `dedupe_key` exists already (whatever its
    status). Otherwise returns the new row, and marks older *pending* rows with the same `supersede_key`
    as superseded: they will not be sent (rows already sent or failed are left alone). On PostgreSQL that
    UPDATE waits if a delivery job is sending one of those rows right now (at most its SMTP timeout), then
    leaves it alone if it was sent.
    """
    _check_aware(now)
    for name, value in (
        ("kind", kind),
        ("dedupe_key", dedupe_key),
        ("supersede_key", supersede_key),
        ("recipient_email", recipient_email),
    ):
        if value is not None and not (0 < len(value) <= _COLUMN_LIMITS[name]):
            raise ValueError(f"{name} must be 1 to {_COLUMN_LIMITS[name]} characters")
    if isinstance(msg, FrozenMail):
        subject, message = msg.subject, msg.with_message_id(message_id_for(dedupe_key))
    else:
        if msg["Message-ID"] is None:
            msg["Message-ID"] = message_id_for(dedupe_key)
        subject, message = " ".join(str(msg["Subject"] or "").split()), message_bytes(msg)
    stamp = now.astimezone(UTC)
    values = {
        "kind": kind,
        "dedupe_key": dedupe_key,
        "supersede_key": supersede_key,
        "recipient_email": recipient_email,
        "recipient_user_id": user_id,
        "course_run_id": run_id,
        "subject": subject[:_SUBJECT_MAX],
        "message": message,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": stamp,
        "created_at": stamp,
        "updated_at": stamp,
    }
    session = db.session
    dialect = session.get_bind().dialect.name
    inserts: dict[str, Callable[..., postgresql.Insert | sqlite.Insert]] = {
        "postgresql": postgresql.insert,
        "sqlite": sqlite.insert,
    }
    insert = inserts.get(dialect)
    if insert is None:  # pragma: no cover - the project runs on these two
        raise RuntimeError(f"enqueue() supports PostgreSQL and SQLite, not {dialect}")
    # An ORM-enabled INSERT ... ON CONFLICT DO NOTHING RETURNING the entity: the new row comes back as an
    # object in the same statement (no read-back query per mail), nothing when the key existed.
    stmt = (
        insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
        .returning(OutboxMessage)
    )
    row = session.scalars(stmt, execution_options={"populate_existing": True}).one_or_none()
    if row is None:
        return None
    new_id = row.id
    if supersede_key is not None:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.supersede_key == supersede_key,
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.id < new_id,
            )
            .values(status=OutboxStatus.SUPERSEDED, updated_at=stamp)
            .execution_options(synchronize_session="fetch")
        )
    return row


# --------------------------------------------------------------------------------------------------
# Delivery (the job; commits)
# --------------------------------------------------------------------------------------------------


def queue_notice(
    user: User,
    *,
    kind: str,
    dedupe_key: str,
    now: datetime,
    subject,
    paragraphs,
    run: CourseRun | None = None,
    days: Iterable[CourseDay] = (),
    link: str | None = None,
    link_text=None,
) -> OutboxMessage | None:
    """Queue a plain mail (no calendar) to `user`, rendered in their language, in the caller's transaction.

    `subject`, `paragraphs` and `link_text` are callables returning text, called under the recipient's
    locale (so `lambda: _("...")` translates for the recipient, not for whoever made the change). `days`
    are listed with date, time and place.
    """
    recipient = Recipient.from_user(user)
    with in_language(recipient.language) as language:
        subject_text = subject()
        day_lines = [compose.day_line(d) for d in days]
        text, html = compose.render_bodies(
            "notifications/notice",
            language,
            recipient=recipient,
            subject=subject_text,
            paragraphs=paragraphs(),
            days=day_lines,
            link=link,
            link_text=link_text() if link_text else _("Se dine kurser i Kursusportalen"),
        )
    msg = compose.notice_mail(recipient, subject_text, text, html, stamp=now)  # notice_message's bytes, faster
    return enqueue(
        msg,
        kind=kind,
        dedupe_key=dedupe_key,
        recipient_email=user.email,
        now=now,
        user_id=user.id,
        run_id=run.id if run is not None else None,
    )


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 1, 2, 4, ... minutes, at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


def deliver_due(now: datetime, *, transport: Transport | None = None, batch_size: int | None = None) -> DeliveryReport:
    """Send the pending mails that are due (oldest first, at most `batch_size`, default MAIL_BATCH_SIZE)
    over one transport connection (default: `transport_from_config()`), and record the outcome.

    A job, not a service: it runs its own transactions and commits after every message (so a crash loses
    at most the outcome of the one in flight: see the module docstring), so call it with no unfinished
    work in the session. On PostgreSQL the batch is locked with `FOR UPDATE SKIP LOCKED` and each row is
    claimed again (locked, still pending, still due) before it is sent, because every commit releases the
    locks: a second delivery job running at the same time skips rows this one holds. The row's lock is held
    while its one message is handed to the server (bounded by the SMTP timeout).

    A failed attempt (an SMTP refusal or a network error) counts in `attempts` and stores the error text
    (never the mail) in `last_error`. A permanent refusal of the message (a 5xx reply) marks the row failed
    at once; a temporary one (4xx, a network error) schedules the next attempt after `retry_delay()`, and
    after MAIL_MAX_ATTEMPTS attempts the row is marked failed. `deliver_all_due()` runs batches until no
    more is due. When the server cannot be reached at all,
    every row of the batch counts one failed attempt and none is lost. If the connection drops mid-batch,
    it is opened once more; if that fails too, the rest of the batch counts a failed attempt as well.
    """
    _check_aware(now)
    config = current_app.config
    batch_size = batch_size or config["MAIL_BATCH_SIZE"]
    max_attempts = config["MAIL_MAX_ATTEMPTS"]
    from_addr = parseaddr(config["MAIL_FROM"])[1]
    report = DeliveryReport()
    session = db.session
    # Built first: a malformed SMTP_URL raises ValueError here, before any row is touched.
    transport = transport if transport is not None else transport_from_config(config)

    ids = list(
        session.scalars(
            select(OutboxMessage.id)
            .where(*_due(now))
            .order_by(OutboxMessage.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    )
    report.picked, report.batches = len(ids), 1
    if not ids:
        session.commit()
        return report

    try:
        transport.open()
    except Exception as error:
        # The server is unreachable (or refused our greeting, STARTTLS or login): the batch is still locked
        # by the query above, so every row of it counts one failed attempt, in one commit.
        _fail_rows(ids, error, now, max_attempts, report)
        return report
    try:
        for position, outbox_id in enumerate(ids):
            row = _claim(outbox_id, now)
            if row is None:  # sent, superseded or postponed by someone else since the batch was chosen
                session.commit()
                continue
            try:
                transport.send(from_addr, [row.recipient_email], row.message, outbox_id=row.id, kind=row.kind, now=now)
            except Exception as error:
                _record_failure(row, error, now, max_attempts, report)
                session.commit()
                if _is_connection_error(error):
                    try:
                        transport.open()
                    except Exception as reopen_error:
                        _fail_rows(ids[position + 1 :], reopen_error, now, max_attempts, report)
                        break
                continue
            row.status = OutboxStatus.SENT
            row.sent_at = now.astimezone(UTC)
            row.attempts += 1
            row.last_error = None
            _forget_if_recipient_anonymised(row)
            session.commit()
            report.sent += 1
    finally:
        transport.close()
    return report


def deliver_all_due(
    now: datetime, *, transport: Transport | None = None, batch_size: int | None = None, max_batches: int | None = None
) -> DeliveryReport:
    """`deliver_due()` again and again while its batch came back full and it sent something, at most
    `max_batches` times (default MAIL_MAX_BATCHES): a burst of invitations drains in one job run instead of
    one batch per scheduler tick (issue 19: 360 invitations took 105 s at 100 mails per 30-second tick).
    Each batch is bounded, commits per message and opens its own connection, so a second scheduler or a
    cancelling participant interleaves between messages exactly as with one batch. A batch that sent
    nothing (the server refuses or is down: the rows were postponed) ends the run."""
    batch_size = batch_size or current_app.config["MAIL_BATCH_SIZE"]
    max_batches = max_batches or current_app.config["MAIL_MAX_BATCHES"]
    total = DeliveryReport()
    for _batch in range(max_batches):
        report = deliver_due(now, transport=transport, batch_size=batch_size)
        total.add(report)
        if report.picked < batch_size or report.sent == 0:
            break
    return total


def _due(now: datetime):
    return OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now.astimezone(UTC)


def _claim(outbox_id: int, now: datetime) -> OutboxMessage | None:
    """Lock one row for this transaction if it is still pending and due (None otherwise, or if another
    job holds it)."""
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, *_due(now))
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _fail_rows(ids: list[int], error: BaseException, now: datetime, max_attempts: int, report) -> None:
    for outbox_id in ids:
        row = _claim(outbox_id, now)
        if row is not None:
            # Refused at the connection (greeting, STARTTLS, login): about our setup, not this message, so
            # never final for the message even with a 5xx (a wrong password is fixed and the mail goes out).
            _record_failure(row, error, now, max_attempts, report, log=False, final=False)
    db.session.commit()
    if ids:
        logger.warning(
            "no connection to the mail server (%s): a failed attempt counted for %d mail(s)",
            _error_kind(error),
            len(ids),
        )


def _record_failure(
    row: OutboxMessage,
    error: BaseException,
    now: datetime,
    max_attempts: int,
    report,
    *,
    log: bool = True,
    final: bool = True,
) -> None:
    """Count a failed attempt on `row`. `final`: a permanent refusal (5xx) of this message fails it at once."""
    row.attempts += 1
    row.last_error = _describe(error)[:ERROR_MAX]
    if row.attempts >= max_attempts or (final and _is_permanent(error)):
        row.status = OutboxStatus.FAILED
        report.failed += 1
        # Logs name the row and the kind of error only: the error text may quote the address.
        logger.error(
            "mail failed for good: outbox id %s, kind %s, %d attempts, %s",
            row.id,
            row.kind,
            row.attempts,
            _error_kind(error),
        )
        _forget_if_recipient_anonymised(row)
    else:
        row.next_attempt_at = now.astimezone(UTC) + retry_delay(row.attempts)
        report.retried += 1
        if log:
            logger.warning(
                "mail not sent, will retry: outbox id %s, kind %s, attempt %d, %s",
                row.id,
                row.kind,
                row.attempts,
                _error_kind(error),
            )


def _forget_if_recipient_anonymised(row: OutboxMessage) -> None:
    """Delete a mail to an anonymised person once it is done (sent, or failed for good): the calendar
    cancellations their anonymisation left to go out need the old address only until then (docs/privacy.md)."""
    if row.recipient_user_id is None:
        return
    if db.session.scalar(select(User.anonymised_at).where(User.id == row.recipient_user_id)) is not None:
        db.session.delete(row)


def _smtp_code(error: BaseException) -> int | None:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in error.recipients.values()]
        return min(codes) if codes else None
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code
    return None


def _is_permanent(error: BaseException) -> bool:
    """The server refused this message for good (a 5xx reply, RFC 5321 §4.2.1: "the same request ... should
    not be repeated"): trying again for hours changes nothing, so the row fails at once with the server's
    answer and the coordinator decides (*Send igen*). 4xx replies and network errors are temporary."""
    code = _smtp_code(error)
    return code is not None and 500 <= code < 600


def _is_connection_error(error: BaseException) -> bool:
    """The connection is gone (refused, reset, timed out, closed by the server), as opposed to a reply."""
    return isinstance(error, smtplib.SMTPServerDisconnected) or (
        isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)
    )


def _error_kind(error: BaseException) -> str:
    code = _smtp_code(error)
    return f"{type(error).__name__} {code}" if code else type(error).__name__


def _reply_text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def _describe(error: BaseException) -> str:
    """The server's reply (code and text) or the network error: what the coordinator sees."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{code} {_reply_text(message)}" for code, message in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_reply_text(error.smtp_error)}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _check_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


# --------------------------------------------------------------------------------------------------
# The coordinator's outbox page and the health check
# --------------------------------------------------------------------------------------------------


def retry(actor: User, message_id: int, now: datetime) -> OutboxMessage:
    """Put a failed mail back in the queue: pending, attempts from zero, next attempt `now`.

    :raises NotAllowed: the actor is not the coordinator.
    :raises DomainError: no such mail.
    :raises Conflict: the mail has not failed, or a newer mail about the same thing (same supersede key)
        has been queued since, so this one is out of date.
    """
    _check_aware(now)
    if not actor.is_coordinator:
        raise NotAllowed(_("Kun kursuskoordinatoren kan sende mails igen."))
    row = db.session.get(OutboxMessage, message_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise DomainError(_("Mailen findes ikke."))
    if row.status != OutboxStatus.FAILED:
        raise Conflict(_("Kun en mail, der ikke kunne sendes, kan sendes igen."))
    if row.supersede_key is not None:
        newer = db.session.scalar(
            select(OutboxMessage.id)
            .where(OutboxMessage.supersede_key == row.supersede_key, OutboxMessage.id > row.id)
            .limit(1)
        )
        if newer is not None:
            raise Conflict(_("Der er sendt en nyere mail om det samme til modtageren, så denne sendes ikke igen."))
    row.status = OutboxStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = now.astimezone(UTC)
    db.session.flush()
    record(
        "mail.retry",
        actor=actor,
        object_type="outbox_message",
        object_id=row.id,
        subject=row.recipient_user_id,
        details={"kind": row.kind},
        now=now,
    )
    return row


def list_outbox(
    status: OutboxStatus | str | None = None, run_id: int | None = None, page: int = 1, per_page: int = 50
) -> Page:
    """The outbox newest first, optionally one status and/or one run, paginated in the database.

    The stored mail itself is not loaded (it is large; touching `message` on these rows raises).
    :raises DomainError: (field "status") an unknown status.
    """
    stmt = (
        select(OutboxMessage)
        .options(
            defer(OutboxMessage.message, raiseload=True),
            selectinload(OutboxMessage.run),
            selectinload(OutboxMessage.recipient_user),
        )
        .order_by(OutboxMessage.id.desc())
    )
    if status:
        try:
            status = OutboxStatus(status)
        except ValueError:
            raise DomainError(_("Ukendt status."), field="status") from None
        stmt = stmt.where(OutboxMessage.status == status)
    if run_id is not None:
        stmt = stmt.where(OutboxMessage.course_run_id == run_id)
    return paginate(db.session, stmt, page, per_page)


def outbox_counts() -> dict[OutboxStatus, int]:
    """How many mails have each status (every status present, zeros included), in one query."""
    counts = dict.fromkeys(OutboxStatus, 0)
    rows = db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    for status, n in rows:
        counts[OutboxStatus(status)] = n
    return counts
