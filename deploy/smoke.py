"""Smoke test of a running installation over HTTP: health, staff login and enrolment, the invitation
arriving at the mail server, the coordinator's participant export, the login limit per account and address
holding across the workers. Used by deploy/smoke.sh (and CI).

    python deploy/smoke.py --setup                       # a staff role, provider, programme and run
    python deploy/smoke.py --base-url http://127.0.0.1:8000 --maildir /tmp/mail \
        --staff sara@smoke.example --coordinator koordinator@smoke.example --password ... \
        [--locked lars@smoke.example --access-log /tmp/access.log]

A production installation never holds the demo data (its password is public), so the smoke test brings its
own: `--setup` writes what a coordinator would set up on the first day, and deploy/smoke.sh creates the two
accounts with `flask users create`, as docs/operations.md tells an operator to. The test reads the database
only to pick the run the staff member may enrol in (the same rule the run list uses); everything the users
do goes through HTTP, with a cookie jar like a browser's.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import mailbox
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from email import message_from_bytes
from email.policy import default as default_policy

STAFF_ROLE = "Sagsbehandler"


class _LoopbackCookies(http.cookiejar.DefaultCookiePolicy):
    """Production cookies are Secure; the smoke test talks plain HTTP to gunicorn on loopback, where a
    browser would sit behind nginx's TLS. Send them anyway (loopback only)."""

    def return_ok_secure(self, cookie, request):
        return urllib.parse.urlsplit(request.get_full_url()).hostname in {"127.0.0.1", "localhost"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        jar = http.cookiejar.CookieJar(policy=_LoopbackCookies())
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())

    def request(self, path: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base_url + path, data=body, headers=headers or {})  # noqa: S310 (http://, from --base-url)
        try:
            with self.opener.open(req, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:  # 3xx (not followed) and 4xx/5xx
            return error.code, dict(error.headers), error.read()

    def csrf_token(self, path: str) -> str:
        status, _, body = self.request(path)
        check(status == 200, f"GET {path} answered {status}")
        match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body)
        check(match is not None, f"no CSRF token on {path}")
        return match.group(1).decode()

    def log_in(self, email: str, password: str) -> None:
        token = self.csrf_token("/login")
        status, headers, _ = self.request("/login", {"csrf_token": token, "email": email, "password": password})
        check(status == 302 and "/login" not in headers.get("Location", ""), f"login of {email} failed ({status})")


def prove_login_limit(base_url: str, email: str, password: str, access_log: str, other: str) -> None:
    """The login limit per account and address (LOGIN_LIMIT_PER_ACCOUNT_AND_IP; every request here comes from
    127.0.0.1) holds across gunicorn's workers (the counters are in Redis): the documented number of wrong
    passwords, each on a fresh connection, are answered as normal failures, the next is refused, and then
    every worker refuses even the right password. With counters per worker this cannot happen: the failures
    total exactly the limit, so a worker that served fewer of them would let the right password in. Which
    worker answered comes from the access log (pid by request id). Then `other` still logs in from the same
    address: the lock is the account's, not the address's."""
    from limits import parse

    from config import Config

    limit = parse(Config.LOGIN_LIMIT_PER_ACCOUNT_AND_IP).amount
    answers: list[tuple[str, int, bytes]] = []  # (request id, status, body)

    def attempt(secret: str) -> int:
        client = Client(base_url)  # a new cookie jar; urllib opens a new connection for every request
        token = client.csrf_token("/login")
        request_id = f"smoke-limit-{len(answers):03d}"
        status, _, body = client.request(
            "/login", {"csrf_token": token, "email": email, "password": secret}, headers={"X-Request-ID": request_id}
        )
        answers.append((request_id, status, body))
        return status

    for n in range(limit):
        check(attempt("forkert-" + password) == 200, f"wrong password {n + 1} of {limit} was not a normal failure")
        check(b"Forkert e-mail eller adgangskode." in answers[-1][2], "a wrong password got another answer")
    check(attempt("forkert-" + password) == 429, f"wrong password {limit + 1} was not refused")
    wrong = answers[:]

    def workers_of(selected) -> dict[str, str]:
        ids = {request_id for request_id, _, _ in selected}
        seen = {}
        with open(access_log, encoding="utf-8") as log:
            for line in log:
                entry = json.loads(line)
                if entry.get("request_id") in ids and entry.get("path") == "/login" and entry.get("method") == "POST":
                    seen[entry["request_id"]] = entry["worker"].strip("<>")
        return seen

    right: list[tuple[str, int, bytes]] = []
    for _ in range(40):  # until both workers have answered the right password (each answer is a coin toss)
        check(attempt(password) == 429, f"the right password got in after {limit} wrong ones")
        right.append(answers[-1])
        time.sleep(0.05)  # gunicorn writes the access log line after the response
        if len(set(workers_of(right).values())) >= 2:
            break
    refusing = sorted(set(workers_of(right).values()))
    check(len(refusing) >= 2, f"only worker(s) {refusing} answered; cannot show both refuse")
    failures = workers_of(wrong[:limit])
    spread = {pid: list(failures.values()).count(pid) for pid in sorted(set(failures.values()))}
    Client(base_url).log_in(other, password)
    print(
        f"smoke: login limit across 2 workers: {limit} wrong passwords for {email} answered as normal failures "
        f"(worker pid: count {spread}), wrong password {limit + 1} refused (429), then the right password refused "
        f"(429) {len(right)} times, by workers {refusing}; {other} still logs in from the same address"
    )


