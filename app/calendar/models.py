"""ClosedDay: the municipality's own closed days, on top of the public holidays."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model


class ClosedDay(Model):
    """A day the workplace is closed (e.g. Grundlovsdag, 24 December): data the coordinator edits."""

    __tablename__ = "closed_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    reason: Mapped[str] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"<ClosedDay {self.day.isoformat()}>"
