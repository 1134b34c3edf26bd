"""Benchmark: queue and deliver the calendar invitations for N participants over real SMTP.

Not a test: a tool to answer "how fast is the outbox, and how much memory does it take?".

    .venv/bin/python bench/invitations.py                       # 10,000 participants, fresh SQLite file
    .venv/bin/python bench/invitations.py --participants 200    # a quick look
    .venv/bin/python bench/invitations.py --database-url postgresql://postgres@127.0.0.1:54329/kp_bench

What it does:

1. *Setup* (not measured as a phase): a fresh schema (`db.create_all()`; an existing database is emptied
   with `drop_all()` first), one coordinator, a staff role, a method, a programme and a provider, and
   ceil(N / --per-run) published course runs (capacity --per-run, three course days each, all in the
   future) made with the courses services, plus N staff users inserted in bulk (one shared password hash).
2. *Queue*: every participant enrols themself through `app.enrolment.services.enrol()`, one committed
   transaction per enrolment as a web request does. The enrolment hook queues one invitation per course day
   (3 per participant) in the outbox.
3. *Deliver*: an aiosmtpd server runs in a separate process (so it does not compete with the sender for the
   GIL) on 127.0.0.1 and a free port, counting messages and bytes; `send_due_notifications(now)` is called
   until nothing is due. The server's count must equal the number of mails queued, or the script says so
   and exits with status 1.

With --national the database first gets the national data set of `flask demo scale`
(app.demo_scale.generate; --national-scale shrinks it, --reuse keeps one already there) and, unless
--no-prefill, one sent invitation per generated enrolment and course day in the outbox and
calendar_invitations, so that queueing and delivery run against full tables (bench/README.md).

Peak memory is the process's `ru_maxrss` after each phase (it never goes down); `--tracemalloc` adds the
Python-heap peak per phase (slower). `--profile DIR` writes a cProfile file per phase and prints the top
functions. The script puts the repository root on sys.path itself: run it with the project's interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import math
import multiprocessing
import os
import platform
import pstats
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path

from _common import (
    PG_PREFIXES,
    build_national,
    database_url,
    describe_national,
    national_counts,
    national_present,
    national_sizes,
    peak_rss_mib,
    prepare_postgres,
)

#: PostgreSQL databases this script may empty (drop_all): a typo must not wipe a real database.
MAILS_PER_PARTICIPANT = 3  # one invitation per course day: two teaching days and the follow-up day


# --------------------------------------------------------------------------------------------------
# The SMTP server, in its own process
# --------------------------------------------------------------------------------------------------


def smtp_server_process(conn) -> None:
    """Child process: an aiosmtpd server on 127.0.0.1, port chosen by the OS and sent back over `conn`.

    It accepts every mail and counts messages, recipients, bytes and connections. Anything arriving on
    `conn` (or the parent going away) stops it; the counts are then sent back over `conn`.
    """
    import asyncio

    from aiosmtpd.smtp import SMTP

    counts = {"messages": 0, "recipients": 0, "bytes": 0, "connections": 0}

    class CountingHandler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
            counts["messages"] += 1
            counts["recipients"] += len(envelope.rcpt_tos)
            counts["bytes"] += len(envelope.original_content or b"")
            return "250 OK"

    handler = CountingHandler()

    def factory() -> SMTP:
        counts["connections"] += 1
        # A fixed hostname: the default (socket.getfqdn()) may wait for DNS on every connection.
        return SMTP(handler, hostname="bench.invalid", ident="kp-bench")

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, "127.0.0.1", 0)
        conn.send(("ready", server.sockets[0].getsockname()[1]))
        stop = asyncio.Event()
        loop.add_reader(conn.fileno(), stop.set)
        await stop.wait()
        loop.remove_reader(conn.fileno())
        server.close()
        await server.wait_closed()

    asyncio.run(serve())
    with contextlib.suppress(EOFError, OSError):
        conn.recv()
        conn.send(("done", counts))


class SmtpServer:
    """The parent's handle on the child process."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited DB connections
        self._conn, child_conn = ctx.Pipe()
        self._process = ctx.Process(target=smtp_server_process, args=(child_conn,), name="kp-bench-smtp", daemon=True)
        self._process.start()
        child_conn.close()
        if not self._conn.poll(30):
            self._process.terminate()
            raise RuntimeError("the SMTP server process did not start within 30 seconds")
        tag, self.port = self._conn.recv()
        assert tag == "ready"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def stop(self) -> dict[str, int]:
        """Stop the server and return its counts."""
        self._conn.send("stop")
        if not self._conn.poll(30):
            self._process.terminate()
            raise RuntimeError("the SMTP server process did not report its counts")
        tag, counts = self._conn.recv()
        assert tag == "done"
        self._process.join(10)
        return counts

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)


