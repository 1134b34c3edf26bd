"""Benchmark: HTTP throughput and latency of the main pages under gunicorn + PostgreSQL with the national
data set, against a bare Flask "hello world" under the same gunicorn configuration (the ceiling).

    .venv/bin/python bench/http_load.py --database-url postgresql://postgres@127.0.0.1:54329/kp_bench_http
    .venv/bin/python bench/http_load.py --database-url ... --reuse --duration 5      # data already loaded

It (1) builds the data set unless --reuse finds it — `flask db upgrade`, `flask demo load`, `flask demo
scale` (98 municipalities, 50,000 staff, 5,000 runs, 150,000 enrolments; a few minutes) — and gives one
published run 100 participants; (2) starts gunicorn with `gunicorn.conf.py` and 2 workers on the app
(production config, no scheduler) and on bench/hello_app.py; (3) logs in over HTTP; (4) runs `wrk`
(Debian's package) for each endpoint at each concurrency (one connection per thread), rounds interleaved
so each page is compared with the hello world of the same round:

- `GET /runs` as a staff member, `GET /runs/<id>` as the coordinator (100 participants), `GET /me/courses`
  as a staff member, and the enrolment POST: each connection is another staff member who enrols in and
  cancels from a run in turn (so every request really writes: an enrolment or a cancellation, each
  with its invitation or cancellation mails queued in the outbox) — all in *one* run (the worst case:
  the run's row lock, which keeps it from being overbooked, lets one enrolment in at a time), and each
  connection in a run of its own (the lock out of the way);

and (5) prints requests/s, p50/p99 latency, errors (non-2xx/3xx and socket errors), the fraction of the
same round's ceiling, and each worker's peak RSS (VmHWM) after everything (workers are not recycled
during the run, so that is after every request the app served) with the workers' RSS as the run went
on. The database must be named `kp_bench…` or `kp_test…` (it is emptied unless --reuse).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from _common import REPO_ROOT, database_url, measured_staff_email, prepare_postgres

from app.demo import DEMO_PASSWORD

VENV_BIN = Path(sys.executable).parent
COORDINATOR = "koordinator@demo.test"


def _env(url: str) -> dict:
    env = dict(os.environ)
    env.update(
        # The development configuration with production's settings where they matter here (no scheduler, no
        # debug, plain loopback): production refuses the data set's demo accounts (gunicorn.conf.py, `flask
        # demo`) and requires Redis for the login limits. Successful logins count against no limit.
        KURSUSPORTALEN_CONFIG="development",
        DATABASE_URL=url,
        SECRET_KEY=secrets.token_urlsafe(48),
        SMTP_URL="smtp://127.0.0.1:9",
        SCHEDULER="off",
        PROXY_COUNT="0",
        MFA_REQUIRED="false",
        LOG_LEVEL="WARNING",
        INSTANCE_PATH=tempfile.mkdtemp(prefix="kp-bench-instance-"),
        # No recycling during the run: the peak RSS reported is then that of workers that served every
        # request (production recycles after ~2,000, which would hide a leak from this measurement).
        GUNICORN_MAX_REQUESTS="0",
    )
    return env


def _flask(env: dict, *args: str) -> None:
    subprocess.run(  # noqa: S603 (our own command)
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def build_data(url: str, env: dict, reuse: bool) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url(url))
    with engine.connect() as conn:
        loaded = False
        if reuse:
            loaded = bool(
                conn.scalar(text("SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'"))
            ) and bool(conn.scalar(text("SELECT count(*) FROM users WHERE email LIKE '%@scale.test'")))
        if not loaded:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
            conn.commit()
    engine.dispose()
    _flask(env, "db", "upgrade")  # a reused data set gets this checkout's migrations too
    if not loaded:
        print("building the national data set (a few minutes) ...", file=sys.stderr)
        _flask(env, "demo", "load")
        _flask(env, "demo", "scale")


def pick_scene(url: str, clients: int) -> dict:
    """The staff member for the pages, the run with 100 participants, `clients` staff members who may
    enrol in one open run (made roomy enough for all of them), and `clients` more who may each enrol in
    another open run (the "spread" POST)."""
    from sqlalchemy import func, select

    from app import create_app
    from app.accounts.models import User
    from app.core import clock
    from app.courses.models import CourseRun, RunKind, RunStatus, run_eligible_roles
    from app.enrolment.models import Enrolment, EnrolmentStatus
    from app.extensions import db
    from config import TestingConfig

    class Bench(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url(url)

    app = create_app(Bench)
    with app.app_context():
        today = clock.today()
        open_runs = list(
            db.session.scalars(
                select(CourseRun)
                .where(
                    CourseRun.status == RunStatus.PUBLISHED,
                    CourseRun.enrolment_deadline >= today,
                    CourseRun.title.like("Tidlig inddragelse, hold %"),
                )
                .order_by(CourseRun.id)
                .limit(2)
            )
        )
        big, post = open_runs

        def eligible_not_enrolled(run, n):
            enrolled = select(Enrolment.user_id).where(Enrolment.course_run_id == run.id)
            roles = select(run_eligible_roles.c.staff_role_id).where(run_eligible_roles.c.course_run_id == run.id)
            return list(
                db.session.scalars(
                    select(User)
                    .where(User.email.like("%@scale.test"), User.staff_role_id.in_(roles), User.id.not_in(enrolled))
                    .order_by(User.id)
                    .limit(n)
                )
            )

        have = db.session.scalar(
            select(func.count())
            .select_from(Enrolment)
            .where(Enrolment.course_run_id == big.id, Enrolment.status == EnrolmentStatus.CONFIRMED)
        )
        if have < 100:
            for user in eligible_not_enrolled(big, 100 - have):
                db.session.add(Enrolment(course_run_id=big.id, user_id=user.id, status=EnrolmentStatus.CONFIRMED))
            big.capacity = max(big.capacity, 120)
            big.seats_taken = 100
        post.capacity = max(post.capacity, post.seats_taken + clients + 10)
        staff = measured_staff_email()
        # Not the staff member whose pages are measured: every enrol/cancel adds to the poster's history,
        # which /me/courses would then show (hundreds of rows after a run, not a real person's page).
        posters = [u for u in eligible_not_enrolled(post, clients + 1) if u.email != staff][:clients]
        taken = {staff, *(u.email for u in posters)}
        spread = []
        for run in db.session.scalars(
            select(CourseRun)
            .where(
                CourseRun.status == RunStatus.PUBLISHED,
                CourseRun.enrolment_deadline >= today,
                CourseRun.id.not_in([big.id, post.id]),
                CourseRun.requires_approval.is_(False),
                CourseRun.kind == RunKind.STANDARD,
            )
            .order_by(CourseRun.id)
            .limit(3 * clients)
        ):
            user = next((u for u in eligible_not_enrolled(run, 3 * clients) if u.email not in taken), None)
            if user is None:
                continue
            taken.add(user.email)
            run.capacity = max(run.capacity, run.seats_taken + 1)
            spread.append((user.email, run.id))
            if len(spread) == clients:
                break
        db.session.commit()
        return {
            "big_run": big.id,
            "post_run": post.id,
            "staff": staff,
            "posters": [(u.email, post.id) for u in posters],
            "spread": spread,
        }


class _LoopbackCookies(http.cookiejar.DefaultCookiePolicy):
    def return_ok_secure(self, cookie, request):  # production cookies are Secure; this is plain loopback
        return True


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def log_in(base: str, email: str) -> tuple[str, str]:
    """Log in over HTTP; the session cookie header and a CSRF token for that session."""
    jar = http.cookiejar.CookieJar(policy=_LoopbackCookies())
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())

    def fetch(path, data=None):
        body = urllib.parse.urlencode(data).encode() if data else None
        try:
            with opener.open(urllib.request.Request(base + path, data=body), timeout=60) as r:  # noqa: S310
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    _, page = fetch("/login")
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page).group(1).decode()
    status, _ = fetch("/login", {"csrf_token": token, "email": email, "password": DEMO_PASSWORD})
    if status != 302:
        raise SystemExit(f"login of {email} failed: {status}")
    _, page = fetch("/me/courses" if "scale" in email else "/runs")
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page).group(1).decode()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, token


def start_gunicorn(target: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "-c",
        "gunicorn.conf.py",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        "/dev/null",
        target,
    ]
    proc = subprocess.Popen(  # noqa: S603 (our own command)
        cmd,
        cwd=REPO_ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    for _ in range(120):
        try:
            url = f"http://127.0.0.1:{port}/hello" if "hello" in target else f"http://127.0.0.1:{port}/login"
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (our own loopback server)
            return proc
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    raise SystemExit(f"gunicorn for {target} did not start; see {log}")


def wrk(url: str, clients: int, duration: int, headers: dict | None = None, script: Path | None = None) -> dict:
    cmd = ["wrk", f"-t{clients}", f"-c{clients}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout  # noqa: S603

    def latency(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": latency(50),
        "p99_ms": latency(99),
        "errors": errors + (int(non_2xx.group(1)) if non_2xx else 0),
    }


POST_SCRIPT = """
local users = %s
local counter = 0
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init(args) me = users[(id %% #users) + 1]; n = 0 end
function request()
  n = n + 1
  local path = "/runs/" .. me.run .. ((n %% 2 == 1) and "/enrol" or "/cancel")
  return wrk.format("POST", path, {["Cookie"] = me.cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded"}, "csrf_token=" .. me.token)
end
"""


def worker_pids(master: subprocess.Popen) -> list[str]:
    return sorted(Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split())


def worker_rss_mib(master: subprocess.Popen, field: str = "VmHWM") -> list[float]:
    """Each worker's peak (VmHWM) or current (VmRSS) resident set size."""
    sizes = []
    for pid in worker_pids(master):
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(rf"{field}:\s+(\d+) kB", status).group(1)) / 1024)
    return sizes


def post_script(path: Path, users: list[tuple[str, str, int]]) -> Path:
    """The wrk script for the enrol/cancel POST: (cookie, CSRF token, run id) per connection."""
    path.write_text(
        POST_SCRIPT
        % (
            "{"
            + ", ".join(
                f"{{cookie = {json.dumps(cookie)}, token = {json.dumps(token)}, run = {run}}}"
                for cookie, token, run in users
            )
            + "}"
        )
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL, named kp_bench... (emptied)")
    parser.add_argument("--reuse", action="store_true", help="keep the data set if it is already there")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--clients", default="10,50", help="concurrencies (10,50)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (2; the best is reported)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    prepare_postgres(args.database_url)
    env = _env(args.database_url)
    build_data(args.database_url, env, args.reuse)
    concurrencies = [int(c) for c in args.clients.split(",")]
    scene = pick_scene(args.database_url, max(concurrencies))

    logs = Path(tempfile.mkdtemp(prefix="kp-bench-http-"))
    web = start_gunicorn("wsgi:app", 8091, env, logs / "web.log")
    hello = start_gunicorn("bench.hello_app:app", 8092, env, logs / "hello.log")
    workers_at_start = worker_pids(web)
    try:
        base = "http://127.0.0.1:8091"
        staff_cookie, _ = log_in(base, scene["staff"])
        coordinator_cookie, _ = log_in(base, COORDINATOR)
        one_run = post_script(logs / "enrol.lua", [(*log_in(base, email), run) for email, run in scene["posters"]])
        spread = post_script(logs / "enrol-spread.lua", [(*log_in(base, email), run) for email, run in scene["spread"]])
        endpoints = {
            "/runs (staff)": (f"{base}/runs", {"Cookie": staff_cookie}, None),
            f"/runs/{scene['big_run']} (coordinator, 100 participants)": (
                f"{base}/runs/{scene['big_run']}",
                {"Cookie": coordinator_cookie},
                None,
            ),
            "/me/courses (staff)": (f"{base}/me/courses", {"Cookie": staff_cookie}, None),
            "enrol/cancel POST, one run (staff)": (f"{base}/runs/{scene['post_run']}/enrol", None, one_run),
            "enrol/cancel POST, a run each (staff)": (f"{base}/runs", None, spread),
        }
        best: dict[tuple[str, int], dict] = {}
        served = 0  # every request the app's workers answered in the measured runs
        growth: list[tuple[int, list[float]]] = []  # (requests served so far, each worker's RSS then)
        for _ in range(args.rounds):
            for clients in concurrencies:
                ceiling = wrk("http://127.0.0.1:8092/hello", clients, args.duration)
                key = ("hello world (ceiling)", clients)
                if key not in best or ceiling["rps"] > best[key]["rps"]:
                    best[key] = {**ceiling, "ratio": 1.0}
                for name, (url, headers, lua) in endpoints.items():
                    result = wrk(url, clients, args.duration, headers, lua)
                    served += result["requests"]
                    growth.append((served, worker_rss_mib(web, "VmRSS")))
                    result["ratio"] = result["rps"] / ceiling["rps"]
                    if (name, clients) not in best or result["ratio"] > best[(name, clients)]["ratio"]:
                        best[(name, clients)] = result
        peaks = worker_rss_mib(web)
        same_workers = worker_pids(web) == workers_at_start
    finally:
        for proc in (web, hello):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)

    load = os.getloadavg()
    print(
        f"\nHTTP load, {args.duration} s per run, best of {args.rounds} interleaved rounds; load average "
        f"{load[0]:.1f}; gunicorn 2 sync workers; PostgreSQL; national data set\n"
    )
    print("| endpoint | clients | req/s | p50 ms | p99 ms | errors | % of hello world (same round) |")
    print("|---|---|---|---|---|---|---|")
    order = sorted(best.items(), key=lambda item: (item[0][1], item[0][0] != "hello world (ceiling)"))
    for (name, clients), r in order:
        print(
            f"| {name} | {clients} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | "
            f"{100 * r['ratio']:.0f} % |"
        )
    print(
        f"\nworker peak RSS after the runs: {', '.join(f'{p:.0f} MiB' for p in peaks)} "
        f"(after {served} requests to the app in all rounds, served by "
        f"{'the same workers from start to end' if same_workers else 'workers of which some were replaced'}"
        f"; the target is < 150 MiB after 10,000)"
    )
    print(
        "worker RSS as the run went on: "
        + ", ".join(
            f"{'/'.join(f'{r:.0f}' for r in rss)} MiB after {n}" for n, rss in growth[:: max(1, len(growth) // 8)]
        )
    )
    if args.json:
        extra = {
            "worker_peak_rss_mib": peaks,
            "app_requests": served,
            "same_workers": same_workers,
            "worker_rss_growth": growth,
        }
        print(json.dumps({f"{n} @{c}": r for (n, c), r in best.items()} | extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
