"""Benchmark: how long an enrolment holds its run's row lock, and 50 enrolments into one 10-seat run at once.

    .venv/bin/python bench/enrolment_lock.py --database-url postgresql://postgres@127.0.0.1:54329/kp_bench_lock

Not a test. PostgreSQL only (on SQLite `BEGIN IMMEDIATE` serialises whole transactions, so there is no row
lock to measure). The database is emptied (`drop_all()`/`create_all()`); its name must start with `kp_bench`
or `kp_test`. Through the real `app.enrolment.services.enrol()` and one commit per enrolment,
as the enrolment POST does (app.core.transaction), without HTTP:

1. *Serial*: `--serial` staff members (default 300) enrol one after another, each in a run with free seats:
   the lock held with nobody waiting. The lock is *held* from the moment the `SELECT ... FOR UPDATE` on
   `course_runs` returns (engine event) until `commit()` returns; *waited* is how long that SELECT took.
2. *Burst*: `--burst` staff members (50) ask to enrol in one run of `--capacity` seats (10) at the same
   moment, served by `--workers` processes (2, like the benchmark's gunicorn: sync workers, one request at a
   time each, their own connection). Each enrolment's latency runs from that moment to its commit.
   Afterwards: confirmed == capacity, seats_taken == capacity (0 overbooked), the rest waitlisted with
   positions 1..n, one outbox row per mail and no dedupe key twice.

`--json` adds one JSON line.
Also printed: the calendar mails rendered while the lock was held (by wrapping the composer), the mails
composed per second by each composition path (same process, same inputs) and the machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime

from _common import database_url, prepare_postgres
from invitations import cpu_model, create_data, reset_schema


def build_app(url: str, connections: int):
    """The app as bench/invitations.py builds it, with a pool of `connections` (one per burst thread)."""
    from app import create_app
    from config import TestingConfig

    class BenchConfig(TestingConfig):
        ENV_NAME = "bench"
        TESTING = False
        SQLALCHEMY_DATABASE_URI = url
        SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": connections, "max_overflow": 5}
        SMTP_URL = "smtp://127.0.0.1:9"  # nothing is delivered
        SCHEDULER = "off"

    return create_app(BenchConfig)


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


class LockClock:
    """Per thread: when the run's `SELECT ... FOR UPDATE` was sent and when it returned (engine events), and
    how many calendar mails were rendered while the lock was held (the composer wrapped)."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.local = threading.local()
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        from app.notifications import compose

        # Both composition paths share `_invitation_parts`; before issue 22 there was only invitation_message.
        name = "_invitation_parts" if hasattr(compose, "_invitation_parts") else "invitation_message"
        real = getattr(compose, name)

        def counted(*args, **kwargs):
            if getattr(self.local, "locked_at", None) is not None:
                self.local.rendered_under_lock += 1
            return real(*args, **kwargs)

        setattr(compose, name, counted)

    def start(self) -> None:
        self.local.sent_at = self.local.locked_at = None
        self.local.rendered_under_lock = 0

    @staticmethod
    def _is_lock(statement: str) -> bool:
        return "FOR UPDATE" in statement and "FROM course_runs" in statement

    def _before(self, _conn, _cursor, statement, *_args) -> None:
        if self._is_lock(statement) and getattr(self.local, "sent_at", 0) is None:
            self.local.sent_at = time.perf_counter()

    def _after(self, _conn, _cursor, statement, *_args) -> None:
        if self._is_lock(statement) and getattr(self.local, "locked_at", 0) is None:
            self.local.locked_at = time.perf_counter()

    def finish(self) -> tuple[float, float, int]:
        """(waited, held, rendered under the lock), after the commit returned."""
        done = time.perf_counter()
        return self.local.locked_at - self.local.sent_at, done - self.local.locked_at, self.local.rendered_under_lock


def enrol_one(clock: LockClock, user_id: int, run_id: int) -> tuple[float, float, int]:
    from app.accounts.models import User
    from app.core import clock as app_clock
    from app.enrolment.services import enrol
    from app.extensions import db

    clock.start()
    user = db.session.get(User, user_id)  # Flask-Login's user loader
    now = app_clock.utcnow()
    enrol(user, run_id, user, now, now.date())
    db.session.commit()
    result = clock.finish()
    db.session.remove()
    return result


def serial_phase(app, clock: LockClock, pairs: list[tuple[int, int]]) -> dict:
    waited, held, under = [], [], 0
    started = time.perf_counter()
    with app.app_context():
        for user_id, run_id in pairs:
            w, h, n = enrol_one(clock, user_id, run_id)
            waited.append(w)
            held.append(h)
            under += n
    seconds = time.perf_counter() - started
    return {"enrolments": len(pairs), "seconds": seconds, "waited": waited, "held": held, "rendered_under_lock": under}


