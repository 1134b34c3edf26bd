"""Query budgets: each main page and export costs the same number of SQL statements for 1, 10 and 100
rows, and at most BUDGET — so no page does a query per row (issue 9; no timings in the test suite)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy.orm import selectinload

from app.accounts.models import StaffRole, User
from app.courses.models import CourseRun, Method
from app.enrolment.models import Enrolment
from app.extensions import db
from app.programmes.models import Programme
from app.providers.models import Provider
from tests import factories
from tests.querycount import LazyLoad, assert_rows, lazy_loads_raise, statements_and_body_for_get

SIZES = (1, 10, 100)
#: Issue 9's target for every page and export, with lazy loading refused (tests/querycount.py).
BUDGET = 10
#: A page that shows people logs the read (issue 20): besides its audit entry, one bulk INSERT naming every
#: person shown (app.audit.services.add_shown), the same one statement for 1 or 2,000 people.
READ_LOGGED = BUDGET + 1
#: Run dates after the tests' frozen clock (tests/clock.py): the staff list shows only runs still open.
FUTURE = (date(2027, 3, 1), date(2027, 3, 2), date(2027, 6, 1))
#: The lists are paged (RUNS_PER_PAGE, USERS_PER_PAGE: 25): a page shows at least this many of the rows.
PAGE_ROWS = 20
#: A grown row as the pages show it: tests/factories.py names runs "Kursusforløb <n>", people "Bruger <n>".
RUN_ROW = r"Kursusforløb \d+"
PERSON_ROW = r"Bruger \d+"
#: The spreadsheet and the PDF are compressed: their rows are read back in tests/reporting, not here.
EXPORT_ROWS = {"csv": PERSON_ROW, "xlsx": None, "pdf": None}


def assert_constant(
    client, url: str, grow: Callable[[int], None], rows: str | None, budget: int = BUDGET
) -> dict[int, int]:
    """Grow the data to each size in SIZES, count the statements of GET `url` at each (any lazy load
    fails the request), and check them against BUDGET. `rows`: a regular expression matching each grown
    row in the body; the page must show at least as many as were added (up to a page of PAGE_ROWS), so
    the count is never taken of an empty list. None only where the body shows no row as such."""
    counts: dict[int, int] = {}
    have = 0
    for size in SIZES:
        grow(size - have)
        have = size
        statements, body = statements_and_body_for_get(client, url)
        counts[size] = len(statements)
        if rows is not None:
            assert_rows(body, rows, min(size, PAGE_ROWS), where=f"{url} with {size} row(s)")
    assert len(set(counts.values())) == 1, f"{url}: statements grow with the rows: {counts}"
    assert counts[SIZES[0]] <= budget, f"{url}: {counts[SIZES[0]]} statements, budget {budget}"
    return counts


@pytest.fixture
def scene(app):
    """A programme, a provider, a staff role and method, and a run with eligible staff to enrol."""
    role, method = factories.make_staff_role(), factories.make_method()
    programme, provider = factories.make_programme(), factories.make_provider()
    run = factories.make_course_run(
        programme, provider, days=FUTURE, capacity=500, eligible_roles=[role], methods=[method]
    )
    return {"role": role.id, "method": method.id, "programme": programme.id, "provider": provider.id, "run": run.id}


def add_participants(scene: dict) -> Callable[[int], None]:
    def grow(k: int) -> None:
        run = db.session.get(CourseRun, scene["run"])
        for user in factories.make_eligible_staff(run, k):
            factories.make_enrolment(run, user, note="Vegetar")
        db.session.commit()

    return grow


def add_runs(scene: dict) -> Callable[[int], None]:
    def grow(k: int) -> None:
        programme = db.session.get(Programme, scene["programme"])
        provider = db.session.get(Provider, scene["provider"])
        role = db.session.get(StaffRole, scene["role"])
        method = db.session.get(Method, scene["method"])
        for _ in range(k):
            factories.make_course_run(programme, provider, days=FUTURE, eligible_roles=[role], methods=[method])

    return grow


def test_staff_run_list(client, login_as, scene):
    role = db.session.get(StaffRole, scene["role"])
    login_as(factories.make_user(access_level="staff", staff_role=role))
    # Issue 22: provider and programme joined into the runs' select. Each grow changes the filter choices, so
    # every request here computes them (one statement fewer again while they are unchanged: tests/courses/
    # test_run_list_choices_cache.py).
    assert_constant(client, "/runs", add_runs(scene), RUN_ROW, BUDGET - 2)


def test_coordinator_run_list(client, login_as, coordinator, scene):
    login_as(coordinator)
    assert_constant(client, "/runs", add_runs(scene), RUN_ROW, BUDGET - 3)


def test_coordinator_run_page_with_participants(client, login_as, coordinator, scene):
    login_as(coordinator)
    assert_constant(client, f"/runs/{scene['run']}", add_participants(scene), PERSON_ROW, READ_LOGGED)


def test_staff_run_page_with_participants(client, login_as, scene):
    """The run page as a staff member who may enrol (the enrol form, overlaps and seats are worked out)."""
    role = db.session.get(StaffRole, scene["role"])
    login_as(factories.make_user(access_level="staff", staff_role=role))
    # A staff member sees no other participant, only the seats left: the page must still offer the enrol form.
    assert_constant(client, f"/runs/{scene['run']}", add_participants(scene), None)
    assert_rows(client.get(f"/runs/{scene['run']}").get_data(), r'action="/runs/\d+/enrol"', 1)


def test_provider_run_page_with_participants(client, login_as, scene):
    provider = db.session.get(Provider, scene["provider"])
    login_as(factories.make_user(access_level="provider", provider=provider))
    assert_constant(client, f"/runs/{scene['run']}", add_participants(scene), PERSON_ROW, READ_LOGGED)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
def test_participant_exports(client, login_as, coordinator, scene, fmt, caplog):
    caplog.set_level(logging.INFO)  # the download's log line must not read anything from the database
    login_as(coordinator)
    url = f"/runs/{scene['run']}/participants.{fmt}"
    assert_constant(client, url, add_participants(scene), EXPORT_ROWS[fmt], READ_LOGGED)
    assert any(f"downloaded as {fmt}" in r.getMessage() for r in caplog.records)


def test_my_courses(client, login_as, scene):
    role = db.session.get(StaffRole, scene["role"])
    me = login_as(factories.make_user(access_level="staff", staff_role=role))
    me_id = me.id

    def grow(k: int) -> None:
        add_runs(scene)(k)
        user = db.session.get(User, me_id)
        enrolled = {e.course_run_id for e in db.session.scalars(db.select(Enrolment).filter_by(user_id=me_id))}
        for run in db.session.scalars(db.select(CourseRun).where(CourseRun.id.not_in(enrolled))):
            factories.make_enrolment(run, user)
        db.session.commit()

    # Issue 22: the run and its provider joined into the enrolments' select (two statements fewer).
    assert_constant(client, "/me/courses", grow, RUN_ROW, BUDGET - 4)


def test_user_list(client, login_as, coordinator, scene):
    login_as(coordinator)
    role = db.session.get(StaffRole, scene["role"])
    unit = factories.make_unit()
    role_id, unit_id = role.id, unit.id

    def grow(k: int) -> None:
        for _ in range(k):
            factories.make_user(access_level="staff", staff_role_id=role_id, unit_id=unit_id)

    assert_constant(client, "/users", grow, PERSON_ROW, READ_LOGGED)


def test_programme_dashboard(client, login_as, coordinator, scene):
    login_as(coordinator)
    add_participants(scene)(5)
    # Issue 22: the feedback's earlier-involvement and method answers come in one statement.
    assert_constant(client, f"/programmes/{scene['programme']}/dashboard", add_runs(scene), RUN_ROW, BUDGET - 1)


def test_lazy_loads_raise_inside_a_budgeted_request(app, scene):
    """The guard itself: a lazy load needing SQL inside the block raises; the same access served by an
    explicit eager load does not."""
    db.session.commit()
    db.session.expunge_all()
    with lazy_loads_raise():
        run = db.session.get(CourseRun, scene["run"])
        with pytest.raises(LazyLoad, match="lazy load from CourseRun"):
            _ = run.days
    db.session.expunge_all()
    with lazy_loads_raise():
        run = db.session.get(CourseRun, scene["run"], options=[selectinload(CourseRun.days)])
        assert len(run.days) == 3


def test_run_page_sends_the_same_statements_for_any_number_of_participants(client, login_as, coordinator, scene):
    """Not only as many statements: the same statements, so SQLAlchemy compiles each once per worker and the
    database can keep it prepared. The read log's subjects (one per person shown) are inserted as parameter
    sets of one statement, not as a statement with a VALUES tuple per person (issue 22)."""
    login_as(coordinator)
    grow = add_participants(scene)
    texts = {}
    for size, more in ((1, 1), (100, 99)):
        grow(more)
        statements, _body = statements_and_body_for_get(client, f"/runs/{scene['run']}")
        texts[size] = statements
    assert texts[1] == texts[100]
