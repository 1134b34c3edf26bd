"""Unique names and unique-constraint races: the checks the coordinator's create/edit services share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.core.exceptions import Conflict
from app.extensions import db


def name_taken(model: Any, name: str, exclude_id: int | None = None) -> bool:
    """Whether another row of `model` (a model with `id` and `name`) has `name`, regardless of case
    ("FIC" and "fic" would confuse everybody). `exclude_id` is the row being edited."""
    stmt = select(model.id).where(func.lower(model.name) == name.lower())
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


@contextmanager
def unique_guard(message: str, field_name: str) -> Iterator[None]:
    """Write inside a savepoint: a unique-constraint race (two coordinators at once) becomes a Conflict
    on `field_name` with `message`.

    The check before it catches the ordinary duplicate; this catches the one that slips in between.
    """
    db.session.flush()  # earlier pending changes are not part of the guarded write
    try:
        with db.session.begin_nested():
            yield
    except IntegrityError as exc:
        raise Conflict(message, field=field_name) from exc