def burst_worker(url: str, jobs, results, start_at: float) -> None:
    """Child process (a stand-in for one sync gunicorn worker): its own app and connection; takes enrolments
    from `jobs` from `start_at` (wall clock) on until it gets None, and reports each one's outcome."""
    app = build_app(url, 2)
    from app.extensions import db

    with app.app_context():
        clock = LockClock(db.engine)
        db.session.execute(db.text("SELECT 1"))  # connected before the start, as a warm worker is
        db.session.remove()
        time.sleep(max(0.0, start_at - time.time()))
        while (job := jobs.get()) is not None:
            user_id, run_id = job
            try:
                w, h, n = enrol_one(clock, user_id, run_id)
                results.put((time.time() - start_at, w, h, n, None))
            except Exception as error:  # reported, not raised: the count of failures is a result
                db.session.remove()
                results.put((time.time() - start_at, 0.0, 0.0, 0, repr(error)))


def burst_phase(url: str, user_ids: list[int], run_id: int, workers: int) -> dict:
    """All `user_ids` ask to enrol in `run_id` at the same moment; `workers` processes serve them, as
    gunicorn's sync workers would. Latency: from that moment until the enrolment's commit returned."""
    ctx = multiprocessing.get_context("spawn")
    jobs, results = ctx.Queue(), ctx.Queue()
    for user_id in user_ids:
        jobs.put((user_id, run_id))
    for _ in range(workers):
        jobs.put(None)
    start_at = time.time() + 10 + 2 * workers  # every worker started and connected by then
    processes = [ctx.Process(target=burst_worker, args=(url, jobs, results, start_at)) for _ in range(workers)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=600) for _ in user_ids]
    for process in processes:
        process.join(60)
    ok = [r for r in outcomes if r[4] is None]
    return {
        "enrolments": len(user_ids),
        "seconds": max(r[0] for r in outcomes),
        "latency": [r[0] for r in ok],
        "waited": [r[1] for r in ok],
        "held": [r[2] for r in ok],
        "rendered_under_lock": sum(r[3] for r in ok),
        "errors": [r[4] for r in outcomes if r[4] is not None],
    }


def burst_checks(run_id: int, capacity: int, n: int) -> tuple[dict, list[str]]:
    from sqlalchemy import func, select

    from app.courses.models import CourseRun
    from app.enrolment.models import Enrolment, EnrolmentStatus
    from app.enrolment.queries import waitlist_positions
    from app.extensions import db
    from app.notifications.models import OutboxMessage

    run = db.session.get(CourseRun, run_id)
    statuses = dict(
        db.session.execute(
            select(Enrolment.status, func.count()).where(Enrolment.course_run_id == run_id).group_by(Enrolment.status)
        ).all()
    )
    confirmed = statuses.get(EnrolmentStatus.CONFIRMED, 0)
    waiting = statuses.get(EnrolmentStatus.WAITLISTED, 0)
    positions = sorted(waitlist_positions([run_id]).values())
    kinds = dict(
        db.session.execute(
            select(OutboxMessage.kind, func.count())
            .where(OutboxMessage.course_run_id == run_id)
            .group_by(OutboxMessage.kind)
        ).all()
    )
    keys = db.session.scalar(
        select(func.count(func.distinct(OutboxMessage.dedupe_key))).where(OutboxMessage.course_run_id == run_id)
    )
    mails = sum(kinds.values())
    problems = []
    if confirmed != capacity or run.seats_taken != capacity:
        problems.append(f"{confirmed} confirmed, seats_taken {run.seats_taken}, capacity {capacity}")
    if waiting != n - capacity or positions != list(range(1, waiting + 1)):
        problems.append(f"{waiting} waiting with positions {positions}")
    if kinds.get("invitation", 0) != 3 * confirmed or kinds.get("waitlisted", 0) != waiting or keys != mails:
        problems.append(f"outbox {kinds}, {keys} distinct keys")
    db.session.remove()
    facts = {
        "confirmed": confirmed,
        "seats_taken": run.seats_taken,
        "overbooked": max(0, run.seats_taken - capacity),
        "waitlisted": waiting,
        "mails": kinds,
    }
    return facts, problems