# --------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    #: CPU seconds of this process (user + system): wall time minus this is waiting (database, disk, SMTP).
    cpu_seconds: float = 0.0
    items: int = 0
    statements: int = 0
    peak_rss_mib: float = 0.0
    tracemalloc_peak_mib: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


class StatementCounter:
    """Counts the SQL statements the engine executes (one attribute increment per statement)."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.count = 0
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, *_args) -> None:
        self.count += 1


@contextlib.contextmanager
def measured(phase: Phase, counter: StatementCounter, *, use_tracemalloc: bool, profile_dir: Path | None):
    profiler = cProfile.Profile() if profile_dir else None
    if use_tracemalloc:
        tracemalloc.reset_peak()
    statements = counter.count
    cpu_started = cpu_seconds()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    try:
        yield phase
    finally:
        if profiler:
            profiler.disable()
        phase.seconds = time.perf_counter() - started
        phase.cpu_seconds = cpu_seconds() - cpu_started
        phase.statements = counter.count - statements
        phase.peak_rss_mib = peak_rss_mib()
        if use_tracemalloc:
            phase.tracemalloc_peak_mib = tracemalloc.get_traced_memory()[1] / (1024 * 1024)
        if profiler and profile_dir:
            path = profile_dir / f"invitations-{phase.name}.prof"
            profiler.dump_stats(path)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            print(f"\n--- cProfile, phase {phase.name} (top 25 by cumulative time; full: {path}) ---", file=sys.stderr)
            print(out.getvalue(), file=sys.stderr)


def progress(label: str, done: int, total: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    rate = done / elapsed if elapsed else 0.0
    print(f"  {label}: {done:>7}/{total} ({rate:,.0f}/s, {elapsed:,.1f} s)", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Database and app
# --------------------------------------------------------------------------------------------------


def build_app(url: str, smtp_url: str, batch_size: int | None):
    from app import create_app
    from config import TestingConfig

    class BenchConfig(TestingConfig):
        ENV_NAME = "bench"
        TESTING = False
        SQLALCHEMY_DATABASE_URI = url
        SMTP_URL = smtp_url
        SCHEDULER = "off"
        if batch_size:
            MAIL_BATCH_SIZE = batch_size

    return create_app(BenchConfig)


def reset_schema() -> None:
    from app.extensions import db

    db.drop_all()
    db.create_all()


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


def first_weekday_on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def create_data(participants: int, per_run: int, today: date, tag: str) -> tuple[list[int], list[int]]:
    """The setup, committed. Returns (run ids, participant user ids).

    Its names carry `tag` (addresses, programme, provider), so it can be added to a database that holds
    other data (--national, and --reuse of a database an earlier run added to). The staff role and the
    method are taken from the database when it has them (the national data set's reference data does)."""
    from flask import current_app
    from sqlalchemy import insert, select
    from werkzeug.security import generate_password_hash

    from app.accounts.directory.services import create_staff_role
    from app.accounts.models import AccessLevel, StaffRole, User
    from app.courses.models import Method, RunKind
    from app.courses.services import (
        CourseDayData,
        CourseRunData,
        MethodData,
        create_course_run,
        create_method,
        publish_course_run,
    )
    from app.extensions import db
    from app.programmes.services import ProgrammeData, create_programme
    from app.providers.services import ProviderData, create_provider

    password_hash = generate_password_hash("bench-password-not-secret", method="pbkdf2:sha256:1000")
    coordinator = User(
        email=f"koordinator-{tag}@bench.invalid",
        name="Bench Koordinator",
        access_level=AccessLevel.COORDINATOR,
        password_hash=password_hash,
        active=True,
    )
    db.session.add(coordinator)
    db.session.flush()
    role = db.session.scalar(select(StaffRole).where(StaffRole.name == "Sagsbehandler")) or create_staff_role(
        actor=coordinator, name="Sagsbehandler", name_en="Case worker"
    )
    method = db.session.scalar(select(Method).where(Method.name == "Familierådslagning")) or create_method(
        coordinator, MethodData(name="Familierådslagning")
    )
    programme = create_programme(
        ProgrammeData(
            name=f"Bench-indsats {tag}",
            starts_on=today,
            ends_on=today + timedelta(days=730),
            target_deadline=today + timedelta(days=730),
            target_runs=1000,
            target_completed_staff=participants,
        ),
        actor=coordinator,
    )
    provider = create_provider(ProviderData(name=f"Bench-udbyder {tag}"), actor=coordinator)
    db.session.commit()

    months = current_app.config["FOLLOW_UP_OFFSET_MONTHS"]
    n_runs = math.ceil(participants / per_run)
    first_tuesday = first_weekday_on_or_after(today + timedelta(days=28), 1)
    run_ids = []
    for k in range(n_runs):
        # Ten runs a week, each on a Tuesday and the Wednesday after; the follow-up day is the proposal.
        day1 = first_tuesday + timedelta(weeks=k // 10)
        data = CourseRunData(
            programme_id=programme.id,
            provider_id=provider.id,
            title=f"Bench-forløb {tag}/{k + 1}",
            kind=RunKind.STANDARD,
            method_ids=(method.id,),
            staff_role_ids=(role.id,),
            capacity=per_run,
            enrolment_deadline=day1 - timedelta(days=14),
            venue="Kursuscenter Valby",
            price_ore=0,
            teaching_day_1=CourseDayData(day1),
            teaching_day_2=CourseDayData(day1 + timedelta(days=1)),
            follow_up=CourseDayData(None),
        )
        run = create_course_run(coordinator, data, {}, months)  # neither data set has closed days
        publish_course_run(coordinator, run)
        run_ids.append(run.id)
        if k % 50 == 49:
            db.session.commit()
    db.session.commit()

    rows = [
        {
            "email": f"deltager{i:06d}-{tag}@bench.invalid",
            "name": f"Deltager {i}",
            "password_hash": password_hash,
            "access_level": AccessLevel.STAFF,
            "active": True,
            # Every tenth participant has chosen English: both catalogues are exercised.
            "locale": "en" if i % 10 == 0 else None,
            "staff_role_id": role.id,
        }
        for i in range(participants)
    ]
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(User), rows[start : start + 5000])
    db.session.commit()
    user_ids = list(
        db.session.scalars(select(User.id).where(User.email.like(f"deltager%-{tag}@bench.invalid")).order_by(User.id))
    )
    db.session.remove()
    return run_ids, user_ids


def outbox_counts() -> dict[str, int]:
    from app.notifications import outbox

    return {str(status.value): n for status, n in outbox.outbox_counts().items()}


# --------------------------------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------------------------------


def queue_phase(phase: Phase, run_ids: list[int], user_ids: list[int], per_run: int) -> None:
    """Every participant enrols themself, one committed transaction each (as the enrolment view does)."""
    from app.accounts.models import User
    from app.core import clock
    from app.enrolment.services import enrol
    from app.extensions import db

    total = len(user_ids)
    step = max(total // 10, 1)
    started = time.perf_counter()
    for i, user_id in enumerate(user_ids):
        user = db.session.get(User, user_id)  # what Flask-Login's user loader does per request
        now = clock.now()
        enrol(user, run_ids[i // per_run], user, now, now.date())
        db.session.commit()
        db.session.remove()  # the request's teardown
        if (i + 1) % step == 0:
            progress("enrolled", i + 1, total, started)


def deliver_phase(phase: Phase) -> None:
    """Call the delivery job until nothing is due (as the scheduler does every SCHEDULER_DELIVERY_SECONDS)."""
    from app.core import clock
    from app.extensions import db
    from scheduler.jobs import send_due_notifications

    totals = {"sent": 0, "retried": 0, "failed": 0, "calls": 0}
    pending = phase.extra["pending_before"]
    step = max(pending // 10, 1)
    started = time.perf_counter()
    next_report = step
    while True:
        report = send_due_notifications(clock.now())
        db.session.remove()
        totals["calls"] += 1
        totals["sent"] += report.sent
        totals["retried"] += report.retried
        totals["failed"] += report.failed
        if not (report.sent or report.retried or report.failed):
            break
        if totals["sent"] >= next_report:
            progress("delivered", totals["sent"], pending, started)
            next_report += step
    phase.items = totals["sent"]
    phase.extra.update(totals)


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def versions(dialect: str) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("SQLAlchemy", "psycopg", "Flask", "Flask-SQLAlchemy", "aiosmtpd"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    if dialect == "sqlite":
        found["sqlite"] = sqlite3.sqlite_version
    else:
        from sqlalchemy import text

        from app.extensions import db

        found["postgresql"] = db.session.scalar(text("SHOW server_version"))
        db.session.remove()
    return found


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _value in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Queue and deliver calendar invitations for N participants to a local aiosmtpd; "
        "report mails/second and peak memory. The database is emptied first (drop_all/create_all).",
    )
    parser.add_argument(
        "--database-url",
        help="default: a fresh SQLite file in a temporary directory (deleted afterwards); PostgreSQL: e.g. "
        f"postgresql://postgres@127.0.0.1:54329/kp_bench (the name must start with {PG_PREFIXES[0]!r}; the "
        "database is created if missing)",
    )
    parser.add_argument("--participants", type=int, default=10_000, help="staff to enrol (default 10000)")
    parser.add_argument("--per-run", type=int, default=25, help="participants per course run = its capacity (25)")
    parser.add_argument(
        "--batch-size", type=int, help="MAIL_BATCH_SIZE, mails per delivery job run (default: the config's)"
    )
    parser.add_argument(
        "--national",
        action="store_true",
        help="the database also holds the national data set (app.demo_scale: 98 municipalities, "
        "50,000 staff, 5,000 runs, 150,000 enrolments) and, for each of its enrolments and "
        "course days, an invitation already sent (outbox and calendar_invitations rows)",
    )
    parser.add_argument(
        "--national-scale",
        type=float,
        default=1.0,
        metavar="FLOAT",
        help="with --national: multiply staff, runs and enrolments (default 1.0; e.g. 0.02)",
    )
    parser.add_argument(
        "--no-prefill", action="store_true", help="with --national: leave the outbox and calendar_invitations empty"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --national: keep the database if it holds a national data set already (users "
        "@scale.test) instead of emptying it; the run's own data is added next to it",
    )
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also report the Python heap peak per phase (slows everything down)"
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        type=Path,
        help="write a cProfile file per phase into DIR and print the top functions to stderr",
    )
    args = parser.parse_args(argv)
    if args.participants < 1 or args.per_run < 1 or (args.batch_size is not None and args.batch_size < 1):
        parser.error("--participants, --per-run and --batch-size must be positive")
    if args.per_run > 1000:
        parser.error("--per-run: a run's capacity is at most 1000")
    if args.national_scale <= 0:
        parser.error("--national-scale must be positive")
    if (args.reuse or args.no_prefill or args.national_scale != 1.0) and not args.national:
        parser.error("--reuse, --no-prefill and --national-scale go with --national")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmpdir = None
    if args.database_url:
        url = database_url(args.database_url)
    else:
        tmpdir = tempfile.mkdtemp(prefix="kp-bench-")
        url = f"sqlite:///{Path(tmpdir) / 'bench.db'}"
    dialect = "postgresql" if url.startswith("postgresql") else "sqlite" if url.startswith("sqlite") else None
    if dialect is None:
        print(f"unsupported database URL: {url}", file=sys.stderr)
        return 2
    prepare_postgres(url)

    server = SmtpServer()
    try:
        return run(args, url, dialect, server)
    finally:
        server.kill()
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def run(args: argparse.Namespace, url: str, dialect: str, server: SmtpServer) -> int:
    from app.core import clock
    from app.extensions import db

    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    app = build_app(url, server.url, args.batch_size)
    with app.app_context():
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}; SMTP: {server.url}", file=sys.stderr)
        counter = StatementCounter(db.engine)
        national, national_seconds = None, None
        if args.national and args.reuse and national_present():
            print("reusing the national data set already in the database", file=sys.stderr)
        else:
            reset_schema()
            if args.national:
                took = build_national(args.national_scale, prefill_outbox=not args.no_prefill)
                national_seconds = sum(took.values())
        if args.national:
            national = national_counts()
        setup_started = time.perf_counter()
        run_ids, user_ids = create_data(args.participants, args.per_run, clock.today(), tag=f"{os.getpid()}")
        setup_seconds = time.perf_counter() - setup_started
        setup_rss = peak_rss_mib()
        print(f"setup: {len(run_ids)} runs, {len(user_ids)} participants in {setup_seconds:.1f} s", file=sys.stderr)
        before = outbox_counts()  # the national data set's sent mails, or an earlier run's (--reuse)

        if args.tracemalloc:
            tracemalloc.start()
        queue = Phase("queue")
        with measured(queue, counter, use_tracemalloc=args.tracemalloc, profile_dir=args.profile):
            queue_phase(queue, run_ids, user_ids, args.per_run)
        counts = outbox_counts()
        queue.items = counts.get("pending", 0) - before.get("pending", 0)
        expected = MAILS_PER_PARTICIPANT * len(user_ids)

        deliver = Phase("deliver", extra={"pending_before": counts.get("pending", 0)})
        with measured(deliver, counter, use_tracemalloc=args.tracemalloc, profile_dir=args.profile):
            deliver_phase(deliver)
        received = server.stop()
        after = outbox_counts()
        found_versions = versions(dialect)
        batch_size = app.config["MAIL_BATCH_SIZE"]

    problems = []
    if queue.items != expected:
        problems.append(f"{queue.items} mails queued, expected {expected} ({MAILS_PER_PARTICIPANT} per participant)")
    if received["messages"] != queue.items:
        problems.append(f"the SMTP server received {received['messages']} messages, {queue.items} were queued")
    if deliver.items != queue.items:
        problems.append(f"the delivery job reported {deliver.items} sent, {queue.items} were queued")
    sent_now = after.get("sent", 0) - before.get("sent", 0)
    if sent_now != queue.items or after.get("pending") or after.get("failed", 0) != before.get("failed", 0):
        problems.append(f"outbox after delivery: {after} (before the queue phase: {before})")

    n = len(user_ids)
    rows = [
        (
            "data set",
            describe_national(national).removeprefix("national data set: ")
            if national
            else "none: an otherwise empty database",
        ),
    ]
    if national_seconds is not None:
        sizes = national_sizes(args.national_scale)
        rows.append(
            (
                "national setup",
                f"{national_seconds:,.1f} s (--national-scale {args.national_scale:g}: "
                f"{sizes['staff']:,} staff, {sizes['runs']:,} runs, "
                f"{sizes['enrolments']:,} enrolments asked for)",
            )
        )
    rows += [
        ("participants", f"{n:,}"),
        ("course runs", f"{len(run_ids):,} (capacity {args.per_run})"),
        ("setup time", f"{setup_seconds:,.1f} s"),
        ("mails queued", f"{queue.items:,} ({queue.items / n:.2f} per participant)"),
        (
            "queue time",
            f"{queue.seconds:,.1f} s ({queue.seconds / n * 1000:.1f} ms per enrolment; CPU {queue.cpu_seconds:,.1f} s)",
        ),
        ("mails/s queued", f"{queue.per_second:,.0f} ({n / queue.seconds:,.0f} enrolments/s)"),
        ("SQL per enrolment", f"{queue.statements / n:.1f}"),
        (
            "deliver time",
            f"{deliver.seconds:,.1f} s (CPU {deliver.cpu_seconds:,.1f} s; "
            f"{deliver.extra['calls']} job calls, batch {batch_size})",
        ),
        ("mails/s delivered", f"{deliver.per_second:,.0f}"),
        ("SQL per mail sent", f"{deliver.statements / max(deliver.items, 1):.1f}"),
        (
            "server received",
            f"{received['messages']:,} messages, {received['bytes'] / 2**20:,.1f} MiB "
            f"(avg {received['bytes'] / max(received['messages'], 1) / 1024:.1f} KiB), "
            f"{received['connections']} connections",
        ),
        (
            "peak RSS MiB",
            f"setup {setup_rss:,.0f}, after queue {queue.peak_rss_mib:,.0f}, after deliver {deliver.peak_rss_mib:,.0f}",
        ),
    ]
    if args.tracemalloc:
        rows.append(
            (
                "tracemalloc peak MiB",
                f"queue {queue.tracemalloc_peak_mib:,.1f}, deliver {deliver.tracemalloc_peak_mib:,.1f}",
            )
        )
    rows += [
        ("database", f"{dialect} {found_versions.get(dialect, '')}".strip()),
        ("versions", ", ".join(f"{k} {v}" for k, v in found_versions.items() if k != dialect)),
        (
            "machine",
            f"{multiprocessing.cpu_count()} CPUs, {cpu_model()}; load average at the end "
            f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        ),
    ]
    print()
    print_table(rows)
    if problems:
        print("\n*** MISMATCH ***", file=sys.stderr)
        for problem in problems:
            print(f"*** {problem}", file=sys.stderr)
    if args.json:
        result = {
            "participants": n,
            "national": national,
            "national_seconds": national_seconds,
            "runs": len(run_ids),
            "per_run": args.per_run,
            "batch_size": batch_size,
            "database": dialect,
            "setup_seconds": round(setup_seconds, 3),
            "mails_queued": queue.items,
            "queue_seconds": round(queue.seconds, 3),
            "queue_cpu_seconds": round(queue.cpu_seconds, 3),
            "mails_per_second_queued": round(queue.per_second, 1),
            "sql_per_enrolment": round(queue.statements / n, 2),
            "deliver_seconds": round(deliver.seconds, 3),
            "deliver_cpu_seconds": round(deliver.cpu_seconds, 3),
            "mails_per_second_delivered": round(deliver.per_second, 1),
            "sql_per_mail_sent": round(deliver.statements / max(deliver.items, 1), 2),
            "delivery_job_calls": deliver.extra["calls"],
            "server": received,
            "peak_rss_mib": {
                "setup": round(setup_rss, 1),
                "queue": round(queue.peak_rss_mib, 1),
                "deliver": round(deliver.peak_rss_mib, 1),
            },
            "tracemalloc_peak_mib": {"queue": queue.tracemalloc_peak_mib, "deliver": deliver.tracemalloc_peak_mib}
            if args.tracemalloc
            else None,
            "versions": found_versions,
            "cpus": multiprocessing.cpu_count(),
            "cpu_model": cpu_model(),
            "load_average": os.getloadavg(),
            "ok": not problems,
            "problems": problems,
        }
        print(json.dumps(result, sort_keys=True))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
