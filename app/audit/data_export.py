"""The right of access (GDPR art. 15): everything the portal holds about one person, as JSON.

The export is built from an explicit list of SECTIONS, each "the rows of table T whose column C points at
this person" (directly at users.id, or at one of the person's own rows: their enrolments, their feedback).
Every column of those rows is exported, so a new column is included without anyone remembering it; only
secrets are reduced to "set"/"not set" (SECRET_COLUMNS) and a few columns are left out with the reason
(OMITTED_COLUMNS). tests/audit/test_data_export.py walks `db.metadata` for every foreign key that leads to a
person (users.id, or a table already in the export) and fails unless it is a section's key or listed in
ALSO_COVERED with a reason — so a new table that refers to a person can't be forgotten.

To cover a new table, add one line to SECTIONS, e.g.
    Section("mfa_credentials", "mfa_credentials", "user_id"),
(the table, the column pointing at the person; `via="enrolments"` when it points at an enrolment).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select

from app.accounts.models import User
from app.audit.labels import action_label
from app.core.clock import as_utc, utcnow
from app.extensions import db

#: The format version of the file (raise it when a section's meaning changes).
FORMAT_VERSION = 1

#: A column whose name contains one of these holds a secret (password hash, calendar token, a second factor's
#: seed, recovery codes ...): exported only as "set" / "not set", in every table, new ones included.
SECRET_NAME_PARTS = ("password", "token", "secret", "hash", "recovery", "otp")


def is_secret(column_name: str) -> bool:
    name = column_name.lower()
    return any(part in name for part in SECRET_NAME_PARTS)


#: (table, column) -> why it is left out of the export.
OMITTED_COLUMNS = {
    ("outbox_messages", "message"): "the raw mail bytes (headers, MIME parts, calendar file); kind, subject, "
    "status and times are exported, and the mail itself went to the person",
    ("audit_entries", "ip_address"): "in audit_about_me left out of the entries someone else did (a coordinator "
    "looking them up) or a stranger did (a check of their certificate: STRANGERS_ACTIONS): it is that person's "
    "address; kept where the person did it or nobody logged in did (a failed login, a reset link: requests about "
    "their account)",
}


@dataclass(frozen=True)
class Section:
    """The rows of `table` whose `column` points at the person (via="users") or at one of the person's rows
    of another section's table (via="enrolments", "feedback", ...)."""

    name: str
    table: str
    column: str
    via: str = "users"
    #: These rows are the person's own: their ids count for sections `via` this table.
    owns: bool = True
    omit: frozenset[str] = frozenset()
    #: Adds readable context to the exported rows (run titles, dates), in place.
    enrich: Callable[[list[dict[str, Any]]], None] | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.table, self.column)


def _enrich_units_led(rows: list[dict[str, Any]]) -> None:
    from app.accounts.models import Unit

    names = dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_({r["unit_id"] for r in rows}))).all())
    for row in rows:
        row["unit"] = names.get(row["unit_id"])


def _enrich_enrolments(rows: list[dict[str, Any]]) -> None:
    from app.courses.models import CourseDay, CourseRun

    run_ids = {row["course_run_id"] for row in rows}
    if not run_ids:
        return
    runs = {run.id: run for run in db.session.scalars(select(CourseRun).where(CourseRun.id.in_(run_ids)))}
    days: dict[int, list[dict[str, Any]]] = {}
    for day in db.session.scalars(
        select(CourseDay).where(CourseDay.course_run_id.in_(run_ids)).order_by(CourseDay.position)
    ):
        days.setdefault(day.course_run_id, []).append(
            {
                "id": day.id,
                "kind": day.kind.value,
                "position": day.position,
                "day": day.day,
                "starts_at": day.starts_at,
                "ends_at": day.ends_at,
                "venue": day.venue or runs[day.course_run_id].venue,
            }
        )
    for row in rows:
        run = runs.get(row["course_run_id"])
        if run is not None:
            row["run"] = {"id": run.id, "title": run.title, "status": run.status.value, "days": days.get(run.id, [])}


