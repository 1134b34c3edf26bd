"""Capacity under concurrency through the real HTTP stack: a real server on loopback, 50 logged-in staff
members posting their enrolment at the same moment at a run with 10 seats, three rounds. Every round:
exactly 10 confirmed, 40 on the waiting list with positions 1-40 in arrival order, and no 5xx at all
(a 503 "try again" is a failure here too: with the default lock timeout nobody should wait that long).
Then, on the last round's full run, 5 confirmed and 5 waiting cancel while 10 newcomers enrol, all at
once: still never over capacity, the freed seats go to the head of the queue, nobody is skipped.

- threaded server: werkzeug's threaded server in this process, on the suite's database (a SQLite file;
  PostgreSQL in the TEST_DATABASE_URL pass);
- gunicorn: 4 worker processes on PostgreSQL (the one that counts: SQLite passing proves nothing about
  PostgreSQL's row locks), on a database of its own next to TEST_DATABASE_URL's.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.accounts.models import StaffRole
from app.courses.models import CourseRun
from app.extensions import db
from tests import factories
from tests.concurrency.harness import (
    WAIT,
    Browser,
    Response,
    RunState,
    assert_run_invariants,
    create_schema,
    database_app,
    drop_schema,
    gunicorn_server,
    release_together,
    run_state,
    separate_postgres_database,
    threaded_server,
)

pytestmark = pytest.mark.concurrency

STAFF = 50
CAPACITY = 10
ROUNDS = 3
NEWCOMERS = 10  # enrol while others cancel, after the rounds
#: What a browser may get back from an enrolment: the redirect after success, a page, "already enrolled".
FINE = {200, 302, 303, 409}
#: gunicorn's worker processes need a database server they can all reach: PostgreSQL.
postgres_only = pytest.mark.postgres_only(reason="several gunicorn worker processes on one database server")


@dataclass
class Cast:
    role_id: int
    staff: list[tuple[int, str]]  # (user id, email), all holding the role


def cast(n: int) -> Cast:
    """`n` staff members with one staff role (in the caller's app context; leaves no transaction open)."""
    role = factories.make_staff_role()
    users = [factories.make_user(staff_role=role) for _ in range(n)]
    result = Cast(role.id, [(u.id, u.email) for u in users])
    db.session.close()
    return result


def new_run(role_id: int) -> int:
    """A published run with 10 seats open to the role, its days and deadline ahead of the real today."""
    today = date.today()
    first = today + timedelta(days=45)
    run = factories.make_course_run(
        days=(first, first + timedelta(days=1), first + timedelta(days=100)),
        capacity=CAPACITY,
        enrolment_deadline=today + timedelta(days=30),
    )
    run.eligible_roles.append(db.session.get(StaffRole, role_id))
    db.session.commit()
    run_id = run.id
    db.session.close()  # on SQLite an open transaction would hold the write lock
    return run_id


def in_parallel(fn: Callable, items: Iterable) -> list:
    """Preparation (log-ins, reading forms) in a few threads: quicker, and not the race being tested."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(fn, items))


def answers_check(round_name: str, answers: list) -> None:
    """Every answer is a response a browser can live with: no 5xx (not even 503), no error."""
    statuses = Counter(a.status if isinstance(a, Response) else repr(a) for a in answers)
    bad = [a for a in answers if not isinstance(a, Response) or a.status not in FINE]
    assert not bad, f"{round_name}: answers {dict(statuses)}; first bad one: " + (
        f"{bad[0].status} {bad[0].text[:2000]}" if isinstance(bad[0], Response) else repr(bad[0])
    )


def all_at_once(posts: list[tuple[Browser, str, list]]) -> list:
    """Each browser posts its form at the same moment (released by a barrier); returns the answers."""

    def post(browser: Browser, action: str, fields: list):
        def task(barrier):
            barrier.wait(WAIT)
            return browser.post(action, fields)

        return task

    return release_together([post(*p) for p in posts])


def enrolment_rounds(host: str, port: int, people: Cast) -> None:
    """Three rounds of 50 enrolling at once, then a race of cancellations against new enrolments."""

    def log_in(person: tuple[int, str]) -> Browser:
        browser = Browser(host, port)
        browser.login(person[1], factories.PASSWORD)
        return browser

    everybody = dict(zip((user_id for user_id, _ in people.staff), in_parallel(log_in, people.staff), strict=True))
    racers = dict(list(everybody.items())[:STAFF])
    newcomers = dict(list(everybody.items())[STAFF:])
    for round_no in range(1, ROUNDS + 1):
        run_id = new_run(people.role_id)
        page, action = f"/runs/{run_id}", f"/runs/{run_id}/enrol"
        forms = in_parallel(lambda b: b.form(page, action), racers.values())  # noqa: B023 - used at once

        answers = all_at_once([(b, action, f) for b, f in zip(racers.values(), forms, strict=True)])

        answers_check(f"round {round_no}", answers)
        state = run_state(run_id)
        assert_run_invariants(state, confirmed=CAPACITY, waiting=STAFF - CAPACITY)
        assert sorted(state.confirmed_users + state.waiting_users) == sorted(racers), f"round {round_no}"
        assert [e.queue_number for e in state.waitlisted] == list(range(1, STAFF - CAPACITY + 1))
        # Arrival order (enrolment ids are drawn while the run's lock is held) decides seats and queue.
        assert max(e.id for e in state.confirmed) < min(e.id for e in state.waitlisted), f"round {round_no}"
        assert [e.id for e in state.waitlisted] == sorted(e.id for e in state.waitlisted), f"round {round_no}"
        db.session.close()
    cancellation_race(run_id, state, racers, newcomers)


def cancellation_race(run_id: int, before: RunState, racers: dict[int, Browser], newcomers: dict[int, Browser]):
    """On the full run of the last round: 5 confirmed and the last 5 on the waiting list cancel while
    10 newcomers enrol, all at once. The 5 freed seats go to the first 5 on the waiting list (nobody
    skipped, no newcomer first), the newcomers queue behind the rest, positions stay gapless."""
    page, enrol, cancel = f"/runs/{run_id}", f"/runs/{run_id}/enrol", f"/runs/{run_id}/cancel"
    leaving = before.confirmed_users[:5] + before.waiting_users[-5:]
    posts = [(racers[u], cancel) for u in leaving] + [(b, enrol) for b in newcomers.values()]
    forms = in_parallel(lambda p: p[0].form(page, p[1]), posts)

    answers = all_at_once([(b, action, f) for (b, action), f in zip(posts, forms, strict=True)])

    answers_check("cancellations and enrolments", answers)
    state = run_state(run_id)
    # 40 waiting - 5 promoted - 5 who left the queue + the newcomers.
    assert_run_invariants(state, confirmed=CAPACITY, waiting=STAFF - CAPACITY - 5 - 5 + len(newcomers))
    assert sorted(state.confirmed_users) == sorted(before.confirmed_users[5:] + before.waiting_users[:5])
    assert state.waiting_users[:30] == before.waiting_users[5:35], "the rest of the queue, in its order"
    assert sorted(state.waiting_users[30:]) == sorted(newcomers), "newcomers behind them"
    db.session.close()


def test_fifty_enrolments_at_once_through_a_threaded_server(server_app):
    """werkzeug's threaded server (a thread per request) on the suite's database."""
    people = cast(STAFF + NEWCOMERS)
    with threaded_server(server_app) as (host, port):
        enrolment_rounds(host, port, people)


@pytest.fixture
def http_database():
    """PostgreSQL: an app on database `<TEST_DATABASE_URL's>_http` with a fresh schema, and its URL."""
    url = os.environ.get("TEST_DATABASE_URL") or ""
    assert url.startswith("postgres"), "a test using http_database is marked postgres_only"
    http_url = separate_postgres_database(url, "_http")
    app = database_app(http_url)
    create_schema(app)
    try:
        with app.app_context():
            yield http_url
            db.session.remove()
    finally:
        drop_schema(app)


@contextmanager
def gunicorn_on(database_url: str, tmp_path: Path, workers: int = 4, **settings: str) -> Iterator[tuple[str, int]]:
    """gunicorn serving wsgi:app on `database_url`; its log is printed when the test fails."""
    log = tmp_path / "gunicorn.log"
    env = {
        "KURSUSPORTALEN_CONFIG": "development",  # production insists on HTTPS-only cookies
        "DATABASE_URL": database_url,
        "SECRET_KEY": "concurrency-test-secret-key-not-for-production",
        "SCHEDULER": "off",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        **settings,
    }
    with gunicorn_server(env, log, workers=workers) as address:
        try:
            yield address
        except BaseException:
            print(f"--- gunicorn log ({log}) ---\n{log.read_text(errors='replace') if log.exists() else ''}")
            raise


@postgres_only
def test_fifty_enrolments_at_once_through_gunicorn_on_postgresql(http_database, tmp_path):
    """gunicorn with 4 sync worker processes (separate connections, real row locks), as in production."""
    people = cast(STAFF + NEWCOMERS)
    with gunicorn_on(http_database, tmp_path) as (host, port):
        enrolment_rounds(host, port, people)


@postgres_only
def test_a_lock_held_too_long_asks_to_try_again_and_changes_nothing(http_database, tmp_path):
    """The run's row is locked (by another transaction) longer than ENROLMENT_LOCK_TIMEOUT: the enrolment
    gives up after that long and says "try again" (503, never a 500), and enrols nobody; once the lock
    is gone the same form goes through."""
    people = cast(1)
    run_id = new_run(people.role_id)
    ((user_id, email),) = people.staff
    with gunicorn_on(http_database, tmp_path, workers=2, ENROLMENT_LOCK_TIMEOUT="0.5") as (host, port):
        browser = Browser(host, port)
        browser.login(email, factories.PASSWORD)
        page, action = f"/runs/{run_id}", f"/runs/{run_id}/enrol"
        fields = browser.form(page, action)

        holder = database_app(http_database)
        with holder.app_context():
            db.session.execute(select(CourseRun.id).where(CourseRun.id == run_id).with_for_update())
            answer = browser.post(action, fields)
            db.session.rollback()
            holder_engine = db.engine
        holder_engine.dispose()

        if answer.status in (302, 303):  # a view may flash the message and redirect to the run page
            answer = browser.get(answer.location)
        else:
            assert answer.status == 503, f"{answer.status}: {answer.text[:2000]}"
        assert "prøv igen" in answer.text.lower()
        assert run_state(run_id).active_per_user == {}

        again = browser.post(action, fields)
        assert again.status in (302, 303), again.status
        state = run_state(run_id)
        assert state.confirmed_users == [user_id] and state.seats_taken == 1
