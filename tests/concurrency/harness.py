"""Tools for the concurrency tests: an app on a real database, work released in many threads at once,
a browser-like HTTP client, real servers on loopback (a threaded werkzeug server in this process,
gunicorn in a subprocess), and the invariants every run must keep afterwards."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from app.core.exceptions import DomainError
from app.courses.models import CourseRun
from app.enrolment import services
from app.enrolment.models import Enrolment, EnrolmentStatus
from app.extensions import db
from config import BASE_DIR, TestingConfig, _database_url

#: Seconds any one wait may take before the test gives up (threads, barrier, HTTP responses).
WAIT = 90

# --------------------------------------------------------------------------------------------------
# An app on a real database
# --------------------------------------------------------------------------------------------------


def database_app(uri: str, **engine_options) -> Flask:
    """The real app (create_app applies the SQLite BEGIN IMMEDIATE recipe) on the database at `uri`."""
    config = type(
        "ConcurrencyConfig",
        (TestingConfig,),
        {"SQLALCHEMY_DATABASE_URI": _database_url(uri), "SQLALCHEMY_ENGINE_OPTIONS": engine_options},
    )
    return create_app(config)


def create_schema(app: Flask) -> None:
    with app.app_context():
        drop_schema(app)  # a crashed earlier run may have left tables behind
        db.create_all()


def drop_schema(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as conn:  # units refer to units: drop without checking references
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                db.metadata.drop_all(conn)
                conn.commit()
        else:
            db.drop_all()
        db.engine.dispose()


def separate_postgres_database(url: str, suffix: str) -> str:
    """The URL of database `<name><suffix>` next to the one at `url`, created when missing (so servers
    and tests here don't fight the other tests, which drop every table after each test)."""
    base = make_url(_database_url(url))
    name = f"{base.database}{suffix}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


# --------------------------------------------------------------------------------------------------
# Many threads at once
# --------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one concurrent attempt ended in: "ok" (value = what the work returned), "busy" (the lock
    wait timed out: services.Busy), the DomainError's class name (value = its message), or "error"."""

    kind: str
    value: object = None


