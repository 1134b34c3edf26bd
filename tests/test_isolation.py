"""The suite's own isolation (tests/conftest.py): a test's commits are rolled back after it, the code's own
commit, rollback and begin_nested still behave as in production inside the test, a second connection or
thread inside an isolated test fails loudly, a `committing` test's rows are gone afterwards, and config
changes don't outlive the test. On SQLite and on PostgreSQL (TEST_DATABASE_URL).

The pairs (a test that leaves something behind, the next that looks for it) rely on the order within this
file, which both plain pytest and pytest-xdist's `--dist loadfile` keep."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.core.access import AccessLevel
from app.extensions import db
from tests import factories
from tests.conftest import SecondConnection, isolated

EMAIL = "isolation@test.dk"


def users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_a_commit_inside_an_isolated_block_is_gone_after_it(session_app):
    with session_app.app_context(), isolated(session_app):
        factories.make_user(email=EMAIL)
        db.session.commit()
        assert users() == 1
        db.session.remove()
    with session_app.app_context():
        assert users() == 0
        db.session.remove()


def test_a_committed_row_stays_for_the_rest_of_the_test_and_a_rollback_keeps_it(app):
    factories.make_user(email=EMAIL)  # commits
    db.session.add(User(name="Ikke gemt", email="ikke-gemt@test.dk", access_level=AccessLevel.STAFF))
    db.session.flush()
    db.session.rollback()  # back to the last commit, as in production
    assert db.session.scalars(select(User.email)).all() == [EMAIL]


def test_the_next_test_does_not_see_the_row(app):
    assert users() == 0


def test_an_integrity_error_in_begin_nested_leaves_the_rest_usable(app):
    factories.make_user(email=EMAIL)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(User(name="Tvilling", email=EMAIL, access_level=AccessLevel.STAFF))
    factories.make_user(email="naeste@test.dk")
    assert users() == 2


def test_engine_begin_writes_in_the_same_transaction_and_is_rolled_back_too(app):
    with db.engine.begin() as conn:
        conn.execute(User.__table__.insert().values(name="Direkte", email=EMAIL, access_level="staff"))
    assert db.session.scalars(select(User.email)).all() == [EMAIL]


def test_and_that_row_is_gone_as_well(app):
    assert users() == 0


def test_a_second_connection_while_the_session_is_in_a_transaction_fails_loudly(app):
    factories.make_user()
    db.session.add(User(name="Åben", email="aaben@test.dk", access_level=AccessLevel.STAFF))
    db.session.flush()  # the session's transaction (a savepoint) is open
    with pytest.raises(SecondConnection, match="committing"):
        db.engine.connect()


def test_another_thread_on_the_database_fails_loudly(app):
    errors: list[BaseException] = []

    def other_thread():
        with app.app_context():
            try:
                users()
            except BaseException as error:
                errors.append(error)
            finally:
                db.session.remove()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], SecondConnection), errors


@pytest.mark.committing
def test_a_committing_test_commits_for_real(app):
    factories.make_user(email=EMAIL)
    with db.engine.connect() as other:  # a connection of its own (on in-memory SQLite the pool's only one)
        assert other.scalar(select(func.count()).select_from(User).where(User.email == EMAIL)) == 1


def test_after_a_committing_test_every_table_is_empty(app):
    for table in db.metadata.sorted_tables:
        assert db.session.scalar(select(func.count()).select_from(table)) == 0, table.name


def test_a_config_change_is_made(app):
    app.config["MUNICIPALITY_NAME"] = "Testkommune"
    app.config["REMINDER_DAYS"] = (3,)


def test_and_is_gone_in_the_next_test(app):
    assert app.config["MUNICIPALITY_NAME"] != "Testkommune"
    assert app.config["REMINDER_DAYS"] != (3,)
