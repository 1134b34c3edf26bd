"""The test databases: one per pytest-xdist worker on PostgreSQL, databases of their own for fixtures that
manage a schema themselves, and creating, dropping and emptying the schema.

Imports nothing from app/ or config.py at module level: tests/conftest.py calls
`prepare_worker_database_url()` before config.py reads TEST_DATABASE_URL.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


def prepare_worker_database_url() -> None:
    """Under pytest-xdist, worker gwN uses database `<TEST_DATABASE_URL's name>_gwN` (created on first use), so
    workers never share tables. Without xdist, or on SQLite, nothing changes."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("TEST_DATABASE_URL")
    if not worker or not url or not url.startswith("postgres") or os.environ.get("KP_TEST_WORKER_URL_SET"):
        return
    base = make_url(url)
    os.environ["TEST_DATABASE_URL"] = base.set(database=f"{base.database}_{worker}").render_as_string(
        hide_password=False
    )
    os.environ["KP_TEST_WORKER_URL_SET"] = "1"


def ensure_database(url: str, *, lock_timeout: str | None = None) -> None:
    """Create the PostgreSQL database at `url` if it is missing (SQLite: nothing to do).

    `lock_timeout` (e.g. "60s") becomes the database's default: a connection that waits that long for a lock
    fails instead of hanging the run (e.g. a fixture dropping a table an isolated test still reads)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}):
                conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
            if lock_timeout:
                conn.exec_driver_sql(f"ALTER DATABASE \"{parsed.database}\" SET lock_timeout = '{lock_timeout}'")
    finally:
        admin.dispose()


def private_database_url(suffix: str, sqlite_path=None) -> str:
    """For a fixture that creates and drops the schema itself: PostgreSQL database `<test database><suffix>`
    (created when missing) beside the suite's, whose schema lives for the whole session; on SQLite the file
    `sqlite_path`, or (None) an in-memory database of the fixture's own engine."""
    from config import TestingConfig

    url = TestingConfig.SQLALCHEMY_DATABASE_URI
    if not url.startswith("postgres"):
        return f"sqlite:///{sqlite_path}" if sqlite_path else "sqlite://"
    parsed = make_url(url)
    private = parsed.set(database=f"{parsed.database}{suffix}")
    ensure_database(private.render_as_string(hide_password=False))
    return private.render_as_string(hide_password=False)


def drop_schema(app) -> None:
    """Drop every table of the models (on SQLite without checking references: units refer to units)."""
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as conn:
                _sqlite_foreign_keys(conn, "OFF")
                db.metadata.drop_all(conn)
                conn.commit()
                _sqlite_foreign_keys(conn, "ON")
        else:
            db.drop_all()


def create_schema(app) -> None:
    """The models' schema, fresh (a crashed earlier run may have left tables behind)."""
    from app.extensions import db

    drop_schema(app)
    with app.app_context():
        db.create_all()


def truncate_all(app) -> None:
    """Empty every table and restart the ids (after a `committing` test; the app context is pushed)."""
    from app.extensions import db

    tables = db.metadata.sorted_tables
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(conn.dialect.identifier_preparer.quote(t.name) for t in tables)
            conn.exec_driver_sql(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE")
        else:
            _sqlite_foreign_keys(conn, "OFF")
            for table in reversed(tables):
                conn.execute(table.delete())
            if conn.scalar(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")):
                conn.exec_driver_sql("DELETE FROM sqlite_sequence")
            conn.commit()
            _sqlite_foreign_keys(conn, "ON")
        conn.commit()


def _sqlite_foreign_keys(conn, state: str) -> None:
    """The pragma is a no-op inside a transaction: send it to the DBAPI connection between transactions."""
    assert not conn.in_transaction()
    conn.connection.driver_connection.execute(f"PRAGMA foreign_keys={state}")