def release_together(tasks: list[Callable[[threading.Barrier], object]]) -> list[object]:
    """Run every task in its own thread; each calls barrier.wait() right before the racing part.

    Returns the tasks' results in order; an exception escaping a task is returned as Outcome("error").
    """
    barrier = threading.Barrier(len(tasks))
    results: list[object] = [Outcome("error", "never finished")] * len(tasks)

    def run(index: int, task) -> None:
        try:
            results[index] = task(barrier)
        except BaseException as error:  # reported by the test, never swallowed silently
            barrier.abort()
            results[index] = Outcome("error", repr(error))

    threads = [threading.Thread(target=run, args=(i, t), daemon=True) for i, t in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(t.is_alive() for t in threads), "a concurrent attempt is still running"
    return results


def in_own_transaction(app: Flask, work: Callable[[], object]) -> Callable[[threading.Barrier], Outcome]:
    """A task that runs `work` in its own app context and session (as a request would), released with the
    others, then commits; it rolls back on any exception and reports it as an Outcome.

    Nothing touches the database before the barrier: on SQLite the first statement takes the write lock.
    """

    def task(barrier: threading.Barrier) -> Outcome:
        with app.app_context():
            barrier.wait(WAIT)
            try:
                value = work()
                db.session.commit()
                return Outcome("ok", value)
            except services.Busy as error:
                db.session.rollback()
                return Outcome("busy", error.message)
            except DomainError as error:
                db.session.rollback()
                return Outcome(type(error).__name__, error.message)
            except Exception as error:  # every unexpected failure is a test failure
                db.session.rollback()
                return Outcome("error", repr(error))

    return task


# --------------------------------------------------------------------------------------------------
# What must hold for every run, whatever arrived at once
# --------------------------------------------------------------------------------------------------


@dataclass
class RunState:
    """A run's enrolments as the database has them (read in the caller's app context)."""

    capacity: int
    seats_taken: int
    queue_counter: int
    confirmed: list[Enrolment]  # by id (= the order the run's lock was had)
    waitlisted: list[Enrolment]  # by queue number
    positions: dict[int, int]  # enrolment id -> waitlist position (services.waitlist_positions)
    active_per_user: dict[int, int] = field(default_factory=dict)

    @property
    def confirmed_users(self) -> list[int]:
        return [e.user_id for e in self.confirmed]

    @property
    def waiting_users(self) -> list[int]:
        return [e.user_id for e in self.waitlisted]


def run_state(run_id: int) -> RunState:
    db.session.expire_all()
    run = db.session.get(CourseRun, run_id)
    enrolments = list(db.session.scalars(select(Enrolment).where(Enrolment.course_run_id == run_id)))
    active_per_user: dict[int, int] = {}
    for e in enrolments:
        if e.is_active:
            active_per_user[e.user_id] = active_per_user.get(e.user_id, 0) + 1
    return RunState(
        capacity=run.capacity,
        seats_taken=run.seats_taken,
        queue_counter=run.queue_counter,
        confirmed=sorted((e for e in enrolments if e.status == EnrolmentStatus.CONFIRMED), key=lambda e: e.id),
        waitlisted=sorted(
            (e for e in enrolments if e.status == EnrolmentStatus.WAITLISTED), key=lambda e: (e.queue_number, e.id)
        ),
        positions=services.waitlist_positions([run_id]),
        active_per_user=active_per_user,
    )


def assert_run_invariants(state: RunState, confirmed: int, waiting: int) -> None:
    """Exactly `confirmed` seats taken (never more than capacity) and a gapless FIFO waiting list."""
    assert len(state.confirmed) == confirmed, f"{len(state.confirmed)} confirmed, expected {confirmed}"
    assert len(state.confirmed) <= state.capacity, "OVERBOOKED"
    assert state.seats_taken == len(state.confirmed), (
        f"seats_taken {state.seats_taken} but {len(state.confirmed)} confirmed"
    )
    assert len(state.waitlisted) == waiting, f"{len(state.waitlisted)} on the waiting list, expected {waiting}"
    queue_numbers = [e.queue_number for e in state.waitlisted]
    assert len(set(queue_numbers)) == len(queue_numbers), f"queue numbers repeat: {queue_numbers}"
    # Positions: exactly 1..n, in queue order.
    assert [state.positions.get(e.id) for e in state.waitlisted] == list(range(1, waiting + 1)), state.positions
    assert set(state.positions) == {e.id for e in state.waitlisted}
    assert all(n == 1 for n in state.active_per_user.values()), "someone holds two active enrolments"


# --------------------------------------------------------------------------------------------------
# A browser: cookies, forms with their CSRF token, no redirects followed
# --------------------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    text: str

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")


class _FormParser(HTMLParser):
    """Every <form> on a page: its action, method and the fields a browser would submit untouched."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action") or "", "method": (a.get("method") or "get").lower(), "fields": []}
            self.forms.append(self._form)
        elif self._form is not None and a.get("name") and not a.get("disabled"):
            kind = (a.get("type") or "text").lower()
            if tag == "input" and kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self._form["fields"].append((a["name"], a.get("value") or "on"))
            elif tag == "input" and kind not in {"submit", "button", "image", "file", "reset"}:
                self._form["fields"].append((a["name"], a.get("value") or ""))
            elif tag == "textarea":
                self._form["fields"].append((a["name"], ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def forms_on(html: str) -> list[dict]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


class Browser:
    """One user's browser against a server on loopback: keeps its cookies, follows no redirects."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | list | None = None) -> Response:
        headers = {"Connection": "close", "Accept-Language": "da"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=WAIT)
        try:
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            response = Response(raw.status, raw.headers, raw.read().decode("utf-8", "replace"))
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or (not morsel.value and morsel["expires"]):  # deleted
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, data: dict | list) -> Response:
        return self.request("POST", path, data)

    def form(self, page: str, action: str) -> list[tuple[str, str]]:
        """The fields of the form on `page` that posts to `action` (with its CSRF token), as a browser has them."""
        response = self.get(page)
        assert response.status == 200, f"GET {page} answered {response.status}"
        for form in forms_on(response.text):
            target = (form["action"] or page).split("?")[0]  # no action: the form posts to its own page
            if form["method"] == "post" and target == action:
                return list(form["fields"])
        raise AssertionError(f"no form posting to {action} on {page}")

    def login(self, email: str, password: str) -> None:
        fields = dict(self.form("/login", "/login"))
        fields.update(email=email, password=password)
        response = self.post("/login", fields)
        assert response.status == 302, f"login of {email} answered {response.status}"


# --------------------------------------------------------------------------------------------------
# Real servers on loopback
# --------------------------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # no access log; errors are still logged
        pass


@contextmanager
def threaded_server(app: Flask) -> Iterator[tuple[str, int]]:
    """werkzeug's threaded server (a thread per request) in a thread of this process."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    # A short poll_interval: shutdown() waits for serve_forever to notice it (0.5 s by default).
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


@contextmanager
def gunicorn_server(env: dict[str, str], log_path: Path, workers: int = 4) -> Iterator[tuple[str, int]]:
    """gunicorn with `workers` sync workers serving wsgi:app, on a socket bound here and handed over
    (`--bind fd://N`): no port race, and requests wait in the listen queue until a worker is up."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"fd://{fd}",
        "--backlog",
        "256",
        "--timeout",
        str(WAIT),
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
        "wsgi:app",
    ]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own fixed command line
            command,
            cwd=BASE_DIR,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(fd,),
        )
    listener.close()  # gunicorn holds its own copy now
    try:
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