def compose_rates(n: int) -> dict:
    """Calendar mails composed per second, old path (EmailMessage + message_bytes) and, where it exists,
    `invitation_mail`, for the same day, recipient and stamp: a same-process ratio."""
    from sqlalchemy import select

    from app.courses.models import CourseRun
    from app.extensions import db
    from app.notifications import compose
    from app.notifications.compose import InvitationKind, Recipient

    run = db.session.scalars(select(CourseRun).order_by(CourseRun.id).limit(1)).one()
    day = run.days[0]
    recipient = Recipient(email="jens.hansen@kommune.example.dk", name="Hansen, Jens Ærø", language="da")
    stamp = datetime(2026, 3, 2, 9, tzinfo=UTC)
    paths = {
        "EmailMessage": lambda: compose.message_bytes(
            compose.invitation_message(
                day, recipient, InvitationKind.INVITATION, stamp=stamp, run_url="https://x.dk/r/1"
            )
        )
    }
    if hasattr(compose, "invitation_mail"):
        paths["invitation_mail"] = lambda: compose.invitation_mail(
            day, recipient, InvitationKind.INVITATION, stamp=stamp, run_url="https://x.dk/r/1"
        ).with_message_id("<outbox.0123456789abcdef@kursusportalen.example.dk>")
    rates = {}
    for _round in range(2):  # interleaved, the best of two
        for name, fn in paths.items():
            fn()
            started = time.perf_counter()
            for _ in range(n):
                fn()
            rates[name] = max(rates.get(name, 0.0), n / (time.perf_counter() - started))
    db.session.remove()
    return rates


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    return f"p50 {ms(percentile(values, 50))}, p99 {ms(percentile(values, 99))}, max {ms(max(values))}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL, named kp_bench... (emptied)")
    parser.add_argument("--serial", type=int, default=300, help="enrolments one after another (300)")
    parser.add_argument("--burst", type=int, default=50, help="enrolments at once into one run (50)")
    parser.add_argument("--capacity", type=int, default=10, help="seats of the burst's run (10)")
    parser.add_argument(
        "--workers", type=int, default=2, help="processes serving the burst, like gunicorn's sync workers (2)"
    )
    parser.add_argument("--compose", type=int, default=300, help="mails per composition path (300)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    url = database_url(args.database_url)
    if not url.startswith("postgresql"):
        parser.error("PostgreSQL only: SQLite serialises whole transactions")
    prepare_postgres(url)

    app = build_app(url, 5)
    from app.extensions import db

    with app.app_context():
        reset_schema()
        # One run for the burst, then runs of `capacity` for the serial enrolments (never full).
        burst_runs, burst_users = create_data(args.burst, args.burst, datetime.now(UTC).date(), tag=f"b{os.getpid()}")
        serial_runs, serial_users = create_data(
            args.serial, args.capacity, datetime.now(UTC).date(), tag=f"s{os.getpid()}"
        )
        from sqlalchemy import update

        from app.courses.models import CourseRun

        db.session.execute(update(CourseRun).where(CourseRun.id == burst_runs[0]).values(capacity=args.capacity))
        db.session.commit()
        db.session.remove()
        clock = LockClock(db.engine)

    print(f"serial: {args.serial} enrolments ...", file=sys.stderr)
    serial = serial_phase(app, clock, [(u, serial_runs[i // args.capacity]) for i, u in enumerate(serial_users)])
    print(f"burst: {args.burst} at once into {args.capacity} seats, {args.workers} workers ...", file=sys.stderr)
    burst = burst_phase(url, burst_users, burst_runs[0], args.workers)
    with app.app_context():
        facts, problems = burst_checks(burst_runs[0], args.capacity, args.burst)
        rates = compose_rates(args.compose)
    if burst["errors"]:
        problems.append(f"{len(burst['errors'])} enrolments failed, e.g. {burst['errors'][0]}")

    rows = [
        ("serial: lock held", summary(serial["held"])),
        ("serial: lock waited", summary(serial["waited"])),
        ("serial: enrolments/s", f"{serial['enrolments'] / serial['seconds']:,.0f}"),
        ("serial: mails rendered under the lock", f"{serial['rendered_under_lock']}"),
        (
            f"burst: {args.burst} into {args.capacity} seats",
            f"{args.workers} worker processes, all done in {burst['seconds']:,.2f} s",
        ),
        ("burst: latency", summary(burst["latency"])),
        ("burst: lock held", summary(burst["held"])),
        ("burst: lock waited", summary(burst["waited"])),
        ("burst: mails rendered under the lock", f"{burst['rendered_under_lock']}"),
        (
            "burst: outcome",
            f"{facts['confirmed']} confirmed, {facts['overbooked']} overbooked, {facts['waitlisted']} waiting; "
            f"outbox {facts['mails']}",
        ),
        ("composition", ", ".join(f"{name} {rate:,.0f} mails/s" for name, rate in rates.items())),
        (
            "machine",
            f"{multiprocessing.cpu_count()} CPUs, {cpu_model()}; load average at the end "
            f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    print()
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    for problem in problems:
        print(f"*** {problem}", file=sys.stderr)
    if args.json:

        def stats(values):
            return {
                "p50_ms": round(percentile(values, 50) * 1000, 2),
                "p99_ms": round(percentile(values, 99) * 1000, 2),
                "max_ms": round(max(values) * 1000, 2),
                "mean_ms": round(statistics.mean(values) * 1000, 2),
            }

        print(
            json.dumps(
                {
                    "serial": {
                        "held": stats(serial["held"]),
                        "waited": stats(serial["waited"]),
                        "per_second": round(serial["enrolments"] / serial["seconds"], 1),
                        "rendered_under_lock": serial["rendered_under_lock"],
                    },
                    "burst": {
                        "latency": stats(burst["latency"]),
                        "held": stats(burst["held"]),
                        "waited": stats(burst["waited"]),
                        "rendered_under_lock": burst["rendered_under_lock"],
                        **facts,
                    },
                    "compose_per_second": {k: round(v) for k, v in rates.items()},
                    "load_average": os.getloadavg(),
                    "ok": not problems,
                    "problems": problems,
                },
                sort_keys=True,
            )
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
