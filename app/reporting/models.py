"""The download log of participant lists: who fetched which run's personal data, when, in which format."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User, enum_column
from app.core.clock import utcnow
from app.core.i18n import _l
from app.courses.models import CourseRun
from app.extensions import Model


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"
    #: The run's certificates of completion (app.certificates), one PDF page per person who completed it.
    CERTIFICATES = "certificates"

    @property
    def label(self) -> str:
        return str(_FORMAT_LABELS[self])


_FORMAT_LABELS = {
    ExportFormat.CSV: "CSV",
    ExportFormat.XLSX: "Excel (XLSX)",
    ExportFormat.PDF: "PDF",
    ExportFormat.CERTIFICATES: _l("Kursusbeviser (PDF)"),
}


class ExportDownload(Model):
    """One download of a run's participant list (it holds personal data, so every download is kept).

    Rows are only ever added: runs and users are never deleted (they are cancelled or deactivated), so the
    foreign keys need no cascade and the log outlives both.
    """

    __tablename__ = "export_downloads"
    __table_args__ = (Index("ix_export_downloads_run_created", "course_run_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_run_id: Mapped[int] = mapped_column(ForeignKey("course_runs.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    format: Mapped[ExportFormat] = mapped_column(enum_column(ExportFormat, "export_format"))
    #: How many people the file named (confirmed, waiting list and cancelled; on the PDF the confirmed).
    person_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    run: Mapped[CourseRun] = relationship()
    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ExportDownload {self.id} run {self.course_run_id} user {self.user_id} {self.format}>"
