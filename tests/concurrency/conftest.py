"""Fixtures for the concurrency tests: the real app (create_app, so SQLite gets its BEGIN IMMEDIATE
recipe) on a real database that many threads share: a SQLite FILE (never sqlite:// in memory), or
PostgreSQL `<TEST_DATABASE_URL's>_conc`. The schema is created fresh and dropped afterwards; the test runs
inside the app's context.

Close the test's own session (db.session.close()) before releasing threads: on SQLite an open
transaction holds the database's write lock.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from app.extensions import db
from tests.concurrency.harness import create_schema, database_app, drop_schema
from tests.databases import private_database_url


@contextmanager
def app_on_shared_database(tmp_path, **engine_options):
    url = private_database_url("_conc", tmp_path / "concurrency.db")
    app = database_app(url, **engine_options)
    create_schema(app)
    try:
        with app.app_context():
            yield app
            db.session.remove()
    finally:
        drop_schema(app)


@pytest.fixture
def shared_app(tmp_path):
    """For threads calling the services: the pool has room for every thread at once, so all of them
    really race for the run's lock in the database instead of queueing for a connection."""
    with app_on_shared_database(tmp_path, pool_size=60, max_overflow=10) as app:
        yield app


@pytest.fixture
def server_app(tmp_path):
    """For a threaded server: the engine exactly as the app configures it."""
    with app_on_shared_database(tmp_path) as app:
        yield app
