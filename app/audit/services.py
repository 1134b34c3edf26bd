"""Writing the audit log: `record()` inside the caller's transaction; rows can't be changed afterwards.

Three ways in:
- `record()`: a change, written in the same transaction as the change it logs (services call it).
- `record_read()` / `record_shown()`: someone looked at or searched for a person's data in a GET, naming every
  person the page showed (audit_entry_subjects, `add_shown`). The request's transaction owner
  (app.core.transaction) commits the entry with the response only when the response succeeded (status < 400):
  a refused or failed page logs nothing. It is the one write a GET makes (docs/audit.md); a person looking at
  their own data is not logged.
- `purge_expired()`: the retention job's bulk DELETE (the only way rows leave the table).

One sanctioned change to existing rows: `scrub_person()`, when a person is anonymised (app.privacy), replaces
the texts in `details` that name them (a search for their name or address) in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import JSON, Text, bindparam, cast, delete, event, func, insert, or_, select, true
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.audit.models import AuditEntry, AuditEntrySubject
from app.core.clock import utcnow
from app.core.db import rows_affected
from app.core.transaction import keep_only_if_successful
from app.extensions import db

#: Default of AUDIT_RETENTION_DAYS: five years.
DEFAULT_RETENTION_DAYS = 1825


class AuditLogIsAppendOnly(RuntimeError):
    """Raised at flush when code tries to change or delete an audit entry."""


def record(
    action: str,
    *,
    actor: User | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    subject: User | int | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Add one audit entry to the current transaction (flushed and committed with the action it logs).

    `action` is "<object>.<verb>" (e.g. "run.cancel", "user.view", "participants.export"); `subject` is the
    person whose personal data the action touched. `details` must hold no passwords, tokens or free text
    of a participant's. In a request of an integration client (app.integrations.auth) the entry names the
    client (`client_id`) as the one who did it.
    """
    subject_id = subject.id if isinstance(subject, User) else subject
    client = g.get("integration_client") if has_request_context() else None
    entry = AuditEntry(
        occurred_at=(now or utcnow()).astimezone(UTC),  # UTC whatever zone the caller's `now` is in
        actor_id=actor.id if actor is not None else None,
        client_id=client.id if client is not None else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        subject_id=subject_id,
        ip_address=request.remote_addr if has_request_context() else None,
        details=details or {},
    )
    db.session.add(entry)
    return entry


def snapshot(obj, names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The values of `names` on `obj`, comparable later with `changed_fields` (related objects by id,
    collections as sorted ids). Take it before applying a form's data."""
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, list | set | tuple):
            value = sorted(getattr(item, "id", item) for item in value)
        elif hasattr(value, "__table__"):
            value = value.id
        values[name] = value
    return values


def changed_fields(before: dict[str, Any], obj) -> list[str]:
    """The names in `before` (a `snapshot`) whose value on `obj` is different now, sorted."""
    after = snapshot(obj, list(before))
    return sorted(name for name, value in before.items() if after[name] != value)


