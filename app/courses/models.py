"""Method, CourseRun and CourseDay (teaching days and the follow-up day)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, query_expression, relationship

from app.accounts.models import StaffRole, enum_column
from app.core import data_versions
from app.core.db import TimestampMixin
from app.core.i18n import _l
from app.extensions import Model, db
from app.programmes.models import Programme
from app.providers.models import Provider


class RunKind(enum.StrEnum):
    STANDARD = "standard"
    #: Practice-based network-meeting run: participants bring a case of their own practice.
    SPECIAL = "special"

    @property
    def label(self) -> str:
        """The kind as users read it (lazy, translated at render time)."""
        return _RUN_KIND_LABELS[self]


class RunStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    COMPLETED = "completed"

    @property
    def label(self) -> str:
        return _RUN_STATUS_LABELS[self][0]

    @property
    def tag_variant(self) -> str | None:
        """The dkfds badge variant of the status tag (`status_tag(status.label, status.tag_variant)`)."""
        return _RUN_STATUS_LABELS[self][1]

    @property
    def in_sentence(self) -> str:
        """The status inside "Kursusforløbet er …": "en kladde", "aflyst". The label is a tag's word
        ("Kladde"), and lower-casing it gave "forløbet er kladde" in Danish and a capital's guess in English."""
        return str(_RUN_STATUS_IN_SENTENCE[self])


class DayKind(enum.StrEnum):
    TEACHING = "teaching"
    FOLLOW_UP = "follow_up"


_RUN_KIND_LABELS = {
    RunKind.STANDARD: _l("Standard"),
    RunKind.SPECIAL: _l("Netværksmøder (særligt forløb)"),
}
_RUN_STATUS_IN_SENTENCE = {
    RunStatus.DRAFT: _l("en kladde"),
    RunStatus.PUBLISHED: _l("offentliggjort"),
    RunStatus.CANCELLED: _l("aflyst"),
    RunStatus.COMPLETED: _l("gennemført"),
}
_RUN_STATUS_LABELS = {
    RunStatus.DRAFT: (_l("Kladde"), None),
    RunStatus.PUBLISHED: (_l("Offentliggjort"), "success"),
    RunStatus.CANCELLED: (_l("Aflyst"), "error"),
    RunStatus.COMPLETED: (_l("Gennemført"), "info"),
}


class Method(Model):
    """A method taught (Familierådslagning, Signs of Safety, ...)."""

    __tablename__ = "methods"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    name_en: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<Method {self.id} {self.name!r}>"


