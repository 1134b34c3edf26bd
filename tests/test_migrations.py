"""`flask db upgrade` from empty gives exactly the models' schema, and downgrades cleanly.

Runs on SQLite (a temporary file) and on PostgreSQL when TEST_DATABASE_URL points there.
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app import create_app
from app.extensions import _include_object, db
from config import TestingConfig
from tests.databases import private_database_url


@pytest.fixture
def empty_db_app(tmp_path):
    class MigrationConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = private_database_url("_migrations", tmp_path / "migrations.db")

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
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _include_object})
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
                text(
                    "INSERT INTO users (id, email, name, access_level, active, session_version, created_at, "
                    "updated_at) VALUES (:id, :email, 'x', 'staff', true, 0, '2026-01-01', '2026-01-01')"
                ),
                {"id": user_id, "email": email},
            )
    upgrade()
    with db.engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT id, email FROM users ORDER BY id")).all())
    assert stored == {1: "anna@test.dk", 2: "æble@test.dk", 3: "bo@test.dk", 4: "BO@test.dk"}
    assert "users.id 4:" in capsys.readouterr().out


def test_upgrade_fills_the_first_day_of_existing_runs(empty_db_app):
    """8e4f2a6c1d07: course_runs.first_day is the earliest course day of each run there is, NULL without days."""
    from sqlalchemy import text

    upgrade(revision="5b1c0e7d9a42")
    run = text(
        "INSERT INTO course_runs (id, programme_id, provider_id, title, kind, status, capacity, "
        "enrolment_deadline, venue, price_ore) VALUES (:id, 1, 1, 'R', 'standard', 'draft', 5, '2026-01-01', "
        "'V', 0)"
    )
    day = text(
        "INSERT INTO course_days (course_run_id, kind, position, day, starts_at, ends_at, ical_uid) VALUES "
        "(1, 'teaching', :position, :day, '09:00', '15:30', :uid)"
    )
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO programmes (id, name, starts_on, ends_on, target_deadline, target_runs, "
                "target_completed_staff) VALUES (1, 'P', '2026-01-01', '2027-12-31', '2027-12-31', 1, 1)"
            )
        )
        conn.execute(text("INSERT INTO providers (id, name) VALUES (1, 'FIC')"))
        conn.execute(run, [{"id": 1}, {"id": 2}])
        conn.execute(
            day,
            [
                {"position": position, "day": on, "uid": f"u{position}"}
                for position, on in ((2, "2026-03-03"), (1, "2026-03-02"), (3, "2026-06-02"))
            ],
        )
    upgrade()
    with db.engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT id, first_day FROM course_runs ORDER BY id")).all())
    assert {k: str(v) if v else v for k, v in stored.items()} == {1: "2026-03-02", 2: None}


def test_upgrade_names_the_subject_of_earlier_reads_as_shown(empty_db_app):
    """c3a91d5e7b20: a read entry written before it (user.view ...) names its subject in audit_entry_subjects,
    so "who saw me" covers the old reads too; a change (run.cancel) gets no row."""
    from sqlalchemy import text

    upgrade(revision="601bff391add")
    entry = text(
        "INSERT INTO audit_entries (id, occurred_at, actor_id, action, subject_id, details) "
        "VALUES (:id, '2026-01-01', 1, :action, :subject, '{}')"
    )
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, name, access_level, active, session_version, created_at, "
                "updated_at) VALUES (:id, :email, 'x', 'staff', true, 0, '2026-01-01', '2026-01-01')"
            ),
            [{"id": 1, "email": "a@test.dk"}, {"id": 2, "email": "b@test.dk"}],
        )
        conn.execute(
            entry,
            [
                {"id": 1, "action": "user.view", "subject": 2},
                {"id": 2, "action": "run.cancel", "subject": 2},
                {"id": 3, "action": "participants.view", "subject": None},
                {"id": 4, "action": "enrolment.view", "subject": 2},
            ],
        )
    upgrade()
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT entry_id, user_id FROM audit_entry_subjects ORDER BY entry_id")).all()
    assert [tuple(row) for row in rows] == [(1, 2), (4, 2)]