def record_update(
    action: str,
    obj,
    before: dict[str, Any],
    *,
    actor: User | None = None,
    object_type: str,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Audit an edit of `obj`: the entry names the fields that differ from `before` (a `snapshot` taken
    before the change), plus any other `details`."""
    return record(
        action,
        actor=actor,
        object_type=object_type,
        object_id=obj.id,
        details={"fields": changed_fields(before, obj), **(details or {})},
    )


# --------------------------------------------------------------------------------------------------
# Reads and searches
# --------------------------------------------------------------------------------------------------


def record_read(
    action: str,
    *,
    subject: User | int | None = None,
    shown: Iterable[Any] | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry | None:
    """Log that the current user viewed or searched a person's data in this (GET) request.

    `shown`: every person the page showed (users, user ids, or rows with a `user_id` such as enrolments);
    with `subject`, they are written to audit_entry_subjects, so each of them can ask who saw them (see
    `add_shown`). Committed with the response, and only if it succeeded (see the module docstring). Returns
    None (nothing logged) when the read concerns only the current user: looking at your own data is no lookup.
    """
    actor = current_user._get_current_object() if current_user.is_authenticated else None
    subject_id = subject.id if isinstance(subject, User) else subject
    people = person_ids(shown or ())
    if subject_id is not None:
        people.add(subject_id)
    if actor is not None:
        people.discard(actor.id)
        if subject_id == actor.id:
            if not people:
                return None
            subject_id = None
    entry = record(
        action, actor=actor, subject=subject_id, object_type=object_type, object_id=object_id, details=details
    )
    keep_only_if_successful()
    add_shown(entry, people)
    return entry


def record_shown(action: str, shown: Iterable[Any], **kwargs: Any) -> AuditEntry | None:
    """`record_read` for a page listing people: logs nothing when it shows nobody but the current user."""
    people = person_ids(shown)
    if current_user.is_authenticated:
        people.discard(current_user.id)
    return record_read(action, shown=people, **kwargs) if people else None


def person_ids(people: Iterable[Any]) -> set[int]:
    """The user ids of `people`: users, ids, or anything with a `user_id` (an enrolment, a download); None
    is skipped (a system actor, a mail to an address without a user)."""
    ids: set[int] = set()
    for person in people:
        if person is None:
            continue
        if isinstance(person, User):
            person_id = person.id
        elif isinstance(person, int):
            person_id = person
        else:
            person_id = person.user_id
        if person_id is not None:
            ids.add(person_id)
    return ids


#: Rows per INSERT statement: one statement for any page (a 2,000-person list is 4,000 parameters), well
#: under SQLite's 32,766 and PostgreSQL's 65,535.
SUBJECTS_PER_INSERT = 10_000


def add_shown(entry: AuditEntry, people: Iterable[Any]) -> None:
    """Record that `entry`'s page showed `people` (see `person_ids`; the actor and the people already
    recorded for the entry are left out): the entry is flushed, then one bulk INSERT into
    audit_entry_subjects, whatever the number of people. Nothing for nobody."""
    recorded: set[int] = entry.__dict__.setdefault("_shown_ids", set())
    ids = sorted(person_ids(people) - recorded - {entry.actor_id})
    if not ids:
        return
    if entry.id is None:
        db.session.flush()
    for start in range(0, len(ids), SUBJECTS_PER_INSERT):
        chunk = ids[start : start + SUBJECTS_PER_INSERT]
        rows = [{"entry_id": entry.id, "user_id": user_id} for user_id in chunk]
        # Core, no ORM objects. Passed as parameter sets, not .values(rows): SQLAlchemy then compiles the
        # statement once and batches the rows into one multi-row INSERT (its "insertmanyvalues"; a single
        # executemany on SQLite), instead of compiling a new 200-parameter statement on every page view.
        db.session.connection().execute(insert(AuditEntrySubject), rows)
    recorded.update(ids)


# --------------------------------------------------------------------------------------------------
# Retention
# --------------------------------------------------------------------------------------------------


def retention_days() -> int:
    raw = current_app.config.get("AUDIT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
    try:
        days = int(raw)
    except (TypeError, ValueError):
        raise RuntimeError(f"AUDIT_RETENTION_DAYS must be a whole number of days, not {raw!r}") from None
    if days < 1:
        raise RuntimeError(f"AUDIT_RETENTION_DAYS must be at least 1, not {raw!r}")
    return days


def purge_expired(now: datetime) -> int:
    """Delete the entries older than AUDIT_RETENTION_DAYS before `now` and log the purge ("audit.purged",
    actor None) in the same transaction (the retention job commits). Returns the number deleted.

    A bulk DELETE statement: the ORM's append-only guard (which watches objects at flush) does not see it,
    on purpose, and this function is the only place that issues one.
    """
    days = retention_days()
    cutoff = (now - timedelta(days=days)).astimezone(UTC)  # UTC: SQLite compares the stored UTC text
    result = db.session.execute(
        delete(AuditEntry).where(AuditEntry.occurred_at < cutoff).execution_options(synchronize_session=False)
    )
    count = rows_affected(result)
    if count:
        record("audit.purged", details={"count": count, "before": cutoff.isoformat(), "retention_days": days}, now=now)
    return count


# --------------------------------------------------------------------------------------------------
# Anonymisation: the one sanctioned change to existing entries
# --------------------------------------------------------------------------------------------------

#: What replaces a text in `details` that names an anonymised person (stored data, in the municipality's
#: language like app.privacy's placeholder names).
SCRUBBED = "[anonymiseret]"

_WORD = re.compile(r"\w+")
_ASCII_RUN = re.compile(r"[a-z0-9]+")


def names_person(text: str, name: str, email: str) -> bool:
    """Whether `text` names the person: it holds their e-mail address, or every word of their name as a word
    (any order, any case: "søgaard, sanne" names Sanne Søgaard). A part of the name alone ("søgaard") does not:
    it identifies nobody by itself and may have been a search for someone else."""
    folded = text.casefold()
    if email and email.casefold() in folded:
        return True
    words = set(_WORD.findall(name.casefold()))
    return bool(words) and words <= set(_WORD.findall(folded))


def _scrubbed(value: Any, name: str, email: str) -> Any:
    if isinstance(value, str):
        return SCRUBBED if names_person(value, name, email) else value
    if isinstance(value, dict):
        return {key: _scrubbed(item, name, email) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, name, email) for item in value]
    return value


def _prefilter(name: str, email: str):
    """A cheap superset in SQL of the entries whose details may name the person: the stored JSON text holds
    the longest ASCII run of a word of the name or of the address (JSON escapes other characters, and SQLite's
    lower() folds ASCII only). A name or address without one gives no cheap filter: every entry is read."""
    conditions = []
    for source in (name, email):
        runs = _ASCII_RUN.findall(source.lower())
        if not runs:
            return true()
        conditions.append(func.lower(cast(AuditEntry.details, Text)).contains(max(runs, key=len), autoescape=True))
    return or_(*conditions)


def scrub_person(name: str, email: str) -> int:
    """Replace every text in the `details` of existing entries that names the person (`names_person`) with
    SCRUBBED, in the caller's transaction, for the anonymisation of that person (app.privacy). Returns how
    many entries changed. Everything else of an entry stays: time, actor, action, object, subject, IP
    address and the other details, so the log still says who searched or did what, when.

    An UPDATE statement by id (Core, not the ORM's unit of work): the append-only guard, which watches
    objects at flush, does not see it, on purpose. This and `purge_expired` are the only code that changes
    the table (docs/audit.md).
    """
    candidates = select(AuditEntry.id, AuditEntry.details).where(_prefilter(name, email)).order_by(AuditEntry.id)
    changes = [
        {"entry_id": entry_id, "scrubbed_details": new}
        for entry_id, details in db.session.execute(candidates.execution_options(yield_per=500))
        if (new := _scrubbed(details or {}, name, email)) != details
    ]
    if not changes:
        return 0
    table = db.metadata.tables[AuditEntry.__tablename__]
    db.session.execute(
        table.update()
        .where(table.c.id == bindparam("entry_id"))
        .values(details=bindparam("scrubbed_details", type_=JSON)),
        changes,
    )
    changed = {change["entry_id"] for change in changes}
    for obj in list(db.session.identity_map.values()):  # loaded copies show the new details when read next
        if isinstance(obj, AuditEntry) and obj.id in changed:
            db.session.expire(obj, ["details"])
    return len(changes)


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_audit_entries(session: Session, _flush_context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly(f"audit entry {obj.id} can't be changed or deleted")


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_audit_subjects(session: Session, _flush_context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntrySubject) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly(f"the persons shown by audit entry {obj.entry_id} can't be changed or deleted")
