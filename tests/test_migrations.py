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


def _reason_migration():
    """The 4718a6e75e91 migration as a module (its file name starts with a date)."""
    import importlib.util
    from pathlib import Path

    path = next(Path(__file__).parent.parent.glob("migrations/versions/*_4718a6e75e91_*.py"))
    spec = importlib.util.spec_from_file_location("reason_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reason_migration_reads_back_every_text_the_rule_wrote(app):
    """4718a6e75e91: for every teaching day 2 over three years (weekends, every holiday, closed days with
    commas, parentheses and " og " in their reason), the Danish text the rule stored reads back into parts
    that say the same in Danish, and in English."""
    from datetime import date, timedelta

    from flask_babel import force_locale

    from app.courses.services import describe_proposal, proposal_from_parts, proposal_parts, propose_follow_up_day

    migration = _reason_migration()
    closed = {
        date(2009, 6, 5): "Grundlovsdag (lukket fra kl. 12)",
        date(2010, 12, 23): "Lukket mellem jul og nytår, (alle afdelinger)",
        date(2010, 12, 24): "Juleaftensdag; rådhuset lukket",
        date(2010, 12, 27): "Lukket) og nytår",
        date(2010, 12, 28): "Lukket",
        date(2010, 12, 29): "Lukket",
        date(2010, 12, 30): "Lukket",
        date(2010, 12, 31): "Nytårsaftensdag",
    }
    read = 0
    with force_locale("da"):
        day2 = date(2008, 1, 1)
        while day2 < date(2011, 1, 1):
            proposal = propose_follow_up_day(day2, closed, months=1 if day2.day == 15 else 3)
            text = describe_proposal(proposal)
            parts = migration.parse(text, proposal.day)
            assert parts is not None, text
            read += bool(parts["skipped"])
            again = proposal_from_parts(parts, "da")
            assert describe_proposal(again) == text
            # the parts the app writes itself say the same
            assert describe_proposal(proposal_from_parts(proposal_parts(proposal), "da")) == text
            day2 += timedelta(days=1)
    assert read > 300
    with force_locale("en"):
        parts = migration.parse(
            "Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder = 1. januar 2009, som er Nytårsdag; "
            "flyttet til næste arbejdsdag)",
            date(2009, 1, 2),
        )
        assert describe_proposal(proposal_from_parts(parts, "en")) == (
            "Suggestion: 2 January 2009 (teaching day 2 + 3 months = 1 January 2009, which is New Year's Day; "
            "moved to the next working day)"
        )
    # not the one format: left alone (None), the text stays as written
    for text, on in (
        ("Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder)", date(2009, 1, 3)),  # another day
        ("Forslag: 2. januar 2009 (aftalt med FIC)", date(2009, 1, 2)),
        (
            "Forslag: 5. januar 2009 (undervisningsdag 2 + 3 måneder = 3. januar 2009, som er lørdag; "
            "flyttet til næste arbejdsdag)",
            date(2009, 1, 5),
        ),  # a day left out
        ("Forslag: 2. jannuar 2009 (undervisningsdag 2 + 3 måneder)", date(2009, 1, 2)),
    ):
        assert migration.parse(text, on) is None, text


def test_upgrade_stores_the_follow_up_reason_as_parts_and_keeps_what_it_cannot_read(empty_db_app):
    """4718a6e75e91 on a database: a reason in the rule's format becomes parts (its text cleared); one that is
    not keeps its text and gets no parts; downgrading writes the text back."""
    import json

    from sqlalchemy import text

    upgrade(revision="c3a91d5e7b20")
    moved = (
        "Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder = 1. januar 2009, som er Nytårsdag; "
        "flyttet til næste arbejdsdag)"
    )
    run = text(
        "INSERT INTO course_runs (id, programme_id, provider_id, title, kind, status, capacity, "
        "enrolment_deadline, venue, price_ore, follow_up_proposed_on, follow_up_reason) VALUES (:id, 1, 1, 'R', "
        "'standard', 'draft', 5, '2008-09-01', 'V', 0, :on, :reason)"
    )
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO programmes (id, name, starts_on, ends_on, target_deadline, target_runs, "
                "target_completed_staff) VALUES (1, 'P', '2008-01-01', '2009-12-31', '2009-12-31', 1, 1)"
            )
        )
        conn.execute(text("INSERT INTO providers (id, name) VALUES (1, 'FIC')"))
        conn.execute(
            run,
            [
                {"id": 1, "on": "2009-01-02", "reason": moved},
                {"id": 2, "on": "2009-01-02", "reason": "Aftalt med FIC"},
                {"id": 3, "on": None, "reason": None},
            ],
        )
    upgrade()
    with db.engine.connect() as conn:
        rows = {
            r[0]: (r[1], json.loads(r[2]) if isinstance(r[2], str) else r[2])
            for r in conn.execute(
                text("SELECT id, follow_up_reason, follow_up_reason_parts FROM course_runs ORDER BY id")
            )
        }
    assert rows[1] == (
        None,
        {
            "kind": "teaching_day_2_plus_months",
            "months": 3,
            "day": "2009-01-02",
            "anchor": "2009-01-01",
            "skipped": [{"day": "2009-01-01", "closed": "Nytårsdag"}],
        },
    )
    assert rows[2] == ("Aftalt med FIC", None)
    assert rows[3] == (None, None)
    downgrade(revision="c3a91d5e7b20")
    with db.engine.connect() as conn:
        texts = dict(conn.execute(text("SELECT id, follow_up_reason FROM course_runs ORDER BY id")).all())
    assert texts == {1: moved, 2: "Aftalt med FIC", 3: None}
