"""Smoke test of a running installation over HTTP: health, staff login and enrolment, the invitation
arriving at the mail server, the coordinator's participant export. Used by deploy/smoke.sh (and CI).

    python deploy/smoke.py --base-url http://127.0.0.1:8000 --maildir /tmp/mail

It reads the database only to pick a run the demo staff member may enrol in (the same rule the run list
uses); everything the users do goes through HTTP, with a cookie jar like a browser's.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import mailbox
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from email import message_from_bytes
from email.policy import default as default_policy

COORDINATOR = "koordinator@demo.test"


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

    def request(self, path: str, data: dict | None = None) -> tuple[int, dict, bytes]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base_url + path, data=body)  # noqa: S310 (http://, from --base-url)
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


def pick_enrolment() -> tuple[str, str, int, set[str]]:
    """A demo staff member and a standard run with a free seat they may enrol in and aren't enrolled in
    yet (so the enrolment is confirmed at once and invited; a special run's waits for approval): their
    email and name, the run's id and the calendar UIDs of its teaching days."""
    from sqlalchemy import select

    from app import create_app
    from app.accounts.models import User
    from app.core import clock
    from app.core.access import AccessLevel
    from app.courses.models import CourseRun
    from app.enrolment.services import active_enrolment, self_enrolment_refusal
    from app.extensions import db
    from app.notifications.ical import event_uid

    with create_app().app_context():
        runs = [
            r
            for r in db.session.scalars(select(CourseRun).order_by(CourseRun.id))
            if not r.is_special and r.seats_left > 0
        ]
        staff = db.session.scalars(
            select(User)
            .where(User.access_level == AccessLevel.STAFF, User.email.like("medarbejder%@demo.test"))
            .order_by(User.email)
        )
        for user in staff:
            for run in runs:
                may_enrol = self_enrolment_refusal(user, run, clock.today()) is None
                if may_enrol and active_enrolment(user.id, run.id) is None:
                    return user.email, user.name, run.id, {event_uid(day) for day in run.teaching_days}
    check(False, "no standard run with a free seat is open to a demo staff member")
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
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--password", default="kursus-demo-2008")
    args = parser.parse_args()

    anonymous = Client(args.base_url)

    def healthy():
        try:
            status, _, body = anonymous.request("/healthz")
        except urllib.error.URLError:  # gunicorn isn't listening yet
            return None
        return json.loads(body) if status == 200 else None

    health = wait_for("/healthz to answer 200 with a scheduler heartbeat", healthy, 60)
    check(health["scheduler"]["status"] == "ok", f"scheduler not ok: {health}")
    print(f"smoke: healthz ok {health}")

    email, name, run_id, uids = pick_enrolment()
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
    coordinator.log_in(COORDINATOR, args.password)
    status, headers, body = coordinator.request(f"/runs/{run_id}/participants.csv")
    check(status == 200 and "text/csv" in headers.get("Content-Type", ""), f"export answered {status}")
    check(name in body.decode("utf-8-sig", "replace"), "the export lacks the new participant")
    print("smoke: participant export ok")

    health = healthy()
    check(health is not None and health["outbox"]["failed"] == 0, f"outbox has failed mails: {health}")
    print("smoke: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
