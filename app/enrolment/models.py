"""Enrolments (with their waiting-list queue), their history of events, and attendance per course day."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User, enum_column
from app.core.clock import utcnow
from app.core.db import TimestampMixin
from app.core.i18n import _l
from app.courses.models import CourseDay, CourseRun
from app.extensions import Model


class EnrolmentStatus(enum.StrEnum):
    #: Waits for the coordinator's approval (runs that require it); holds no seat.
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    #: Moved to another run of the same programme by the coordinator; `moved_to` is the new enrolment.
    MOVED = "moved"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self][0]

    @property
    def tag_variant(self) -> str | None:
        return _STATUS_LABELS[self][1]

    @property
    def in_sentence(self) -> str:
        """The status inside "Tilmeldingen er …" ("afmeldt", "på ventelisten"), never the tag's label
        lower-cased ("er venteliste", "er afventer godkendelse")."""
        return str(_STATUS_IN_SENTENCE[self])

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = (EnrolmentStatus.REQUESTED, EnrolmentStatus.CONFIRMED, EnrolmentStatus.WAITLISTED)

_STATUS_IN_SENTENCE = {
    EnrolmentStatus.REQUESTED: _l("sendt til godkendelse"),
    EnrolmentStatus.CONFIRMED: _l("bekræftet"),
    EnrolmentStatus.WAITLISTED: _l("på ventelisten"),
    EnrolmentStatus.CANCELLED: _l("afmeldt"),
    EnrolmentStatus.REJECTED: _l("afvist"),
    EnrolmentStatus.MOVED: _l("flyttet"),
}
_STATUS_LABELS = {
    EnrolmentStatus.REQUESTED: (_l("Afventer godkendelse"), "warning"),
    EnrolmentStatus.CONFIRMED: (_l("Tilmeldt"), "success"),
    EnrolmentStatus.WAITLISTED: (_l("Venteliste"), "warning"),
    EnrolmentStatus.CANCELLED: (_l("Afmeldt"), None),
    EnrolmentStatus.REJECTED: (_l("Afvist"), "error"),
    EnrolmentStatus.MOVED: (_l("Flyttet"), None),
}

_ACTIVE_SQL = "status IN ('requested', 'confirmed', 'waitlisted')"


class Enrolment(TimestampMixin, Model):
    """One person's place on one run: confirmed, on the waiting list, or history.

    A person has at most one *active* enrolment per run (partial unique index); a cancelled one stays
    as history and a new enrolment is a new row. The waiting list is ordered by `queue_number`, drawn
    from the run's counter while the run row is locked, so positions are FIFO and gapless (the position
    is the rank among the run's waitlisted enrolments, computed, never stored).
    """

    __tablename__ = "enrolments"
    __table_args__ = (
        Index(
            "uq_enrolments_one_active_per_user",
            "course_run_id",
            "user_id",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        UniqueConstraint("course_run_id", "queue_number", name="uq_enrolments_run_queue_number"),
        CheckConstraint("status != 'waitlisted' OR queue_number IS NOT NULL", name="waitlisted_has_queue_number"),
        Index("ix_enrolments_run_status", "course_run_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_run_id: Mapped[int] = mapped_column(ForeignKey("course_runs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[EnrolmentStatus] = mapped_column(enum_column(EnrolmentStatus, "enrolment_status"), index=True)
    #: Special (network-meeting) runs: the participant's own practice task; never a citizen's data.
    practice_case: Mapped[str | None] = mapped_column(Text)
    #: Dietary or accessibility needs; travels to the provider's participant list.
    note: Mapped[str | None] = mapped_column(Text)
    #: Place in the run's waiting-list queue (set when waitlisted; kept as history afterwards).
    queue_number: Mapped[int | None] = mapped_column(Integer)
    #: When the enrolment got its present status.
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The enrolment this one replaced when the coordinator moved the participant here.
    moved_from_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id"), index=True)
    #: A requested enrolment waiting for the person's leader (app.enrolment.approval); False once the
    #: leader decided, and for requests that wait for the coordinator only. Meaningful only while requested.
    awaits_leader: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: Set when the run's personal data was removed (app.privacy): a random key standing for the person in
    #: the programme's statistics, so someone who completed two runs still counts once. None: the person
    #: is `user_id`.
    person_key: Mapped[str | None] = mapped_column(String(40))

    run: Mapped[CourseRun] = relationship()
    user: Mapped[User] = relationship()
    moved_from: Mapped[Enrolment | None] = relationship(
        remote_side="Enrolment.id", back_populates="moved_to", foreign_keys=[moved_from_id]
    )
    moved_to: Mapped[Enrolment | None] = relationship(back_populates="moved_from", uselist=False)
    attendances: Mapped[list[Attendance]] = relationship(back_populates="enrolment", cascade="all, delete-orphan")
    events: Mapped[list[EnrolmentEvent]] = relationship(
        back_populates="enrolment", order_by="EnrolmentEvent.id", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def __repr__(self) -> str:
        return f"<Enrolment {self.id} run {self.course_run_id} user {self.user_id} {self.status}>"


class EventKind(enum.StrEnum):
    """What happened to an enrolment. These are also the moments mails and calendar invitations go out."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PROMOTED = "promoted"
    CANCELLED = "cancelled"
    MOVED_OUT = "moved_out"
    MOVED_IN = "moved_in"
    #: The leader approved; the request now waits for the coordinator (the run requires both).
    LEADER_APPROVED = "leader_approved"
    #: The leader rejected the request (status rejected).
    LEADER_REJECTED = "leader_rejected"
    #: Nobody decided before the enrolment deadline: the request lapsed (status rejected).
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return _EVENT_LABELS[self]