run_methods = Table(
    "course_run_methods",
    db.metadata,
    Column("course_run_id", ForeignKey("course_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("method_id", ForeignKey("methods.id", ondelete="RESTRICT"), primary_key=True, index=True),
)

run_eligible_roles = Table(
    "course_run_eligible_roles",
    db.metadata,
    Column("course_run_id", ForeignKey("course_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("staff_role_id", ForeignKey("staff_roles.id", ondelete="RESTRICT"), primary_key=True, index=True),
)


class CourseRun(TimestampMixin, Model):
    """One run of a course: two teaching days and a follow-up day about three months later."""

    __tablename__ = "course_runs"
    __table_args__ = (
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("price_ore >= 0", name="price_not_negative"),
        #: The backstop of the enrolment services' conditional UPDATE: never more confirmed than seats.
        CheckConstraint("seats_taken >= 0 AND seats_taken <= capacity", name="seats_within_capacity"),
        #: The run list's default order (first day, newest first, id as tie-breaker) read off an index, so
        #: a page of 20 doesn't sort every visible run (issue 9).
        Index("ix_course_runs_first_day_id", "first_day", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[RunKind] = mapped_column(enum_column(RunKind, "run_kind"), default=RunKind.STANDARD)
    status: Mapped[RunStatus] = mapped_column(enum_column(RunStatus, "run_status"), default=RunStatus.DRAFT, index=True)
    capacity: Mapped[int] = mapped_column(Integer)
    enrolment_deadline: Mapped[date] = mapped_column(Date, index=True)
    #: Default venue; each course day may name its own.
    venue: Mapped[str] = mapped_column(String(300))
    #: Price in øre (integer), counted against the provider's budget for the year.
    price_ore: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Confirmed enrolments, kept by the enrolment services under the run-row lock (never above capacity).
    seats_taken: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The last waiting-list queue number handed out (FIFO order of the waiting list).
    queue_counter: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Staff enrolments wait as requested until the coordinator approves or rejects them.
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: Staff enrolments wait for their leader's approval first (app.enrolment.approval; issue 24). With
    #: `requires_approval` too, the coordinator approves after the leader; alone, the leader's approval
    #: places the enrolment. A person without a leader waits for the coordinator instead.
    requires_leader_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: The follow-up day the rule proposed when the run was saved, and how the rule got there: the reason as
    #: parts (a code, the months, the dates; app.courses.services.proposal_parts), put into words in the
    #: reader's language when shown (app.courses.follow_up.explain).
    follow_up_proposed_on: Mapped[date | None] = mapped_column(Date)
    follow_up_reason_parts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The reason as Danish text, as stored before the parts: kept only for rows the migration to the parts
    #: could not read back (shown as written); None otherwise.
    follow_up_reason: Mapped[str | None] = mapped_column(Text)
    #: When the follow-up job fixed the follow-up day (the evening of teaching day 2) and invited those
    #: present on the teaching days; None until then. Moving teaching day 2 later clears it again.
    follow_up_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When the retention job removed its participants' personal data (app.privacy); None until then.
    anonymised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    #: The date of the earliest course day (teaching day 1), None for a run without days. Derived: the
    #: session's before_flush hook below keeps it equal to min(days.day) whenever days are added, moved or
    #: removed, so the run list sorts and pages on an index instead of a min() per run. Code that writes
    #: course_days without the ORM (app.demo_scale) sets it itself.
    first_day: Mapped[date | None] = mapped_column(Date)

    programme: Mapped[Programme] = relationship()
    provider: Mapped[Provider] = relationship()
    methods: Mapped[list[Method]] = relationship(secondary=run_methods, order_by=Method.name)
    eligible_roles: Mapped[list[StaffRole]] = relationship(secondary=run_eligible_roles, order_by=StaffRole.name)
    #: The waiting list's length where a query asked for it (app.courses.queries.list_runs: one statement for
    #: the whole list); None otherwise. Not a column.
    waitlist_length: Mapped[int | None] = query_expression()
    days: Mapped[list[CourseDay]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="CourseDay.position"
    )

    @property
    def teaching_days(self) -> list[CourseDay]:
        return [d for d in self.days if d.kind == DayKind.TEACHING]

    @property
    def follow_up_day(self) -> CourseDay | None:
        return next((d for d in self.days if d.kind == DayKind.FOLLOW_UP), None)

    @property
    def follow_up_overridden(self) -> bool:
        fu = self.follow_up_day
        return bool(fu and self.follow_up_proposed_on and fu.day != self.follow_up_proposed_on)

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.seats_taken)

    @property
    def last_day(self) -> date | None:
        return self.days[-1].day if self.days else None

    @property
    def is_special(self) -> bool:
        return self.kind == RunKind.SPECIAL

    @property
    def can_publish(self) -> bool:
        return self.status == RunStatus.DRAFT

    @property
    def can_cancel(self) -> bool:
        return self.status in (RunStatus.DRAFT, RunStatus.PUBLISHED)

    @property
    def can_edit(self) -> bool:
        """Cancelled and completed runs are history: their days and details stay as they were."""
        return self.status in (RunStatus.DRAFT, RunStatus.PUBLISHED)

    def __repr__(self) -> str:
        return f"<CourseRun {self.id} {self.title!r} {self.status}>"


def new_ical_uid() -> str:
    """Opaque and stable: never derived from dates or titles (docs/technical-notes.md#calendar)."""
    return uuid.uuid4().hex


class CourseDay(Model):
    """One day of a run. Its UID never changes; `sequence` rises on every change of date, time or place."""

    __tablename__ = "course_days"
    __table_args__ = (
        UniqueConstraint("course_run_id", "position", name="uq_course_days_run_position"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("sequence >= 0", name="sequence_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_run_id: Mapped[int] = mapped_column(ForeignKey("course_runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DayKind] = mapped_column(enum_column(DayKind, "day_kind"))
    #: 1 and 2 for the teaching days, 3 for the follow-up day.
    position: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date, index=True)
    starts_at: Mapped[time] = mapped_column(Time)
    ends_at: Mapped[time] = mapped_column(Time)
    #: None means the run's venue.
    venue: Mapped[str | None] = mapped_column(String(300))
    ical_uid: Mapped[str] = mapped_column(String(64), unique=True, default=new_ical_uid)
    #: iCalendar SEQUENCE; bumped by the services on every organizer-side change.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    run: Mapped[CourseRun] = relationship(back_populates="days")

    @property
    def effective_venue(self) -> str:
        return self.venue or self.run.venue

    @property
    def label(self) -> str:
        """ "1. undervisningsdag", "2. undervisningsdag" or "Opfølgningsdag"."""
        if self.kind == DayKind.FOLLOW_UP:
            return str(_l("Opfølgningsdag"))
        return str(_l("%(n)s. undervisningsdag", n=self.position))

    @property
    def in_sentence(self) -> str:
        """The day inside a sentence ("… på opfølgningsdagen"): the definite form, never the label lower-cased."""
        if self.kind == DayKind.FOLLOW_UP:
            return str(_l("opfølgningsdagen"))
        return str(_l("%(n)s. undervisningsdag", n=self.position))

    def __repr__(self) -> str:
        return f"<CourseDay {self.id} run {self.course_run_id} #{self.position} {self.day}>"


@event.listens_for(Session, "before_flush")
def _keep_first_day(session: Session, _flush_context, _instances) -> None:
    """Keep CourseRun.first_day equal to its earliest course day for every run whose days changed."""
    runs = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, CourseDay):
            run = obj.run if obj not in session.deleted else session.get(CourseRun, obj.course_run_id)
            if run is not None:
                runs.add(run)
        elif isinstance(obj, CourseRun) and (obj in session.new or inspect(obj).attrs.days.history.has_changes()):
            runs.add(obj)
    for run in runs:
        if run in session.deleted:
            continue
        first = min((d.day for d in run.days if d not in session.deleted and d.day is not None), default=None)
        if run.first_day != first:
            run.first_day = first


#: The data version (app.core.data_versions) of what the run list's filters offer: the programmes, providers
#: and methods, and which runs each person may see with their days' years and first months.
RUN_LIST_CHOICES = "run_list_choices"
#: The run attributes the run list's choices depend on (who sees the run, and when it is).
_CHOICE_ATTRIBUTES = ("status", "enrolment_deadline", "first_day", "provider_id", "programme_id", "eligible_roles")


def _changes_run_list_choices(session: Session) -> bool:
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, CourseRun | CourseDay | Programme | Provider | Method):
            return True
    for obj in session.dirty:
        if isinstance(obj, Programme | Provider | Method) and session.is_modified(obj):
            return True
        if isinstance(obj, CourseDay) and any(
            inspect(obj).attrs[name].history.has_changes() for name in ("day", "course_run_id")
        ):
            return True
        if isinstance(obj, CourseRun) and any(
            inspect(obj).attrs[name].history.has_changes() for name in _CHOICE_ATTRIBUTES
        ):
            return True
    return False


@event.listens_for(Session, "before_flush")
def _note_run_list_choices_change(session: Session, _flush_context, _instances) -> None:
    """A write that changes what the run list's filters offer replaces their data version when its
    transaction commits (the cache's invalidation rule, app.core.data_versions)."""
    if _changes_run_list_choices(session):
        data_versions.mark_changed(session, RUN_LIST_CHOICES)