#: Actions nobody logged in does that are not requests about the person's own account: the address is a
#: stranger's (whoever checked their certificate of completion on the public page), left out like a coordinator's.
STRANGERS_ACTIONS = frozenset({"certificate.verified"})


def _enrich_audit_about_me(rows: list[dict[str, Any]]) -> None:
    # The IP address is the person's where they did it, or where nobody logged in did (a failed login, a
    # reset link: requests about their account); where someone else did it, it is that person's (left out).
    for row in rows:
        if row.get("actor_id") not in (None, row["subject_id"]) or row.get("action") in STRANGERS_ACTIONS:
            row.pop("ip_address", None)
    actor_ids = {row["actor_id"] for row in rows if row.get("actor_id") is not None}
    names = (
        dict(db.session.execute(select(User.id, User.name).where(User.id.in_(actor_ids))).all()) if actor_ids else {}
    )
    for row in rows:
        row["actor_name"] = names.get(row["actor_id"]) if row.get("actor_id") is not None else None
        row["action_label"] = action_label(row["action"])


def _enrich_seen_by(rows: list[dict[str, Any]]) -> None:
    """Each page that showed the person (an audit_entry_subjects row): when, who, what and which object, in
    place of the bare (entry_id, user_id); not the other person's IP address."""
    from app.audit.models import AuditEntry

    entry_ids = [row["entry_id"] for row in rows]
    if not entry_ids:
        return
    stmt = (
        select(AuditEntry, User.name.label("actor_name"))
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .where(AuditEntry.id.in_(entry_ids))
    )
    entries = {entry.id: (entry, actor_name) for entry, actor_name in db.session.execute(stmt)}
    for row in rows:
        entry, actor_name = entries[row["entry_id"]]
        del row["user_id"]  # the person themselves
        row.update(
            occurred_at=entry.occurred_at,
            actor_id=entry.actor_id,
            actor_name=actor_name,
            action=entry.action,
            action_label=action_label(entry.action),
            object_type=entry.object_type,
            object_id=entry.object_id,
            details=entry.details,
        )


