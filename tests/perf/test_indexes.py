"""Indexes declared in the models (issue 9): every foreign key, and every column that a page or job scanning a
large table filters or sorts on, leads an index, a unique constraint or the primary key of its table.

Only the metadata is inspected (no database): `tests/test_migrations.py` checks that the migrations build
the same indexes.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)

import app.models  # noqa: F401  (registers every table on db.metadata)
from app.extensions import db

#: "table.col" or "table.col1,col2" (a composite the query filters on together): those columns, in that
#: order, must lead some index, unique constraint or the primary key.
FILTER_COLUMNS = {
    # courses.queries.run_list (filter by status; providers see status != draft), follow-up and reminder
    # jobs (status = published), enrolment.services.move_targets.
    "course_runs.status": "run list filter, follow-up/reminder jobs, move targets",
    "course_runs.enrolment_deadline": "enrolment.services.move_targets and the run list sort by deadline",
    "course_runs.first_day,id": "run list ORDER BY first_day DESC, id DESC LIMIT 20 (the default sort)",
    "course_runs.anonymised_at": "privacy.services.expired_run_ids: anonymised_at IS NULL (retention job)",
    "course_days.day": "reminders/feedback jobs and follow_up._pending_runs (day ranges), run list year filter",
    "enrolments.course_run_id,status": "a run's waiting list, participants, exports (run + status)",
    "enrolments.status": "reminder and feedback jobs join on status = confirmed",
    "enrolment_events.enrolment_id": "calendar.feeds._had_a_seat: an enrolment's events",
    "users.email": "login, SSO linking, the import: email = ? (stored normalised, app.accounts.models)",
    "users.name": "accounts.services.list_users: paginated, ORDER BY name",
    "users.anonymised_at": "list_users (IS NULL), privacy.delete_sent_mail_of_anonymised (IS NOT NULL)",
    "users.access_level": "list_users filter, coordinators to contact (enrolment.services)",
    "outbox_messages.status,next_attempt_at": "outbox.deliver_due: status = pending AND next_attempt_at <= now",
    "outbox_messages.supersede_key": "outbox.enqueue supersedes pending mails with the same key",
    "outbox_messages.recipient_email": "privacy._anonymise_account: recipient_user_id = ? OR recipient_email = ?",
    "audit_entries.occurred_at": "audit page ORDER BY occurred_at DESC, date range, retention delete",
    "audit_entries.action": "audit page filter by action (= or prefix)",
    "audit_entries.object_type,object_id": "audit page filter by object",
    "export_downloads.course_run_id,created_at": "reporting.views: a run's download log, newest first",
    "closed_days.day": "calendar.services: closed days of a year, ORDER BY day",
    # The read API (app.api.resources): keyset pages on the primary keys; these filter within them.
    "course_runs.programme_id": "api.resources.list_runs: programme_id = ? (the BI system's runs of a programme)",
    "enrolments.course_run_id": "api.resources.list_participants: a run's enrolments by id > cursor",
    "attendances.enrolment_id": "api.resources.list_completions: present days per enrolment (correlated count)",
    "course_days.course_run_id": "api.resources.list_completions: a run's days (count, last day)",
    "scim_users.employee_number": "api.resources.list_completions: employee_number = ? (the HR system's key)",
}


def _leading_column_sets(table: Table) -> list[tuple[str, ...]]:
    """The column tuples of the table's indexes, unique constraints and primary key."""
    keys: list[tuple[str, ...]] = []
    for constraint in table.constraints:
        if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint) and constraint.columns:
            keys.append(tuple(c.name for c in constraint.columns))
    for index in table.indexes:
        assert isinstance(index, Index)
        names = tuple(getattr(e, "name", None) for e in index.expressions)
        if all(names):
            keys.append(names)
    for column in table.columns:  # `unique=True` on a column, whether or not it shows in .constraints
        if column.unique:
            keys.append((column.name,))
    return keys


def _is_led(table: Table, columns: tuple[str, ...]) -> bool:
    return any(key[: len(columns)] == columns for key in _leading_column_sets(table))


def _unindexed_foreign_keys(metadata: MetaData) -> list[str]:
    missing = []
    for table in metadata.sorted_tables:
        for constraint in table.constraints:
            if isinstance(constraint, ForeignKeyConstraint):
                columns = tuple(c.name for c in constraint.columns)
                if not _is_led(table, columns):
                    missing.append(f"{table.name}.{','.join(columns)} -> {constraint.referred_table.name}")
    return missing


def test_every_foreign_key_leads_an_index():
    missing = _unindexed_foreign_keys(db.metadata)
    assert not missing, "foreign keys that lead no index, unique constraint or primary key:\n  " + "\n  ".join(
        sorted(missing)
    )


def test_every_filter_column_leads_an_index():
    missing, unknown = [], []
    for entry, used_by in FILTER_COLUMNS.items():
        table_name, _, cols = entry.partition(".")
        columns = tuple(cols.split(","))
        table = db.metadata.tables.get(table_name)
        if table is None or any(c not in table.columns for c in columns):
            unknown.append(entry)
        elif not _is_led(table, columns):
            missing.append(f"{entry}  ({used_by})")
    assert not unknown, f"FILTER_COLUMNS names columns that do not exist: {unknown}"
    assert not missing, "filter/sort columns that lead no index, unique constraint or primary key:\n  " + "\n  ".join(
        missing
    )


def test_the_check_can_fail():
    """The rule itself: a column only counts when it is the first of a composite key."""
    enrolments = db.metadata.tables["enrolments"]
    assert _is_led(enrolments, ("course_run_id", "status"))
    assert not _is_led(enrolments, ("queue_number",))  # second column of uq_enrolments_run_queue_number

    metadata = MetaData()
    Table("parents", metadata, Column("id", Integer, primary_key=True))
    Table(
        "children",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("other_id", Integer),
        Column("parent_id", ForeignKey("parents.id")),
        Column("indexed_parent_id", ForeignKey("parents.id"), index=True),
        Column("led_parent_id", ForeignKey("parents.id")),
        Column("trailing_parent_id", ForeignKey("parents.id")),
        Index("ix_children_led", "led_parent_id", "other_id"),
        Index("ix_children_trailing", "other_id", "trailing_parent_id"),
    )
    assert sorted(_unindexed_foreign_keys(metadata)) == [
        "children.parent_id -> parents",
        "children.trailing_parent_id -> parents",
    ]
