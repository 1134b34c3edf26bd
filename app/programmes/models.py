"""Programme and BudgetAllocation (programme × provider × year)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import TimestampMixin
from app.extensions import Model
from app.providers.models import Provider


class Programme(TimestampMixin, Model):
    """A funded initiative (indsats) with a deadline and measurable targets."""

    __tablename__ = "programmes"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        CheckConstraint("target_runs >= 0 AND target_completed_staff >= 0", name="targets_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    #: The date the targets are measured at (seed: end of 2009).
    target_deadline: Mapped[date] = mapped_column(Date)
    #: Activity target: course runs completed before the deadline.
    target_runs: Mapped[int] = mapped_column(Integer, default=0)
    #: Result target: distinct staff who completed before the deadline.
    target_completed_staff: Mapped[int] = mapped_column(Integer, default=0)
    #: Effect target, in words (measured from follow-up feedback in a later issue).
    effect_target: Mapped[str | None] = mapped_column(Text)

    allocations: Mapped[list[BudgetAllocation]] = relationship(
        back_populates="programme",
        cascade="all, delete-orphan",
        order_by="(BudgetAllocation.year, BudgetAllocation.provider_id)",
    )

    def __repr__(self) -> str:
        return f"<Programme {self.id} {self.name!r}>"


class BudgetAllocation(Model):
    """The amount a programme allocates to one provider in one year."""

    __tablename__ = "budget_allocations"
    __table_args__ = (
        UniqueConstraint("programme_id", "provider_id", "year", name="uq_budget_allocations_programme_provider_year"),
        CheckConstraint("amount_ore >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    #: DKK in øre (integer): 375.000 kr. = 37_500_000.
    amount_ore: Mapped[int] = mapped_column(BigInteger)

    programme: Mapped[Programme] = relationship(back_populates="allocations")
    provider: Mapped[Provider] = relationship()

    def __repr__(self) -> str:
        return f"<BudgetAllocation {self.id} p{self.programme_id} {self.year}>"
