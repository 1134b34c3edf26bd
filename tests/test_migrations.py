"""`flask db upgrade` from empty gives exactly the models' schema, and downgrades cleanly.

Runs on SQLite (a temporary file) and on PostgreSQL when TEST_DATABASE_URL points there.
"""
from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app import create_app
from app.extensions import _include_object, db
from config import TestingConfig


@pytest.fixture
def empty_db_app(tmp_path):
    class MigrationConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = (
            TestingConfig.SQLALCHEMY_DATABASE_URI
            if os.environ.get("TEST_DATABASE_URL")
            else f"sqlite:///{tmp_path / 'migrations.db'}"
        )

    app = create_app(MigrationConfig)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        yield app
        db.session.remove()
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        db.engine.dispose()


def test_upgrade_from_empty_matches_models(empty_db_app):
    upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _include_object}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_downgrade_to_base_and_up_again(empty_db_app):
    upgrade()
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert "course_days" in inspect(db.engine).get_table_names()


def test_upgrade_normalises_stored_emails_and_keeps_case_twins(empty_db_app, capsys):
    """5b1c0e7d9a42: emails stored before it are normalised, except one whose normalised form is taken."""
    from sqlalchemy import text

    upgrade(revision="33ff2a190236")
    rows = [(1, " Anna@Test.DK"), (2, "ÆBLE@test.dk"), (3, "bo@test.dk"), (4, "BO@test.dk")]
    with db.engine.begin() as conn:
        for user_id, email in rows:
            conn.execute(
                text("INSERT INTO users (id, email, name, access_level, active, session_version, created_at, "
                     "updated_at) VALUES (:id, :email, 'x', 'staff', true, 0, '2026-01-01', '2026-01-01')"),
                {"id": user_id, "email": email},
            )
    upgrade()
    with db.engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT id, email FROM users ORDER BY id")).all())
    assert stored == {1: "anna@test.dk", 2: "æble@test.dk", 3: "bo@test.dk", 4: "BO@test.dk"}
    assert "users.id 4:" in capsys.readouterr().out
