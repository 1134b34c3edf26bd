"""Model mixins, engine set-up per dialect, and the pagination helper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from math import ceil
from typing import Any

from flask import g, has_request_context
from sqlalchemy import DateTime, event, func, select
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run through `db.session.execute` matched. The session is typed to
    return a plain `Result`; for such a statement it is a `CursorResult`, the result that has `rowcount`."""
    assert isinstance(result, CursorResult), "only an INSERT/UPDATE/DELETE result has a row count"
    return result.rowcount


def configure_engine(engine: Engine) -> None:
    """SQLite: enforce foreign keys and take the write lock at BEGIN (SQLAlchemy's pysqlite recipe).

    Python's sqlite3 starts transactions lazily, so a read-check-write is not protected; emitting
    `BEGIN IMMEDIATE` ourselves serialises writers (docs/technical-notes.md#seats). PostgreSQL needs nothing.
    """
    if engine.dialect.name != "sqlite" or getattr(engine, "_kp_configured", False):
        return
    engine._kp_configured = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised by every test
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def keep_for_request(obj):
    """Hold `obj` for the rest of the request and return it.

    The session's identity map holds unmodified objects weakly: a run an ownership check loaded and let go
    of is garbage, and the view's `session.get()` reads it again. Kept here, the view gets the same object
    from the identity map without a query."""
    if obj is not None and has_request_context():
        g.setdefault("kept_objects", []).append(obj)
    return obj


@dataclass
class Page:
    """One page of a database-paginated query."""

    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def window(self) -> list[int | None]:
        """The page numbers the pagination shows, in order, with None for an ellipsis: the first and last page
        and two either side of this one; an ellipsis where the page three away is hidden behind it. Built from
        the shown pages only, so its cost does not grow with the number of pages (issue 22: the template used
        to test all ~200 page numbers of a coordinator's run list)."""
        pages, current = self.pages, self.page
        shown = {1, pages, *range(max(1, current - 2), min(pages, current + 2) + 1)}
        for gap in (current - 3, current + 3):
            if 1 < gap < pages:
                shown.add(gap)
        return [n if n in (1, pages) or abs(n - current) <= 2 else None for n in sorted(shown)]


def paginate(session, stmt, page: int, per_page: int) -> Page:
    """Count and slice `stmt` in the database (two queries, whatever the table size)."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = max(1, ceil(total / per_page))
    page = min(max(1, page), pages)
    items = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique())
    return Page(items=items, page=page, per_page=per_page, total=total)


def totals_per_item(session, page: Page, key, aggregate) -> dict[int, int]:
    """`aggregate` (e.g. `func.sum(...)`, `func.count(...)`) grouped by `key`, for the ids of `page`'s items
    ({id: total}, 0 for none), in one query per page; no query when the page is empty."""
    ids = [item.id for item in page.items]
    if not ids:
        return {}
    rows = session.execute(select(key, aggregate).where(key.in_(ids)).group_by(key))
    return {item_id: int(total or 0) for item_id, total in rows}
