"""Certificate: the verification code of one completed enrolment's certificate of completion."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import utcnow
from app.enrolment.models import Enrolment
from app.extensions import Model


class Certificate(Model):
    """The certificate of one completed enrolment: made the first time it is downloaded (by the person or the
    coordinator), and then the same code for good, so every copy printed of it can be checked.

    It holds no personal data of its own: the name, the course and the date shown on the verification page
    are read from the enrolment when asked, so a certificate always says what the records say. Whether the
    person completed the run is worked out again on every check (app.certificates.services); `withdrawn_at`
    is set when the person's data is anonymised (app.privacy), after which the code confirms nothing.
    """

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), unique=True)
    #: 12 characters from app.certificates.services.ALPHABET (no 0/O, 1/I/L), stored without the dashes.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    enrolment: Mapped[Enrolment] = relationship()

    def __repr__(self) -> str:
        return f"<Certificate {self.id} enrolment {self.enrolment_id}>"
