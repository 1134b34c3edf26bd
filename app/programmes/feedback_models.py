"""Follow-up-day feedback: one `Feedback` per enrolment and one `FeedbackMethodAnswer` per method taught."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import enum_column
from app.core.clock import utcnow
from app.courses.models import Method
from app.enrolment.models import Enrolment
from app.extensions import Model


class Frequency(enum.StrEnum):
    """How often the participant uses a method in their practice (before the course / since)."""

    NEVER = "never"
    RARELY = "rarely"
    MONTHLY = "monthly"
    WEEKLY = "weekly"


class EarlierInvolvement(enum.StrEnum):
    """Whether the participant now involves the parents earlier."""

    YES = "yes"
    PARTLY = "partly"
    NO = "no"


class Feedback(Model):
    """A participant's answer after the follow-up day: one per enrolment, editable until the programme closes."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), unique=True)
    earlier_involvement: Mapped[EarlierInvolvement] = mapped_column(
        enum_column(EarlierInvolvement, "earlier_involvement")
    )
    #: The participant's own words; never citizens' personal data (the form says so).
    free_text: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    enrolment: Mapped[Enrolment] = relationship()
    answers: Mapped[list[FeedbackMethodAnswer]] = relationship(
        back_populates="feedback", cascade="all, delete-orphan", order_by="FeedbackMethodAnswer.method_id"
    )

    def __repr__(self) -> str:
        return f"<Feedback {self.id} enrolment {self.enrolment_id}>"


class FeedbackMethodAnswer(Model):
    """Use of one method taught in the run: before the course and since."""

    __tablename__ = "feedback_method_answers"
    __table_args__ = (UniqueConstraint("feedback_id", "method_id", name="uq_feedback_method_answers_feedback_method"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), index=True)
    method_id: Mapped[int] = mapped_column(ForeignKey("methods.id", ondelete="RESTRICT"), index=True)
    before: Mapped[Frequency] = mapped_column(enum_column(Frequency, "feedback_frequency"))
    since: Mapped[Frequency] = mapped_column(enum_column(Frequency, "feedback_frequency"))

    feedback: Mapped[Feedback] = relationship(back_populates="answers")
    method: Mapped[Method] = relationship()

    def __repr__(self) -> str:
        return f"<FeedbackMethodAnswer feedback {self.feedback_id} method {self.method_id}>"
