"""PersonKey: the pseudonym a person's anonymised enrolments carry in one programme, while it is still needed."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model


class PersonKey(Model):
    """`person_key` of `user_id`'s anonymised enrolments in `programme_id`, kept only while the person still
    has enrolments in that programme that are not anonymised (a run of it that has not expired yet).

    The programme's figures count distinct people as `coalesce(enrolment.person_key, this key, user id)`,
    so someone with one expired and one recent run in the same programme still counts once. When the last
    of their enrolments in the programme is anonymised, the row is deleted and nothing links the key to the
    person any more; when the person is anonymised as a leaver, the key moves onto their remaining
    enrolments in the programme and the row is deleted too.
    """

    __tablename__ = "anonymised_person_keys"
    __table_args__ = (UniqueConstraint("user_id", "programme_id", name="uq_anonymised_person_keys_user_programme"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    person_key: Mapped[str] = mapped_column(String(40))

    def __repr__(self) -> str:
        return f"<PersonKey user {self.user_id} programme {self.programme_id}>"
