"""The fuzz suite's pieces: a deterministic hypothesis profile, a scene with something for every POST route
to act on, the forms found on a page (as a browser sees them), nasty text, and the table row counts that
tell a refused request from a half-written one.

Deterministic (`derandomize=True`): the same examples on every run and machine, so a failure is
reproducible and CI never flakes. `FUZZ_EXAMPLES` raises the number of examples per route for a longer
local hunt (default 10: the whole package stays well under a minute on SQLite)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pyotp
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.accounts.mfa import services as mfa
from app.accounts.models import unit_leaders
from app.accounts.signin import tokens
from app.core import clock
from app.courses.models import RunKind, RunStatus
from app.extensions import db
from app.integrations import services as integration_services
from app.notifications import outbox
from app.notifications.models import OutboxStatus
from app.scim.models import MappingKind, ScimValueMapping
from tests import factories

TODAY = date(2026, 3, 1)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))

FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=EXAMPLES,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    # One scene per test (function-scoped fixtures) serves all of its examples on purpose: every example
    # is checked against the row counts taken just before it.
    suppress_health_check=(HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large),
)

#: Marks a value the page's output must never contain unescaped.
SCRIPT_PROBE = "<script>alert('kp')</script>"
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\r\n",
    "\u202eRTL\u202c",
    "שלום עולם",
    "مرحبا",
    "🎓" * 60,
    "Ærø Å ø",
    "' OR 1=1 --",
    '"; DROP TABLE users; --',
    SCRIPT_PROBE,
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}",
    "{% raw %}",
    "%s%s%n",
    '=HYPERLINK("http://evil.example")',
    "../../etc/passwd",
    "javascript:alert(1)",
    "9" * 40,
    "-1",
    "0",
    "-0",
    "1e309",
    "NaN",
    "Infinity",
    "2.5",
    "1.000.000,50",
    "2008-02-30",
    "9999-12-31",
    "0001-01-01",
    "31-12-1899",
    "25:61",
    "24:00",
    "010180-1234",
    "null",
    "[]",
    "{}",
    "x" * 6000,
    "\ufeffBOM",
    "\ufffd",
    "\u0301",
    "a\u200bb",
]
nasty_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=2500),
)


# --- the forms on a page -----------------------------------------------------------------------------------


@dataclass
class FormField:
    name: str
    kind: str  # input type, "select", "textarea" or "button"
    values: list[str] = field(default_factory=list)  # options of a select/radio/checkbox, or the default value
    default: str | None = None


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: dict[str, FormField] = field(default_factory=dict)
    #: Where its buttons' `formaction` sends it instead (one form, two routes: MFA's code form).
    formactions: set[str] = field(default_factory=set)


class _FormParser(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: FormField | None = None
        self._textarea: FormField | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            action = urlsplit(urljoin(self.page_url, a.get("action", ""))).path
            self._form = Form(
                action=action,
                method=a.get("method", "get").lower(),
                enctype=a.get("enctype", "application/x-www-form-urlencoded"),
            )
            self.forms.append(self._form)
            return
        if self._form is not None and tag in ("button", "input") and a.get("formaction"):
            self._form.formactions.add(urlsplit(urljoin(self.page_url, a["formaction"])).path)
        if self._form is None or "name" not in a:
            if tag == "option" and self._select is not None:
                self._option(a)
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            existing = self._form.fields.get(name)
            if kind in ("checkbox", "radio"):
                existing = existing or self._form.fields.setdefault(name, FormField(name, kind))
                existing.values.append(a.get("value", "on"))
                if "checked" in a:
                    existing.default = a.get("value", "on")
            else:
                self._form.fields[name] = FormField(name, kind, [a.get("value", "")], a.get("value", ""))
        elif tag == "select":
            self._select = self._form.fields[name] = FormField(name, "select")
        elif tag == "textarea":
            self._textarea = self._form.fields[name] = FormField(name, "textarea", [""], "")
        elif tag == "button":
            self._form.fields.setdefault(name, FormField(name, "button", [a.get("value", "")], None))

    def _option(self, a):
        value = a.get("value", "")
        self._select.values.append(value)
        if "selected" in a or self._select.default is None:
            self._select.default = value

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.default = (self._textarea.default or "") + data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def forms_on(html: str, page_url: str) -> list[Form]:
    parser = _FormParser(page_url)
    parser.feed(html)
    return parser.forms


def form_data(form: Form | None, csrf_token: str, extra_names: tuple[str, ...] = ()):
    """A strategy for what a person (or an attacker) could submit: each field kept as the browser would
    send it, set to another of its options, to nasty text, or left out; plus now and then a stray field.
    The CSRF token is always the real one (a wrong token is refused before any view, and is tested
    elsewhere)."""
    parts = {}
    for f in form.fields.values() if form else []:
        if f.name == "csrf_token":
            continue
        choices = [st.sampled_from(f.values)] if f.values else []
        keep = [st.just(f.default)] if f.default is not None else []
        parts[f.name] = st.one_of(*keep, *choices, nasty_text, st.none())
    for name in extra_names:  # fields of a form that is not on the page (the import's confirmation)
        parts.setdefault(name, st.one_of(nasty_text, st.none()))
    extra = st.dictionaries(st.sampled_from(["id", "user_id", "status", "action", "next", "x"]), nasty_text, max_size=2)
    return st.tuples(st.fixed_dictionaries(parts), extra).map(
        lambda pair: {"csrf_token": csrf_token, **pair[1], **{k: v for k, v in pair[0].items() if v is not None}}
    )


# --- rows in every table -------------------------------------------------------------------------------------


def row_counts() -> dict[str, int]:
    """Every table's row count, in one statement."""
    tables = [t.name for t in db.metadata.sorted_tables]
    union = " UNION ALL ".join(f"SELECT '{name}', COUNT(*) FROM {name}" for name in tables)  # noqa: S608 (our names)
    return dict(db.session.execute(text(union)).all())


