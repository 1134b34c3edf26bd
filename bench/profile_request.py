"""Profile one page: where a request's time goes, in Python and in the database.

    .venv/bin/python bench/profile_request.py --database-url postgresql://postgres@127.0.0.1:54329/kp_bench_http \
        --as staff /runs
    .venv/bin/python bench/profile_request.py --database-url ... --as koordinator@demo.test /runs/6 --top 40

Builds the production app (as gunicorn runs it, minus the scheduler) on a database that already holds the
national data set (`bench/http_load.py` builds it), logs in through the test client as `--as` (an email, or
`staff` for the staff member bench/http_load.py measures), sends the GET `--warm` times to warm the
caches, freezes what they left (as gunicorn.conf.py has a worker do), then `--repeat` more unprofiled and
`--repeat` under cProfile, and prints: the mean wall time per request, the garbage collector's share, the
SQL statements of one request with the time each took in the database, and the top functions by cumulative
time (`--no-freeze` leaves the warm-up's objects to the collector, to see what freezing saves). Nothing is
written to the database beyond what the page itself writes (an audit entry on pages that name people).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import re
import secrets
import sys
import tempfile
import time

import _common  # noqa: F401 (puts the repository on sys.path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the path to GET, e.g. /runs")
    parser.add_argument("--database-url", required=True, help="a database holding the national data set")
    parser.add_argument(
        "--as", dest="email", default="staff", help="who logs in (an email, or 'staff': the one http_load.py measures)"
    )
    parser.add_argument("--warm", type=int, default=5, help="requests before measuring (5)")
    parser.add_argument("--repeat", type=int, default=20, help="requests measured (20)")
    parser.add_argument("--top", type=int, default=30, help="functions listed (30)")
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave the warm-up's objects to the garbage collector (a worker freezes them)",
    )
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative (default), tottime, ...")
    args = parser.parse_args()

    os.environ.update(
        KURSUSPORTALEN_CONFIG="production",
        DATABASE_URL=args.database_url,  # config.py reads it on import
        SECRET_KEY=secrets.token_urlsafe(48),
        SMTP_URL="smtp://127.0.0.1:9",
        SCHEDULER="off",
        PROXY_COUNT="0",
        MFA_REQUIRED="false",
        LOG_LEVEL="WARNING",
        LOG_FORMAT="text",
        # production refuses to run without login throttling; one process may count in memory
        RATELIMIT_STORAGE_URI="memory://",
        ALLOW_MEMORY_RATELIMITS_IN_PRODUCTION="1",
        WEB_CONCURRENCY="1",
        INSTANCE_PATH=tempfile.mkdtemp(prefix="kp-profile-instance-"),
    )
    from sqlalchemy import event

    from app import create_app
    from app.demo import DEMO_PASSWORD
    from app.extensions import db

    app = create_app()
    app.config.update(SESSION_COOKIE_SECURE=False)  # the test client speaks plain http
    with app.app_context():
        email = args.email
        if email == "staff":
            email = _common.measured_staff_email()
        db.session.remove()

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": DEMO_PASSWORD})
    if response.status_code != 302:
        print(f"login of {email} failed: {response.status_code}", file=sys.stderr)
        return 1

    def get() -> None:
        response = client.get(args.url)
        if response.status_code != 200:
            raise SystemExit(f"GET {args.url}: {response.status_code}")
        response.get_data()

    for _ in range(args.warm):
        get()
    if not args.no_freeze:  # as a gunicorn worker does after its first requests (gunicorn.conf.py)
        gc.collect()
        gc.freeze()
    collecting = {"seconds": 0.0, "runs": 0, "started": 0.0}

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            collecting["started"] = time.perf_counter()
        else:
            collecting["seconds"] += time.perf_counter() - collecting["started"]
            collecting["runs"] += 1

    timings: list[tuple[float, str]] = []
    started: dict = {}
    with app.app_context():
        engine = db.engine

    def before(conn, cursor, statement, parameters, context, executemany):
        started[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        timings.append((time.perf_counter() - started.pop(id(cursor)), " ".join(statement.split())))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    wall = time.perf_counter()
    get()
    one = time.perf_counter() - wall
    event.remove(engine, "before_cursor_execute", before)
    event.remove(engine, "after_cursor_execute", after)

    gc.callbacks.append(on_gc)
    wall, cpu = time.perf_counter(), time.process_time()
    fastest = float("inf")
    for _ in range(args.repeat):
        started_one = time.perf_counter()
        get()
        fastest = min(fastest, time.perf_counter() - started_one)
    unprofiled = (time.perf_counter() - wall) / args.repeat
    cpu_used = (time.process_time() - cpu) / args.repeat
    gc.callbacks.remove(on_gc)

    profiler = cProfile.Profile()
    wall = time.perf_counter()
    profiler.enable()
    for _ in range(args.repeat):
        get()
    profiler.disable()
    mean = (time.perf_counter() - wall) / args.repeat

    print(
        f"GET {args.url} as {email}: {unprofiled * 1000:.1f} ms a request (mean of {args.repeat}; "
        f"{mean * 1000:.1f} ms under the profiler; the one below with SQL timing {one * 1000:.1f} ms)"
    )
    print(
        f"this process's CPU time: {cpu_used * 1000:.1f} ms a request (Python's share, without the database "
        f"server's); the fastest request {fastest * 1000:.1f} ms (both steadier than the mean on a shared machine)"
    )
    print(
        f"garbage collection: {collecting['runs'] / args.repeat:.1f} runs, "
        f"{collecting['seconds'] * 1000 / args.repeat:.2f} ms a request "
        f"({'no freeze' if args.no_freeze else 'objects from the warm-up frozen, as in a gunicorn worker'})"
    )
    print(f"{len(timings)} SQL statements, {sum(t for t, _ in timings) * 1000:.1f} ms in the database driver:")
    for seconds, statement in timings:
        print(f"  {seconds * 1000:7.2f} ms  {statement[:150]}")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