def check(condition: bool, message: str) -> None:
    if not condition:
        print(f"SMOKE FAILED: {message}", file=sys.stderr)
        raise SystemExit(1)


def wait_for(what: str, predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.5)
    check(False, f"timed out after {timeout:.0f} s waiting for {what}")


def set_up() -> None:
    """What a coordinator sets up on the first day, written once: a staff role, a method, a provider, a
    programme with this year's budget and a published standard run open to the role, its two teaching days
    four and five weeks ahead (weekdays) and the follow-up day three months later."""
    from datetime import time as clock_time
    from datetime import timedelta

    from dateutil.relativedelta import relativedelta

    from app import create_app
    from app.accounts.models import StaffRole
    from app.core import clock
    from app.courses.models import CourseDay, CourseRun, DayKind, Method, RunKind, RunStatus
    from app.extensions import db
    from app.programmes.models import BudgetAllocation, Programme
    from app.providers.models import Provider

    with create_app().app_context():
        today = clock.today()
        day_one = today + timedelta(weeks=4)
        day_one += timedelta(days=(7 - day_one.weekday()) % 7)  # a Monday
        follow_up = day_one + timedelta(days=1) + relativedelta(months=3)
        while follow_up.weekday() >= 5:  # a weekday
            follow_up += timedelta(days=1)
        days = (day_one, day_one + timedelta(days=1), follow_up)
        role = StaffRole(name=STAFF_ROLE, name_en="Caseworker")
        provider = Provider(name="Familien i Centrum", contact_email="kontakt@fic.example")
        programme = Programme(
            name="Tidlig inddragelse af forældre",
            starts_on=today.replace(month=1, day=1),
            ends_on=today.replace(month=12, day=31) + relativedelta(years=1),
            target_deadline=today.replace(month=12, day=31) + relativedelta(years=1),
            target_runs=1,
            target_completed_staff=20,
        )
        programme.allocations.append(BudgetAllocation(provider=provider, year=today.year, amount_ore=10_000_000))
        run = CourseRun(
            programme=programme,
            provider=provider,
            title="Familierådslagning i praksis",
            kind=RunKind.STANDARD,
            status=RunStatus.PUBLISHED,
            capacity=20,
            enrolment_deadline=day_one - timedelta(days=7),
            venue="Kursuscenter Valby",
            price_ore=0,
        )
        run.eligible_roles.append(role)
        run.methods.append(Method(name="Familierådslagning"))
        kinds = (DayKind.TEACHING, DayKind.TEACHING, DayKind.FOLLOW_UP)
        for position, (day, kind) in enumerate(zip(days, kinds, strict=True), 1):
            run.days.append(
                CourseDay(kind=kind, position=position, day=day, starts_at=clock_time(9), ends_at=clock_time(15, 30))
            )
        db.session.add(run)
        db.session.commit()
        print(f"smoke: set up run {run.id} ({days[0]}, {days[1]}, follow-up {days[2]})")


def pick_enrolment(email: str) -> tuple[str, int, set[str]]:
    """A standard run with a free seat that the staff member `email` may enrol in and isn't enrolled in yet
    (so the enrolment is confirmed at once and invited): their name, the run's id and the calendar UIDs of
    its teaching days."""
    from sqlalchemy import select

    from app import create_app
    from app.accounts.models import User
    from app.core import clock
    from app.courses.models import CourseRun
    from app.enrolment.services import active_enrolment, self_enrolment_refusal
    from app.extensions import db
    from app.notifications.ical import event_uid

    with create_app().app_context():
        user = db.session.scalar(select(User).filter_by(email=email))
        check(user is not None, f"no user {email}")
        for run in db.session.scalars(select(CourseRun).order_by(CourseRun.id)):
            if run.is_special or run.seats_left <= 0:
                continue
            if self_enrolment_refusal(user, run, clock.today()) is None and active_enrolment(user.id, run.id) is None:
                return user.name, run.id, {event_uid(day) for day in run.teaching_days}
    check(False, f"no standard run with a free seat is open to {email}")
    raise AssertionError  # unreachable


