"""Benchmark: `programme_figures()` and the programme dashboard / evaluation report for a large programme.

Not a test: a tool to answer "how long do the dashboard and the report take for 100 runs and 3,000 enrolments,
and how many SQL statements do they send?".

    .venv/bin/python bench/dashboard.py                              # 100 runs x 30 = 3,000 enrolments, SQLite
    .venv/bin/python bench/dashboard.py --runs 20 --per-run 10       # a quick look
    .venv/bin/python bench/dashboard.py --database-url postgresql://postgres@127.0.0.1:54329/kp_bench_dashboard

Setup (not measured): a fresh schema, a coordinator, two providers with allocations for 2008 and 2009, six staff
roles and units, N runs (every fifth still published, one in ten cancelled), each with P confirmed participants
(distinct people in 9 of 10 places, so some people complete two runs) marked present on every day but one in ten
absent from the follow-up day; all inserted in bulk. Measured: `programme_figures()` called directly, and the real
GET requests (dashboard, report.pdf, report.xlsx) through the test client as the coordinator, each repeated
`--repeat` times (median and fastest), with the SQL statements of one call counted. PostgreSQL databases must be
named `kp_bench…` or `kp_test…` (the script empties them); the database is created if it does not exist.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

from _common import database_url, prepare_postgres

PASSWORD = "bench-password"  # noqa: S105 (a throwaway database)


def build_app(url: str):
    from app import create_app
    from config import TestingConfig

    class BenchConfig(TestingConfig):
        ENV_NAME = "bench"
        TESTING = False
        SQLALCHEMY_DATABASE_URI = database_url(url)
        WTF_CSRF_ENABLED = False
        SCHEDULER = "off"

    return create_app(BenchConfig)


def create_data(runs: int, per_run: int) -> int:
    """The setup, committed, in bulk. Returns the programme's id."""
    from sqlalchemy import insert
    from werkzeug.security import generate_password_hash

    from app.accounts.models import StaffRole, Unit, User
    from app.core.access import AccessLevel
    from app.courses.models import CourseDay, CourseRun, DayKind, RunKind, RunStatus
    from app.enrolment.models import Attendance, Enrolment, EnrolmentStatus
    from app.extensions import db
    from app.programmes.models import BudgetAllocation, Programme
    from app.providers.models import Provider

    coordinator = User(
        email="koordinator@bench.test",
        name="Koordinator",
        access_level=AccessLevel.COORDINATOR,
        password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
    )
    providers = [Provider(name="Familien i Centrum"), Provider(name="Vilde Læreprocesser")]
    roles = [StaffRole(name=f"Rolle {i}") for i in range(6)]
    units = [Unit(name=f"Enhed {i}") for i in range(6)]
    programme = Programme(
        name="Bench-indsats",
        starts_on=date(2008, 1, 1),
        ends_on=date(2009, 12, 31),
        target_deadline=date(2009, 12, 31),
        target_runs=runs,
        target_completed_staff=runs * per_run,
    )
    db.session.add_all([coordinator, programme, *providers, *roles, *units])
    db.session.flush()
    db.session.add_all(
        [
            BudgetAllocation(programme_id=programme.id, provider_id=p.id, year=y, amount_ore=50_000_000)
            for p in providers
            for y in (2008, 2009)
        ]
    )
    people = int(runs * per_run * 0.9) or 1
    first_user = coordinator.id + 1
    db.session.execute(
        insert(User),
        [
            {
                "id": first_user + i,
                "email": f"m{i:05d}@bench.test",
                "name": f"Medarbejder {i:05d}",
                "access_level": AccessLevel.STAFF,
                "active": True,
                "staff_role_id": roles[i % 6].id,
                "unit_id": units[i % 6].id,
            }
            for i in range(people)
        ],
    )
    when = datetime(2008, 1, 1, 8, tzinfo=UTC)
    run_rows, day_rows, enrolment_rows, attendance_rows = [], [], [], []
    day_id = enrolment_id = 1
    for r in range(runs):
        start = date(2008, 2, 5) + timedelta(days=7 * (r % 70))
        days = (start, start + timedelta(days=1), start + timedelta(days=92))
        status = RunStatus.CANCELLED if r % 10 == 9 else RunStatus.PUBLISHED if r % 5 == 4 else RunStatus.COMPLETED
        run_rows.append(
            {
                "id": r + 1,
                "programme_id": programme.id,
                "provider_id": providers[r % 2].id,
                "title": f"Hold {r + 1}",
                "kind": RunKind.STANDARD,
                "status": status,
                "capacity": per_run,
                "enrolment_deadline": start,
                "first_day": start,
                "venue": "Valby",
                "price_ore": 2_000_000,
                "seats_taken": per_run,
                "queue_counter": 0,
                "requires_approval": False,
                "created_at": when,
                "updated_at": when,
            }
        )
        ids = []
        for position, (day, kind) in enumerate(
            zip(days, (DayKind.TEACHING, DayKind.TEACHING, DayKind.FOLLOW_UP), strict=True), 1
        ):
            day_rows.append(
                {
                    "id": day_id,
                    "course_run_id": r + 1,
                    "kind": kind,
                    "position": position,
                    "day": day,
                    "starts_at": clock_time(9),
                    "ends_at": clock_time(15, 30),
                    "ical_uid": f"b{day_id}",
                    "sequence": 0,
                }
            )
            ids.append(day_id)
            day_id += 1
        for p in range(per_run):
            user = first_user + (r * per_run + p) % people
            enrolment_rows.append(
                {
                    "id": enrolment_id,
                    "course_run_id": r + 1,
                    "user_id": user,
                    "status": EnrolmentStatus.CONFIRMED,
                    "created_at": when,
                    "updated_at": when,
                    "status_changed_at": when,
                }
            )
            for position, d in enumerate(ids, 1):
                attendance_rows.append(
                    {
                        "enrolment_id": enrolment_id,
                        "course_day_id": d,
                        "recorded_at": when,
                        "present": not (position == 3 and p % 10 == 0),
                    }
                )
            enrolment_id += 1
    db.session.execute(insert(CourseRun), run_rows)
    db.session.execute(insert(CourseDay), day_rows)
    db.session.execute(insert(Enrolment), enrolment_rows)
    db.session.execute(insert(Attendance), attendance_rows)
    db.session.commit()
    return programme.id


