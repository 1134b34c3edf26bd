"""Search every column of every table for a person's name or e-mail address (the DPO's "is anything left?")."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.extensions import db


def _as_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return value
    return None


def find_everywhere(*needles: str) -> set[tuple[str, object]]:
    """(table name, primary key) of every row in db.metadata holding one of `needles` (case-insensitive) in
    any column: text, JSON or bytes (the outbox's mail bytes)."""
    wanted = [n.casefold() for n in needles]
    db.session.expire_all()
    hits: set[tuple[str, object]] = set()
    for table in db.metadata.sorted_tables:
        if table.name == "apscheduler_jobs":
            continue
        pk = list(table.primary_key.columns)
        for row in db.session.execute(select(table)).mappings():
            for value in row.values():
                text = _as_text(value)
                if text is not None and any(n in text.casefold() for n in wanted):
                    hits.add((table.name, tuple(row[c.name] for c in pk)))
                    break
    return hits
