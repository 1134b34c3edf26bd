"""docs/privacy.md names every column that can hold personal data (the research note's G-1): every text, JSON or
binary column and every reference to a user, as `table.column` (or `table.*` for a whole table). A column
added without a word in the inventory fails here."""

from __future__ import annotations

import re

from sqlalchemy import JSON, Enum, LargeBinary, String, Text

from app.extensions import db
from config import BASE_DIR

DOC = BASE_DIR / "docs" / "privacy.md"


def _may_hold_personal_data(column) -> bool:
    if isinstance(column.type, Enum):
        return False
    if isinstance(column.type, String | Text | JSON | LargeBinary):
        return True
    return any(fk.column.table.name == "users" for fk in column.foreign_keys)


def test_every_column_that_may_hold_personal_data_is_in_the_inventory(app):
    named = set(re.findall(r"`([a-z_]+\.(?:[a-z_]+|\*))`", DOC.read_text(encoding="utf-8")))
    missing = [
        f"{table.name}.{column.name}"
        for table in db.metadata.sorted_tables
        if table.name != "apscheduler_jobs" and f"{table.name}.*" not in named
        for column in table.columns
        if _may_hold_personal_data(column) and f"{table.name}.{column.name}" not in named
    ]
    assert missing == [], f"add these columns to {DOC.name}: {missing}"
