"""Searching the audit log for the coordinator's page: filters in SQL, newest first, one page at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select, union
from sqlalchemy.orm import aliased, joinedload

from app.accounts.models import User
from app.audit.models import AuditEntry, AuditEntrySubject
from app.core.clock import local_tz
from app.core.db import Page, paginate
from app.extensions import db


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    subject: str = ""
    subject_id: int | None = None
    #: An action code ("run.cancel") or a group ("enrolment.*").
    action: str = ""
    object_type: str = ""
    object_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    @property
    def searches_a_person(self) -> bool:
        return bool(self.subject.strip()) or self.subject_id is not None


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _person_matches(person, text: str):
    """Every word of `text` in the person's name or email (case-insensitive)."""
    return [
        or_(person.name.ilike(_like(word), escape="\\"), person.email.ilike(_like(word), escape="\\"))
        for word in text.split()
    ]


def _local_midnight_utc(day: date) -> datetime:
    # In UTC: SQLite compares the stored UTC text, so the parameter must be UTC too.
    return datetime.combine(day, time.min, tzinfo=local_tz()).astimezone(UTC)


def search(filters: AuditFilters, *, page: int, per_page: int) -> Page:
    """One page of entries matching `filters`, newest first; actor and subject loaded in the same query."""
    stmt = (
        select(AuditEntry)
        .options(joinedload(AuditEntry.actor), joinedload(AuditEntry.subject), joinedload(AuditEntry.client))
        .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
    )
    if filters.actor.strip():
        actor = aliased(User)
        stmt = stmt.join(actor, AuditEntry.actor_id == actor.id).where(*_person_matches(actor, filters.actor))
    if filters.subject.strip():
        matching = select(User.id).where(*_person_matches(User, filters.subject)).scalar_subquery()
        stmt = stmt.where(AuditEntry.id.in_(_entries_about(lambda column: column.in_(matching))))
    if filters.subject_id is not None:
        stmt = stmt.where(AuditEntry.id.in_(_entries_about(lambda column: column == filters.subject_id)))
    if filters.action.endswith("*"):
        prefix = filters.action[:-1]
        stmt = stmt.where(AuditEntry.action.startswith(prefix, autoescape=True))
    elif filters.action:
        stmt = stmt.where(AuditEntry.action == filters.action)
    if filters.object_type:
        stmt = stmt.where(AuditEntry.object_type == filters.object_type)
    if filters.object_id is not None:
        stmt = stmt.where(AuditEntry.object_id == filters.object_id)
    if filters.date_from is not None:
        stmt = stmt.where(AuditEntry.occurred_at >= _local_midnight_utc(filters.date_from))
    if filters.date_to is not None:
        stmt = stmt.where(AuditEntry.occurred_at < _local_midnight_utc(filters.date_to + timedelta(days=1)))
    return paginate(db.session, stmt, page, per_page)


def _entries_about(person: Callable[[Any], Any]):
    """The ids of the entries about a person (`subject_id`) or whose page showed them (audit_entry_subjects):
    `person(column)` is the condition on a user id column. A UNION of two indexed lookups."""
    inner = aliased(AuditEntry)
    return union(
        select(inner.id).where(person(inner.subject_id)),
        select(AuditEntrySubject.entry_id).where(person(AuditEntrySubject.user_id)),
    )


def reads_of(user_id: int, *, limit: int | None = None) -> list[AuditEntry]:
    """Who saw person `user_id`: every read entry whose page showed them, newest first, actors loaded (one
    query, on the index of audit_entry_subjects.user_id)."""
    stmt = (
        select(AuditEntry)
        .join(AuditEntrySubject, AuditEntrySubject.entry_id == AuditEntry.id)
        .where(AuditEntrySubject.user_id == user_id)
        .options(joinedload(AuditEntry.actor))
        .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def people_on_page(entries: list[AuditEntry], *also: User | None) -> set[int]:
    """The ids of the persons an audit page names: each entry's actor and subject, and `also`."""
    ids = {person.id for person in also if person is not None}
    for entry in entries:
        ids.update(i for i in (entry.actor_id, entry.subject_id) if i is not None)
    return ids


def only_person_matching(text: str) -> int | None:
    """The id of the one person whose name or email matches `text`, or None (no one, or several)."""
    if not text.strip():
        return None
    ids = list(db.session.scalars(select(User.id).where(*_person_matches(User, text)).limit(2)))
    return ids[0] if len(ids) == 1 else None