def invitations_for(maildir: str, email: str, uids: set[str]):
    """A predicate: the mails to `email` whose calendar part holds one of `uids`, once every UID
    has arrived (one invitation per course day)."""

    def find():
        found: dict[str, object] = {}
        for raw in mailbox.Maildir(maildir, create=False):
            msg = message_from_bytes(bytes(raw), policy=default_policy)
            if f"<{email}>" not in str(msg["To"]):
                continue
            for part in msg.walk():
                if part.get_content_type() == "text/calendar":
                    text = part.get_content()
                    found.update({uid: msg for uid in uids if uid in text})
        return list(found.values()) if set(found) == uids else None

    return find


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", action="store_true", help="write the run to enrol in, and stop")
    parser.add_argument("--base-url")
    parser.add_argument("--maildir")
    parser.add_argument("--staff", help="the staff member's email")
    parser.add_argument("--coordinator", help="the coordinator's email")
    parser.add_argument("--password", help="the accounts' password")
    parser.add_argument("--locked", help="an account the test locks with wrong passwords")
    parser.add_argument("--access-log", help="gunicorn's access log (which worker answered)")
    args = parser.parse_args()
    if args.setup:
        set_up()
        return 0
    if not (args.base_url and args.maildir and args.staff and args.coordinator and args.password):
        parser.error("--base-url, --maildir, --staff, --coordinator and --password are needed")

    anonymous = Client(args.base_url)
    # /healthz's details are for a monitor: the HEALTHZ_TOKEN (deploy/smoke.sh sets one), or this host. With
    # the token, the request poses as one from elsewhere (through nginx), so it is the token that is proved.
    monitor_token = os.environ.get("HEALTHZ_TOKEN")
    monitor_headers = (
        {"Authorization": f"Bearer {monitor_token}", "X-Forwarded-For": "203.0.113.8"} if monitor_token else {}
    )

    def healthy():
        try:
            status, _, body = anonymous.request("/healthz", headers=monitor_headers)
        except urllib.error.URLError:  # gunicorn isn't listening yet
            return None
        return json.loads(body) if status == 200 else None

    health = wait_for("/healthz to answer 200 with a scheduler heartbeat", healthy, 60)
    check(health["scheduler"]["status"] == "ok", f"scheduler not ok: {health}")
    print(f"smoke: healthz ok {health}")
    # What the internet sees (through nginx, which adds X-Forwarded-For): up or down, no details.
    status, _, body = anonymous.request("/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
    check(status == 200 and body == b"ok\n", f"the public /healthz shows more than up/down: {status} {body[:200]!r}")
    print("smoke: public healthz answers ok without details")

    email = args.staff
    name, run_id, uids = pick_enrolment(email)
    staff = Client(args.base_url)
    staff.log_in(email, args.password)
    token = staff.csrf_token(f"/runs/{run_id}")
    status, headers, _ = staff.request(f"/runs/{run_id}/enrol", {"csrf_token": token, "note": "Smoke test"})
    check(status == 302, f"enrolment in run {run_id} answered {status}")
    status, _, body = staff.request("/me/courses")
    check(status == 200, f"/me/courses answered {status}")
    print(f"smoke: {email} enrolled in run {run_id}")

    mails = wait_for(
        "an invitation per teaching day at the SMTP server", invitations_for(args.maildir, email, uids), 90
    )
    print(f"smoke: {len(mails)} invitations delivered: {', '.join(str(m['Subject']) for m in mails)}")

    coordinator = Client(args.base_url)
    coordinator.log_in(args.coordinator, args.password)
    status, headers, body = coordinator.request(f"/runs/{run_id}/participants.csv")
    check(status == 200 and "text/csv" in headers.get("Content-Type", ""), f"export answered {status}")
    check(name in body.decode("utf-8-sig", "replace"), "the export lacks the new participant")
    print("smoke: participant export ok")

    if args.locked and args.access_log:
        prove_login_limit(args.base_url, args.locked, args.password, args.access_log, other=args.staff)

    health = healthy()
    check(health is not None and health["outbox"]["failed"] == 0, f"outbox has failed mails: {health}")
    print("smoke: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
