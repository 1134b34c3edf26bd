"""Benchmark: the participant-list exports (CSV, XLSX, PDF sign-in sheet) for 100, 1,000 and 10,000 participants.

Not a test: a tool to answer "how long does a download take, how much memory, and does it grow linearly?".

    .venv/bin/python bench/exports.py                                 # 100, 1,000, 10,000 on SQLite files
    .venv/bin/python bench/exports.py --sizes 100,1000                # a quick look
    .venv/bin/python bench/exports.py --database-url postgresql://postgres@127.0.0.1:54329/kp_bench_exports

What it does, for each size N and each format, in a fresh child process (so that its peak RSS, ru_maxrss,
which never goes down, belongs to that one measurement):

1. *Setup* (not measured): a fresh schema (`drop_all()`/`create_all()`), a coordinator, a provider, a
   published run with three course days, and N confirmed participants (plus N/10 on the waiting list and
   N/20 cancelled), with attendance registered for every confirmed participant on every day (3N rows), a
   note on every tenth; all inserted in bulk.
2. *Measure*: the real request, `GET /runs/<id>/participants.<fmt>` through Flask's test client as the logged-
   in coordinator: access check, the export's queries, the file, the download-log row and its commit, and
   reading the whole body. Repeated `--repeat` times (default 3); the table shows the median and the
   fastest. The SQL statements of one request are counted. One further request runs under tracemalloc for
   the Python-heap peak of the call; the child's ru_maxrss is taken after setup and after the requests.

With --national, one database holds the national data set of `flask demo scale` (app.demo_scale.generate,
made once by the parent; --national-scale shrinks it, --reuse keeps one already there), each child adds its
own run with its N participants next to it, measures, and deletes that run and its rows again.

The cost per participant (µs) is printed for each size so linear growth can be read off directly. Progress goes
to stderr, the table to stdout; `--json` also prints the results as one JSON line. PostgreSQL databases must be
named `kp_bench…` or `kp_test…` (the script empties them); the database is created if it does not exist. The
script puts the repository root on sys.path itself: run it with the project's interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime
from datetime import time as clock_time
from importlib import metadata
from pathlib import Path

from _common import (
    build_national,
    database_url,
    describe_national,
    national_counts,
    national_present,
    peak_rss_mib,
    prepare_postgres,
)

#: PostgreSQL databases this script may empty (drop_all): a typo must not wipe a real database.
FORMATS = ("csv", "xlsx", "pdf")
DEFAULT_SIZES = (100, 1_000, 10_000)
PASSWORD = "bench-password"  # noqa: S105 (a throwaway database)


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def build_app(url: str):
    from app import create_app
    from config import TestingConfig

    class BenchConfig(TestingConfig):
        ENV_NAME = "bench"
        TESTING = False
        SQLALCHEMY_DATABASE_URI = url
        WTF_CSRF_ENABLED = False  # the bench logs in with a plain POST
        SCHEDULER = "off"

    return create_app(BenchConfig)


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


def create_data(n: int, tag: str, national: bool) -> int:
    """The setup, committed, in bulk. Returns the run's id.

    Everything this adds is named with `tag` (the coordinator's and participants' addresses, the programme,
    the provider), so several measurements can add their runs to one database. On an otherwise empty
    database it makes its own staff roles and units; with `national` it uses the data set's (the reference
    roles and the municipalities' units)."""
    from sqlalchemy import insert, select
    from werkzeug.security import generate_password_hash

    from app.accounts.models import StaffRole, Unit, User
    from app.core.access import AccessLevel
    from app.courses.models import CourseDay, CourseRun, DayKind, RunStatus
    from app.enrolment.models import Attendance, Enrolment, EnrolmentStatus
    from app.extensions import db
    from app.programmes.models import Programme
    from app.providers.models import Provider

    if national:
        roles = list(db.session.scalars(select(StaffRole).order_by(StaffRole.id).limit(5)))
        units = list(db.session.scalars(select(Unit).where(Unit.parent_id.is_not(None)).order_by(Unit.id).limit(7)))
    else:
        roles = [
            StaffRole(name=name)
            for name in (
                "Sagsbehandler",
                "Ungemedarbejder",
                "Hjemmevejleder",
                "Fuldtidsansat kontaktperson",
                "Socialrådgiver på skole",
            )
        ]
        units = [
            Unit(name=f"Socialcenter {area} – Børne- og Familieteam")
            for area in (
                "Amager",
                "Indre By/Østerbro",
                "Nørrebro",
                "Bispebjerg",
                "Vesterbro/Kgs. Enghave",
                "Valby",
                "Vanløse/Brønshøj",
            )
        ]
        db.session.add_all([*roles, *units])
    provider = Provider(name=f"Familien i Centrum ({tag})")
    programme = Programme(
        name=f"Styrket forældreansvar ({tag})",
        starts_on=date(2026, 1, 1),
        ends_on=date(2027, 12, 31),
        target_deadline=date(2027, 12, 31),
        target_runs=5,
        target_completed_staff=100,
    )
    db.session.add_all([provider, programme])
    db.session.flush()
    coordinator = User(
        email=f"koordinator-{tag}@bench.invalid",
        name="Karin Koordinator",
        access_level=AccessLevel.COORDINATOR,
        password_hash=generate_password_hash(PASSWORD),
    )
    run = CourseRun(
        programme=programme,
        provider=provider,
        title=f"Familierådslagning – hold {tag}",
        status=RunStatus.PUBLISHED,
        capacity=max(n, 1),
        enrolment_deadline=date(2026, 4, 1),
        venue="Kursuscenter Valby, Valby Langgade 1",
        seats_taken=n,
    )
    for position, (day, kind) in enumerate(
        (
            (date(2026, 4, 14), DayKind.TEACHING),
            (date(2026, 4, 15), DayKind.TEACHING),
            (date(2026, 7, 15), DayKind.FOLLOW_UP),
        ),
        1,
    ):
        run.days.append(
            CourseDay(kind=kind, position=position, day=day, starts_at=clock_time(9), ends_at=clock_time(15, 30))
        )
    db.session.add_all([coordinator, run])
    db.session.flush()

    def insert_ids(model, rows: list[dict]) -> list[int]:
        ids: list[int] = []
        for start in range(0, len(rows), 5000):
            ids.extend(
                db.session.scalars(
                    insert(model).returning(model.id, sort_by_parameter_order=True), rows[start : start + 5000]
                )
            )
        return ids

    waiting, cancelled = n // 10, n // 20
    total = n + waiting + cancelled
    user_ids = insert_ids(
        User,
        [
            {
                "email": f"deltager{i:06d}-{tag}@bench.invalid",
                "name": f"{('Åse', 'Bjørn', 'Søren', 'Mette', 'Ærøskøbing-Jensen')[i % 5]} Deltager {i:06d}",
                "access_level": AccessLevel.STAFF,
                "active": True,
                "staff_role_id": roles[i % len(roles)].id,
                "unit_id": units[i % len(units)].id,
            }
            for i in range(total)
        ],
    )
    when = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    enrolments = []
    for i in range(total):
        status = (
            EnrolmentStatus.CONFIRMED
            if i < n
            else EnrolmentStatus.WAITLISTED
            if i < n + waiting
            else EnrolmentStatus.CANCELLED
        )
        enrolments.append(
            {
                "course_run_id": run.id,
                "user_id": user_ids[i],
                "status": status,
                "queue_number": i - n + 1 if status == EnrolmentStatus.WAITLISTED else None,
                "note": "Vegetar; kørestolsbruger" if i % 10 == 0 else None,
                "created_at": when,
                "updated_at": when,
                "status_changed_at": when,
            }
        )
    enrolment_ids = insert_ids(Enrolment, enrolments)
    marks = [
        {
            "enrolment_id": enrolment_ids[i],
            "course_day_id": day.id,
            "present": (i + day.position) % 7 != 0,
            "recorded_at": when,
        }
        for day in run.days
        for i in range(n)
    ]
    for start in range(0, len(marks), 5000):
        db.session.execute(insert(Attendance), marks[start : start + 5000])
    run.queue_counter = waiting
    db.session.commit()
    if national and db.engine.dialect.name == "postgresql":
        from sqlalchemy import text

        # The run's rows are a few percent of tables of hundreds of thousands: let the planner know them, as
        # autovacuum would have by the time a coordinator downloads the list.
        tables = ", ".join(model.__tablename__ for model in (User, Enrolment, Attendance))
        db.session.execute(text(f"ANALYZE {tables}"))
        db.session.commit()
    return run.id