# --- the scene -------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: TODAY)


@pytest.fixture(autouse=True)
def private_instance_path(app, tmp_path):
    """Pending imports are written to the instance folder: keep them out of the real one."""
    app.instance_path = str(tmp_path / "instance")


@dataclass
class Scene:
    users: dict
    ids: dict  # ids and link tokens, for the `{...}` in a route's URL
    #: The authenticator-app secret of each user (by scene name) with a confirmed second factor.
    totp_secrets: dict = field(default_factory=dict)


@pytest.fixture
def scene(app, fic_provider) -> Scene:
    """Something for every POST route to act on: runs published, draft and past, enrolments in every state,
    feedback to give, a failed mail, reference data to edit and delete, link tokens for an invitation and a
    password reset, and users with, without and halfway to a second factor."""
    role = factories.make_staff_role("Sagsbehandler")
    unit = factories.make_unit("Socialcenter Amager")
    spare_role = factories.make_staff_role("Ubrugt rolle")
    spare_unit = factories.make_unit("Ubrugt enhed")
    method = factories.make_method("Familierådslagning")
    spare_method = factories.make_method("Ubrugt metode")
    programme = factories.make_programme(ends_on=date(2027, 12, 31), target_deadline=date(2027, 12, 31))
    allocation = factories.make_allocation(programme, fic_provider, 2026, 375_000)
    closed_day = factories.make_closed_day(date(2026, 6, 5), "Grundlovsdag")
    future = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))
    run = factories.make_course_run(
        programme,
        fic_provider,
        future,
        enrolment_deadline=date(2026, 4, 1),
        kind=RunKind.SPECIAL,
        capacity=3,
        title="Netværksmøder, hold 1",
    )
    other_run = factories.make_course_run(
        programme, fic_provider, future, enrolment_deadline=date(2026, 4, 1), title="Netværksmøder, hold 2"
    )
    draft = factories.make_course_run(programme, fic_provider, future, status=RunStatus.DRAFT, title="Kladde")
    past = factories.make_course_run(
        programme,
        fic_provider,
        (date(2025, 9, 1), date(2025, 9, 2), date(2025, 12, 1)),
        enrolment_deadline=date(2025, 8, 15),
        title="Afholdt forløb",
    )
    for r in (run, other_run, draft, past):
        r.eligible_roles.append(role)
        r.methods.append(method)
    db.session.commit()

    def staff(name):
        return factories.make_user(access_level="staff", staff_role=role, unit=unit, name=name)

    coordinator = factories.make_user(access_level="coordinator", name="Karin Koordinator")
    provider_user = factories.make_user(access_level="provider", provider=fic_provider, name="Frida FIC")
    newcomer, enrolled, requested, waiting, participant = (
        staff(n) for n in ("Nina Ny", "Ebbe Tilmeldt", "Rita Anmodet", "Valdemar Venter", "Pia Deltager")
    )
    confirmed = factories.make_enrolment(run, enrolled, "confirmed")
    asked = factories.make_enrolment(run, requested, "requested")
    # A leader of the unit, and the request waiting for them (the coordinator may also decide in their place).
    leader = staff("Lene Leder")
    db.session.execute(unit_leaders.insert().values(unit_id=unit.id, user_id=leader.id))
    asked.awaits_leader = True
    waitlisted = factories.make_enrolment(run, waiting, "waitlisted")
    done = factories.make_enrolment(past, participant, "confirmed")
    for day in past.days:
        factories.make_attendance(done, day, present=True)

    integration, _token = integration_services.create_client(
        actor=coordinator, name="HR-systemet", scopes=["runs:read"], now=clock.utcnow()
    )
    mapping = ScimValueMapping(kind=MappingKind.TITLE, value_key="socialrådgiver", value="Socialrådgiver")
    db.session.add(mapping)
    db.session.flush()

    message = EmailMessage()
    message["Subject"] = "Prøve"
    message.set_content("Prøve")
    queued = outbox.enqueue(
        message,
        kind="notice",
        dedupe_key="fuzz:1",
        recipient_email=enrolled.email,
        now=datetime(2026, 2, 1, tzinfo=UTC),
        user_id=enrolled.id,
        run_id=run.id,
    )
    queued.status = OutboxStatus.FAILED
    db.session.commit()

    # Accounts: a staff member with an invitation and no password yet, one who asked for a reset link, one with
    # a confirmed authenticator app (and recovery codes), one halfway through setting one up.
    now = clock.utcnow()
    invitee = factories.make_user(
        access_level="staff", password=None, name="Ida Inviteret", invitation_sent_at=tokens.invitation_stamp(now)
    )
    forgetful = staff("Glenn Glemsom")
    with_mfa = staff("Mona Totrin")
    credential = mfa.start_enrolment(with_mfa, now=now)
    secret = credential.secret
    assert mfa.confirm_enrolment(credential, pyotp.TOTP(secret).at(now), now=now, pending=False)
    credential.last_used_step = None  # the login's code may come from the same time-step
    enrolling = staff("Ulrik Undervejs")
    mfa.start_enrolment(enrolling, now=now)
    db.session.commit()

    return Scene(
        users={
            "coordinator": coordinator,
            "provider": provider_user,
            "newcomer": newcomer,
            "enrolled": enrolled,
            "participant": participant,
            "with_mfa": with_mfa,
            "enrolling": enrolling,
            "leader": leader,
        },
        ids={
            "run": run.id,
            "other_run": other_run.id,
            "draft": draft.id,
            "past": past.id,
            "past_day": past.days[0].id,
            "confirmed": confirmed.id,
            "requested": asked.id,
            "waitlisted": waitlisted.id,
            "done": done.id,
            "method": spare_method.id,
            "role": spare_role.id,
            "unit": spare_unit.id,
            "user": newcomer.id,
            "closed_day": closed_day.id,
            "programme": programme.id,
            "allocation": allocation.id,
            "provider": fic_provider.id,
            "message": queued.id,
            "invitee": invitee.id,
            "invitation": tokens.make_invitation_token(invitee),
            "reset": tokens.make_reset_token(forgetful),
            "with_mfa": with_mfa.id,
            "leaver": enrolled.id,
            "integration": integration.id,
            "mapping": mapping.id,
        },
        totp_secrets={"with_mfa": secret},
    )
