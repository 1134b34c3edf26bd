"""Counting the SQL statements a request sends (a SQLAlchemy event hook), for query budgets in tests."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from sqlalchemy import event

from app.extensions import db

#: Not queries, and not counted: SQLite's BEGIN IMMEDIATE (app/core/db.py), and the savepoints the tests'
#: isolation (tests/conftest.py) wraps each commit in, which production does not send.
TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.IGNORECASE)


@contextlib.contextmanager
def recorded_statements() -> Iterator[list[str]]:
    """Collects every statement sent to the database inside the block (Django's assertNumQueries idea), the
    same on SQLite and PostgreSQL."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not TRANSACTION_CONTROL.match(statement):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


class LazyLoad(AssertionError):
    """A relationship was lazy-loaded (a query of its own, per object) inside a budgeted request."""


@contextlib.contextmanager
def lazy_loads_raise() -> Iterator[None]:
    """Inside the block, any lazy load that needs SQL raises LazyLoad — what `lazy="raise_on_sql"` on every
    relationship would do, for the requests under a query budget. Many-to-one loads served from the identity
    map send no SQL and pass, as with raise_on_sql; explicit eager loads (selectinload, joinedload) pass."""

    def refuse(state) -> None:
        if state.lazy_loaded_from is not None:
            holder = state.lazy_loaded_from
            raise LazyLoad(f"lazy load from {holder.class_.__name__} {holder.identity}: {state.statement}")

    event.listen(db.session, "do_orm_execute", refuse)
    try:
        yield
    finally:
        event.remove(db.session, "do_orm_execute", refuse)


def statements_and_body_for_get(client, url: str) -> tuple[list[str], bytes]:
    """The statements one GET of `url` costs, its body read inside (a streamed export counts too), with
    nothing in the identity map beforehand, as a request in production starts, and no lazy loading; and
    the body, to check that the page shows what was counted."""
    db.session.commit()
    db.session.expunge_all()
    with recorded_statements() as statements, lazy_loads_raise():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        body = response.get_data()
    return statements, body


def statements_for_get(client, url: str) -> list[str]:
    return statements_and_body_for_get(client, url)[0]


def assert_rows(body: bytes | str, pattern: str, at_least: int, where: str = "the page") -> int:
    """Guard against a check that passes on nothing: `body` holds at least `at_least` matches of the regular
    expression `pattern` (one per row). A list emptied by the date the suite runs on fails here, instead of
    a query count or an escaping check quietly measuring an empty page."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    found = len(re.findall(pattern, text))
    assert found >= at_least, f"{where}: {found} row(s) matching {pattern!r}, expected at least {at_least}"
    return found
