"""The mail outbox: every mail is first a row, written in the same transaction as the change it announces."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User, enum_column
from app.core.db import TimestampMixin
from app.core.i18n import _l
from app.courses.models import CourseRun
from app.extensions import Model


class OutboxStatus(enum.StrEnum):
    #: Waits for delivery (first time, or again after a failed attempt: see `next_attempt_at`).
    PENDING = "pending"
    SENT = "sent"
    #: Gave up after MAIL_MAX_ATTEMPTS attempts or a permanent (5xx) refusal; the coordinator may retry it.
    FAILED = "failed"
    #: A newer mail with the same `supersede_key` was queued before this one went out; never sent.
    SUPERSEDED = "superseded"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self][0]

    @property
    def tag_variant(self) -> str | None:
        return _STATUS_LABELS[self][1]


_STATUS_LABELS = {
    OutboxStatus.PENDING: (_l("Venter"), "warning"),
    OutboxStatus.SENT: (_l("Sendt"), "success"),
    OutboxStatus.FAILED: (_l("Ikke sendt"), "error"),
    OutboxStatus.SUPERSEDED: (_l("Erstattet af nyere mail"), None),
}


class OutboxMessage(TimestampMixin, Model):
    """One mail to one recipient, rendered in full (RFC 5322 bytes) when it was queued.

    `dedupe_key` is unique, so the same mail is never queued twice (e.g.
    `invite:<course day id>:<enrolment id>:<sequence>`). `supersede_key` (e.g. `<event uid>|<attendee email>`)
    lets a newer pending mail about the same thing replace an older pending one. The delivery job
    (app.notifications.outbox.deliver_due) sends rows that are pending and due, oldest first.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What the mail is: "invitation", "update", "cancellation", "notice", ...
    kind: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    supersede_key: Mapped[str | None] = mapped_column(String(200), index=True)
    recipient_email: Mapped[str] = mapped_column(String(254), index=True)
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    course_run_id: Mapped[int | None] = mapped_column(ForeignKey("course_runs.id", ondelete="SET NULL"), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    #: The whole mail as it goes over SMTP (headers included, Message-ID fixed), frozen at queue time.
    message: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    #: Delivery attempts made so far (the successful one included).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: A pending mail is not tried before this moment (back-off after a failed attempt).
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The last attempt's error (SMTP reply or connection error); never the mail's content.
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    recipient_user: Mapped[User | None] = relationship()
    run: Mapped[CourseRun | None] = relationship()

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status}>"


class CalendarInvitation(Model):
    """What one participant's calendar holds of one course day: the truth the invitation sync compares with.

    One row per (enrolment, course day), written with the outbox row that announces it. `active` says
    whether the last mail was a REQUEST (the event is in their calendar) or a CANCEL. `sequence` is the last
    SEQUENCE sent to this attendee; `day_revision` the day's own `CourseDay.sequence` that mail reflected,
    so a day whose sequence rose since gets an update. Per-attendee cancellations raise only the attendee's
    `sequence`, never the day's, so the other participants get no mail.
    """

    __tablename__ = "calendar_invitations"
    __table_args__ = (UniqueConstraint("enrolment_id", "course_day_id", name="uq_calendar_invitations_enrolment_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    course_day_id: Mapped[int] = mapped_column(ForeignKey("course_days.id", ondelete="CASCADE"), index=True)
    active: Mapped[bool] = mapped_column(Boolean)
    sequence: Mapped[int] = mapped_column(Integer)
    day_revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The outbox row of the last mail about it: a first invitation still pending when the participant
    #: drops out is superseded instead of being followed by a cancellation of something never received.
    last_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL"), index=True
    )

    last_message: Mapped[OutboxMessage | None] = relationship()

    def __repr__(self) -> str:
        state = "active" if self.active else "cancelled"
        return f"<CalendarInvitation {self.enrolment_id}/{self.course_day_id} {state} seq {self.sequence}>"