def _enrich_audit_by_me(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        row["action_label"] = action_label(row["action"])


#: The export, in order (a `via` table must be owned by an earlier section).
SECTIONS: tuple[Section, ...] = (
    Section("enrolments", "enrolments", "user_id", enrich=_enrich_enrolments),
    Section("enrolment_events", "enrolment_events", "enrolment_id", via="enrolments"),
    Section("attendance", "attendances", "enrolment_id", via="enrolments"),
    Section("calendar_invitations", "calendar_invitations", "enrolment_id", via="enrolments"),
    Section("feedback", "feedback", "enrolment_id", via="enrolments"),
    Section("feedback_answers", "feedback_method_answers", "feedback_id", via="feedback"),
    Section("certificates", "certificates", "enrolment_id", via="enrolments"),
    Section("mails", "outbox_messages", "recipient_user_id", omit=frozenset({"message"})),
    Section("participant_list_downloads", "export_downloads", "user_id"),
    Section("audit_about_me", "audit_entries", "subject_id", enrich=_enrich_audit_about_me),
    # Who saw the person: every page (a list, a search, a user's page) whose audit entry names them.
    Section("seen_by", "audit_entry_subjects", "user_id", enrich=_enrich_seen_by),
    Section("audit_by_me", "audit_entries", "actor_id", owns=False, enrich=_enrich_audit_by_me),
    # Logging in: the second factor (its secret and codes only as set/not set) and single sign-on identities.
    Section("second_factor", "mfa_credentials", "user_id"),
    Section("recovery_codes", "mfa_recovery_codes", "user_id"),
    Section("sso_identities", "user_identities", "user_id"),
    # The pseudonymous key that still ties the person to their anonymised enrolments in a programme.
    Section("anonymised_person_keys", "anonymised_person_keys", "user_id"),
    # The units the person was set as a leader of (issue 24; who they lead by inheritance follows from the tree).
    Section("units_led", "unit_leaders", "user_id", owns=False, enrich=_enrich_units_led),
    Section("enrolment_events_by_me", "enrolment_events", "actor_id", owns=False),
    Section("attendance_recorded_by_me", "attendances", "recorded_by_id", owns=False),
    Section("integration_clients_created_by_me", "integration_clients", "created_by_id", owns=False),
    # What the municipality's directory sent about the person (SCIM provisioning), as it was last sent.
    Section("directory_provisioning", "scim_users", "user_id"),
)

#: Foreign keys leading to a person that no section selects by, each with where its rows are exported.
ALSO_COVERED: dict[tuple[str, str], str] = {
    ("enrolments", "moved_from_id"): "a move's new enrolment is the same person's: in the enrolments section",
    ("calendar_invitations", "last_message_id"): "the invitation is in calendar_invitations (via the "
    "enrolment), the mail in mails",
    ("audit_entry_subjects", "entry_id"): "a page that showed the person: in seen_by (by user_id), with its "
    "entry's time, actor, action and object",
    ("scim_users", "client_id"): "the people a client provisioned are theirs, each in their own "
    "directory_provisioning (by user_id), not the coordinator's who created the client",
    ("audit_entries", "client_id"): "what an integration client the person created did is the client's doing, "
    "not the person's; the entries about the person (a SCIM change of their account) are in audit_about_me",
}


def covered_keys() -> set[tuple[str, str]]:
    return {section.key for section in SECTIONS} | set(ALSO_COVERED)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _row(table: Table, values, omit: frozenset[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column in table.columns:
        name = column.name
        if name in omit:
            continue
        value = values[name]
        row[name] = ("set" if value else "not set") if is_secret(name) else value
    return row


def _user_row(user: User) -> dict[str, Any]:
    table = db.metadata.tables["users"]
    values = db.session.execute(select(table).where(table.c.id == user.id)).mappings().one()
    row = _row(table, values, frozenset())
    row["staff_role"] = user.staff_role.name if user.staff_role else None
    row["unit"] = user.unit.name if user.unit else None
    row["provider"] = user.provider.name if user.provider else None
    return row


def build_export(user: User, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything about `user`, as plain JSON-ready data (ISO dates, enum values, secrets as set/not set)."""
    owned: dict[str, set[int]] = {"users": {user.id}}
    sections: dict[str, list[dict[str, Any]]] = {}
    for section in SECTIONS:
        table = db.metadata.tables[section.table]
        parents = owned.get(section.via, set())
        rows: list[dict[str, Any]] = []
        if parents:
            result = db.session.execute(
                select(table).where(table.c[section.column].in_(sorted(parents))).order_by(*table.primary_key.columns)
            ).mappings()
            rows = [_row(table, values, section.omit) for values in result]
        if section.enrich is not None:
            section.enrich(rows)
        if section.owns and "id" in table.c:
            owned.setdefault(section.table, set()).update(row["id"] for row in rows)
        sections[section.name] = rows
    return _plain(
        {
            "format_version": FORMAT_VERSION,
            "generated_at": now or utcnow(),
            "person": _user_row(user),
            **sections,
        }
    )


def export_json(user: User, *, now: datetime | None = None) -> bytes:
    return to_json(build_export(user, now=now))


def to_json(export: dict[str, Any]) -> bytes:
    return json.dumps(export, ensure_ascii=False, indent=2, sort_keys=False).encode("utf-8")


def people_named(export: dict[str, Any]) -> set[int]:
    """The other persons whose names the file shows: the actors of the log about the person and of the pages
    that showed them (a coordinator's download of the file logs them as shown too)."""
    return {
        row["actor_id"]
        for section in ("audit_about_me", "seen_by")
        for row in export.get(section, [])
        if row.get("actor_id") is not None and row.get("actor_name") is not None
    }


def file_name(user: User, now: datetime) -> str:
    return f"kursusportalen-data-{user.id}-{as_utc(now).date().isoformat()}.json"