def measure(engine, fn, repeat: int) -> tuple[float, float, int]:
    """(median s, fastest s, statements of one call)."""
    from sqlalchemy import event

    statements = []

    def record(*args):
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), len(statements)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--per-run", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        prepare_postgres(url)
        app = build_app(url)
        from app.core import clock
        from app.extensions import db
        from app.programmes.dashboard import programme_figures

        with app.app_context():
            db.drop_all()
            db.create_all()
            programme_id = create_data(args.runs, args.per_run)
            engine = db.engine
            today = clock.today()
            f = programme_figures(programme_id, today)
            print(
                f"{args.runs} runs, {args.runs * args.per_run} enrolments on {engine.dialect.name}: "
                f"{f.activity.completed} runs and {f.result.completed} people completed"
            )
            db.session.remove()
        # Each request and each call in its own app context, as in production (nothing cached in between).
        client = app.test_client()
        client.post("/login", data={"email": "koordinator@bench.test", "password": PASSWORD})

        def figures():
            with app.app_context():
                programme_figures(programme_id, today)
                db.session.remove()

        def get(path):
            def call():
                response = client.get(f"/programmes/{programme_id}/{path}")
                assert response.status_code == 200, (path, response.status_code)
                response.get_data()

            return call

        print(f"{'what':<22}{'median ms':>12}{'fastest ms':>12}{'statements':>12}")
        for label, fn in (
            ("programme_figures()", figures),
            ("GET dashboard", get("dashboard")),
            ("GET report.pdf", get("report.pdf")),
            ("GET report.xlsx", get("report.xlsx")),
        ):
            median, fastest, statements = measure(engine, fn, args.repeat)
            print(f"{label:<22}{median * 1000:>12.1f}{fastest * 1000:>12.1f}{statements:>12}")
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


if __name__ == "__main__":
    main()