def remove_data(run_id: int, tag: str) -> None:
    """Take a measurement's rows out of the shared (--national) database again, so that the next one sees
    the national data set and its own run only: the download-log and audit rows, the run (its days,
    enrolments and attendance go with it, ON DELETE CASCADE), its participants, coordinator, programme and
    provider."""
    from sqlalchemy import delete, or_, select

    from app.accounts.models import User
    from app.audit.models import AuditEntry
    from app.courses.models import CourseRun
    from app.extensions import db
    from app.privacy.models import PersonKey
    from app.programmes.models import Programme
    from app.providers.models import Provider
    from app.reporting.models import ExportDownload

    run = db.session.get(CourseRun, run_id)
    programme_id, provider_id = run.programme_id, run.provider_id
    users = select(User.id).where(User.email.like(f"%-{tag}@bench.invalid")).scalar_subquery()
    db.session.execute(delete(ExportDownload).where(ExportDownload.course_run_id == run_id))
    db.session.execute(delete(AuditEntry).where(or_(AuditEntry.actor_id.in_(users), AuditEntry.subject_id.in_(users))))
    db.session.execute(delete(PersonKey).where(PersonKey.user_id.in_(users)))
    db.session.execute(delete(CourseRun).where(CourseRun.id == run_id))
    db.session.execute(delete(User).where(User.email.like(f"%-{tag}@bench.invalid")))
    db.session.execute(delete(Programme).where(Programme.id == programme_id))
    db.session.execute(delete(Provider).where(Provider.id == provider_id))
    db.session.commit()


