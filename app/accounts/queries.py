"""Read-only account lookups shared by the account services and the credential use cases."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.accounts.models import User, normalise_email
from app.core.access import AccessLevel
from app.extensions import db

__all__ = ["SEARCH_MAX_RESULTS", "SEARCH_MIN_CHARS", "get_user_by_email", "search_staff"]

#: The fewest characters a person search looks for, and the most people one answer lists.
SEARCH_MIN_CHARS = 2
SEARCH_MAX_RESULTS = 20


def get_user_by_email(email: str) -> User | None:
    """The user with this e-mail address (compared normalised, on the unique index), or None."""
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def search_staff(text: str, limit: int = SEARCH_MAX_RESULTS) -> tuple[list[User], bool] | None:
    """The person search of the coordinator's pages (enrol on someone's behalf, a unit's leaders): active
    staff whose name or email contains every word of `text` (case-insensitive), name order, with unit and
    role loaded, and whether more than `limit` matched; None for a text shorter than SEARCH_MIN_CHARS (no
    search made). Anonymised rows are no people (app.privacy)."""
    words = text.split()
    if len("".join(words)) < SEARCH_MIN_CHARS:
        return None
    stmt = (
        select(User)
        .options(selectinload(User.unit), selectinload(User.staff_role))
        .where(User.access_level == AccessLevel.STAFF, User.active.is_(True), User.anonymised_at.is_(None))
        .order_by(User.name, User.id)
        .limit(limit + 1)
    )
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(User.name.ilike(pattern, escape="\\"), User.email.ilike(pattern, escape="\\")))
    people = list(db.session.scalars(stmt))
    return people[:limit], len(people) > limit