_EVENT_LABELS = {
    EventKind.REQUESTED: _l("Tilmelding sendt til godkendelse"),
    EventKind.CONFIRMED: _l("Tilmeldt"),
    EventKind.WAITLISTED: _l("Sat på venteliste"),
    EventKind.APPROVED: _l("Godkendt"),
    EventKind.REJECTED: _l("Afvist"),
    EventKind.PROMOTED: _l("Rykket op fra ventelisten"),
    EventKind.CANCELLED: _l("Afmeldt"),
    EventKind.MOVED_OUT: _l("Flyttet til et andet kursusforløb"),
    EventKind.MOVED_IN: _l("Flyttet hertil fra et andet kursusforløb"),
    EventKind.LEADER_APPROVED: _l("Godkendt af lederen"),
    EventKind.LEADER_REJECTED: _l("Afvist af lederen"),
    EventKind.EXPIRED: _l("Udløbet: ikke godkendt inden tilmeldingsfristen"),
}


class EnrolmentEvent(Model):
    """The history of an enrolment: what happened, when, and who did it (None: the system)."""

    __tablename__ = "enrolment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    course_run_id: Mapped[int] = mapped_column(ForeignKey("course_runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[EventKind] = mapped_column(enum_column(EventKind, "enrolment_event_kind"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Short, non-personal detail (e.g. "waiting list #3", the other run's id on a move).
    detail: Mapped[str | None] = mapped_column(String(300))

    enrolment: Mapped[Enrolment] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<EnrolmentEvent {self.id} enrolment {self.enrolment_id} {self.kind}>"


class Attendance(Model):
    """Whether a participant was present on one course day; recorded by a coordinator or the provider."""

    __tablename__ = "attendances"
    __table_args__ = (UniqueConstraint("enrolment_id", "course_day_id", name="uq_attendances_enrolment_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    course_day_id: Mapped[int] = mapped_column(ForeignKey("course_days.id", ondelete="CASCADE"), index=True)
    present: Mapped[bool] = mapped_column(Boolean)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    enrolment: Mapped[Enrolment] = relationship(back_populates="attendances")
    course_day: Mapped[CourseDay] = relationship()
    recorded_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<Attendance enrolment {self.enrolment_id} day {self.course_day_id} {self.present}>"