# --------------------------------------------------------------------------------------------------
# One measurement (child process)
# --------------------------------------------------------------------------------------------------


def worker(url: str, size: int, fmt: str, repeat: int, national: bool) -> dict:
    from sqlalchemy import event

    from app.extensions import db

    app = build_app(url)
    tag = f"{size}-{fmt}-{os.getpid()}"
    with app.app_context():
        if not national:
            db.drop_all()
            db.create_all()
        started = time.perf_counter()
        run_id = create_data(size, tag, national)
        setup_seconds = time.perf_counter() - started
        db.session.remove()
    rss_after_setup = peak_rss_mib()

    client = app.test_client()
    response = client.post("/login", data={"email": f"koordinator-{tag}@bench.invalid", "password": PASSWORD})
    assert response.status_code == 302, f"login failed: {response.status_code}"
    path = f"/runs/{run_id}/participants.{fmt}"

    statements = []

    def count(*_args) -> None:
        statements.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)

    def fetch() -> bytes:
        response = client.get(path)
        body = response.get_data()
        assert response.status_code == 200, response.status_code
        return body

    body = fetch()  # warm-up (templates, fonts, first connection); also gives the size and statement count
    n_statements = len(statements)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        fetch()
        timings.append(time.perf_counter() - started)
    event.remove(engine, "before_cursor_execute", count)
    rss_after = peak_rss_mib()

    tracemalloc.start()
    fetch()
    _current, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    with app.app_context():
        db.session.remove()
        if national:
            remove_data(run_id, tag)
        else:
            db.drop_all()
        db.engine.dispose()
    return {
        "size": size,
        "format": fmt,
        "setup_seconds": round(setup_seconds, 2),
        "median_seconds": statistics.median(timings),
        "min_seconds": min(timings),
        "statements": n_statements,
        "bytes": len(body),
        "rss_after_setup_mib": round(rss_after_setup, 1),
        "peak_rss_mib": round(rss_after, 1),
        "tracemalloc_peak_mib": round(heap_peak / 2**20, 1),
    }


# --------------------------------------------------------------------------------------------------
# The parent: one child per size and format, then the table
# --------------------------------------------------------------------------------------------------


def run_child(url: str, size: int, fmt: str, repeat: int, national: bool) -> dict:
    args = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--database-url",
        url,
        "--sizes",
        str(size),
        "--formats",
        fmt,
        "--repeat",
        str(repeat),
        *(["--national"] if national else []),
    ]
    done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603 (our own script)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the measurement of {fmt} for {size} participants failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("fpdf2", "openpyxl", "SQLAlchemy", "psycopg", "lxml"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": model,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "packages": versions,
    }


def prepare_national(url: str, scale: float, reuse: bool) -> tuple[dict, float | None]:
    """The parent's setup for --national: an emptied schema with the national data set, made once for all
    the measurements (or kept, with --reuse, if it is there already). Returns the counts and the seconds
    the generation took (None when reused)."""
    from app.extensions import db

    app = build_app(url)
    with app.app_context():
        seconds = None
        if reuse and national_present():
            print("reusing the national data set already in the database", file=sys.stderr, flush=True)
        else:
            db.drop_all()
            db.create_all()
            seconds = build_national(scale)["generate_seconds"]
        counts = national_counts()
        db.engine.dispose()
    return counts, seconds


def print_table(results: list[dict], database: str, info: dict, national: dict | None) -> None:
    print(
        f"Participant-list exports on {database}; {info['cpu']}, {info['nproc']} CPUs, Python {info['python']}, "
        f"load average {' '.join(f'{x:.2f}' for x in info['load_average'])}"
    )
    print(describe_national(national))
    print(
        "Each size N: N confirmed (3 attendance marks each) + N/10 waiting list + N/20 cancelled; the PDF "
        "has 3 sections of N rows."
    )
    header = (
        f"{'format':<6} {'N':>7} {'median s':>9} {'fastest s':>10} {'µs/participant':>15} {'SQL':>4} "
        f"{'file KiB':>9} {'heap peak MiB':>14} {'RSS setup→peak MiB':>19}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        per = r["median_seconds"] / r["size"] * 1e6
        print(
            f"{r['format']:<6} {r['size']:>7,} {r['median_seconds']:>9.3f} {r['min_seconds']:>10.3f} {per:>15.0f} "
            f"{r['statements']:>4} {r['bytes'] / 1024:>9,.0f} {r['tracemalloc_peak_mib']:>14.1f} "
            f"{r['rss_after_setup_mib']:>9.0f}→{r['peak_rss_mib']:<9.0f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(str(s) for s in DEFAULT_SIZES),
        help="comma-separated participant counts (default 100,1000,10000)",
    )
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated: csv,xlsx,pdf")
    parser.add_argument("--repeat", type=int, default=3, help="timed requests per measurement (default 3)")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL (database named kp_bench… or kp_test…); default: a fresh SQLite file per measurement",
    )
    parser.add_argument(
        "--national",
        action="store_true",
        help="measure in a database that also holds the national data set (app.demo_scale), "
        "generated once; each measurement adds its own run and removes it afterwards",
    )
    parser.add_argument(
        "--national-scale",
        type=float,
        default=1.0,
        metavar="FLOAT",
        help="with --national: multiply the data set's staff, runs and enrolments (default 1.0 = "
        "50,000 / 5,000 / 150,000; e.g. 0.02 for a quick look)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --national: keep the data set if the database holds one already (users "
        "@scale.test) instead of emptying it and generating it again",
    )
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    formats = [f for f in args.formats.split(",") if f]
    unknown = set(formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown format(s): {', '.join(sorted(unknown))}")
    if args.national_scale <= 0:
        parser.error("--national-scale must be positive")
    if (args.reuse or args.national_scale != 1.0) and not args.national:
        parser.error("--reuse and --national-scale go with --national")

    if args.worker:
        print(json.dumps(worker(database_url(args.database_url), sizes[0], formats[0], args.repeat, args.national)))
        return 0

    results = []
    national = None
    with tempfile.TemporaryDirectory(prefix="kp-bench-exports-") as tmp:
        if args.national:  # one database for every measurement, the data set made once
            if args.database_url:
                shared_url = database_url(args.database_url)
                prepare_postgres(shared_url)
            else:
                shared_url = f"sqlite:///{Path(tmp) / 'exports-national.db'}"
            national, seconds = prepare_national(shared_url, args.national_scale, args.reuse)
            if seconds is not None:
                print(f"national data set generated in {seconds:,.1f} s", file=sys.stderr, flush=True)
        for size in sizes:
            for fmt in formats:
                if args.national:
                    url = shared_url
                    database = "PostgreSQL" if args.database_url else "SQLite (file)"
                elif args.database_url:
                    url = database_url(args.database_url)
                    prepare_postgres(url)
                    database = "PostgreSQL"
                else:
                    url = f"sqlite:///{Path(tmp) / f'exports-{size}-{fmt}.db'}"
                    database = "SQLite (file)"
                print(f"{fmt} × {size:,} …", file=sys.stderr, flush=True)
                results.append(run_child(url, size, fmt, args.repeat, args.national))
                if not args.database_url and not args.national:
                    Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    info = machine()
    results.sort(key=lambda r: (FORMATS.index(r["format"]), r["size"]))
    print_table(results, database, info, national)
    if args.json:
        print(json.dumps({"database": database, "machine": info, "national": national, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
