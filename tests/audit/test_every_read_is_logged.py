"""Every page that shows a person logs the read, naming that person (issue 20: "who saw my data").

The walk reuses the access matrix (tests/test_access_matrix.py): its world (every kind of object, owned by a
known persona) and its table of routes, so a new route is walked as soon as it is added there. For every GET
row and every persona the row lets in (200), the page is fetched and its body read as the user would read it
(HTML, CSV, JSON, the spreadsheet's XML, the PDF's text). Each person of the world whose name or e-mail
address is in it, other than the persona, must be named by an audit entry the request wrote with the persona
as actor: as its subject or among the persons it showed (audit_entry_subjects). `UNLOGGED` lists, with the
reason, the pages that may show someone without logging it.

Pages that show a person's data without their name (a provider's anonymous feedback texts) have their own
tests in tests/audit/test_who_saw_me.py: a walk over the body can't see them.
"""

from __future__ import annotations

import html
import io
import zipfile
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from app import create_app
from app.accounts.models import AccessLevel, User
from app.audit.models import AuditEntry, AuditEntrySubject
from app.extensions import db, limiter
from config import TestingConfig
from tests import test_access_matrix as matrix
from tests.conftest import IsolatedClient
from tests.databases import private_database_url

#: The people the world's signed links belong to (build_world: the reset link, the invitation).
LINK_OWNERS = frozenset({"glenn@test.dk", "ida@test.dk"})

Person = tuple[int, str, str, AccessLevel]  # id, name, email, access level

#: (endpoint, persona or "*") -> (who the page may show without a read entry, why).
UNLOGGED: dict[tuple[str, str], tuple[Callable[[Person], bool], str]] = {
    ("accounts.password_reset", "*"): (
        lambda p: p[2] in LINK_OWNERS,
        "the signed link is its owner's credential: the page greets whoever holds it with the owner's own "
        "address, and there is no other actor to log (the request is usually anonymous)",
    ),
    ("accounts.accept_invitation", "*"): (
        lambda p: p[2] in LINK_OWNERS,
        "as the password reset: the invitation link's owner is shown their own name and address",
    ),
    ("audit.my_data", "*"): (
        lambda p: True,
        "the person's own right-of-access file: the other names in it are of those who acted on or looked at "
        "their data (audit_about_me, seen_by), which GDPR art. 15 entitles them to know",
    ),
    ("courses.run_detail", "staff"): (
        lambda p: p[3] == AccessLevel.COORDINATOR,
        "the course coordinator's name and work address, given to staff as the contact after the deadline: a "
        "role's published contact, shown to every staff member on every run",
    ),
}


def _get_cells():
    for endpoint, cases in matrix.ROUTES.items():
        for case in cases:
            if case.method != "GET":
                continue
            for persona in matrix.PERSONAS:
                if case.expect[persona] == 200:
                    label = f"{endpoint}{' ' + case.variant if case.variant else ''} {persona}"
                    yield pytest.param(endpoint, case, persona, id=label)


@pytest.fixture(scope="module")
def world():
    # As the access matrix: a database of its own for the module's world.
    url = private_database_url("_reads")
    app = create_app(type("ReadsConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.drop_all()
        db.create_all()
        try:
            yield matrix.World(app, matrix.build_world())
        finally:
            db.session.rollback()
            db.session.remove()
            if db.engine.dialect.name == "sqlite":
                raw = db.engine.raw_connection()
                raw.driver_connection.execute("PRAGMA foreign_keys=OFF")
                raw.close()
            db.drop_all()
            db.engine.dispose()


def body_text(response) -> str:
    """What a reader of the response sees, as text."""
    body = response.get_data()
    if response.mimetype.endswith("spreadsheetml.sheet"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            xml = " ".join(archive.read(n).decode("utf-8") for n in archive.namelist() if n.endswith(".xml"))
        return html.unescape(xml)
    if response.mimetype == "application/pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    return html.unescape(body.decode("utf-8", "replace"))


def named_by(entries: list[AuditEntry]) -> set[int]:
    ids = {e.subject_id for e in entries if e.subject_id is not None}
    if entries:
        ids |= set(
            db.session.scalars(
                select(AuditEntrySubject.user_id).where(AuditEntrySubject.entry_id.in_([e.id for e in entries]))
            )
        )
    return ids


def unlogged_rule(endpoint: str, persona: str):
    return UNLOGGED.get((endpoint, persona)) or UNLOGGED.get((endpoint, "*"))


@pytest.mark.parametrize(("endpoint", "case", "persona"), list(_get_cells()))
def test_every_page_showing_a_person_logs_the_read(world, endpoint, case, persona):
    people: list[Person] = [
        tuple(row) for row in db.session.execute(select(User.id, User.name, User.email, User.access_level))
    ]
    me = next((p for p in people if p[2] == world.ids["emails"].get(persona)), None)
    before = db.session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))
    db.session.rollback()
    limiter.reset()
    client, _token = world.client(persona)
    response = client.get(world.url(case))
    assert response.status_code == 200

    text = body_text(response)
    shown = {p for p in people if p != me and (p[1] in text or p[2] in text)}
    rule = unlogged_rule(endpoint, persona)
    if rule is not None:
        shown = {p for p in shown if not rule[0](p)}
    written = list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.id > before, AuditEntry.actor_id == (me[0] if me else None))
        )
    )
    logged = named_by(written)
    db.session.rollback()
    missing = sorted(p[1] for p in shown if p[0] not in logged)
    assert not missing, (
        f"{persona} GET {world.url(case)} ({endpoint}) shows {missing} but logged no read naming them "
        f"(entries written: {[e.action for e in written]}). Log it where the view renders them "
        "(app.audit.services.record_read(..., shown=...) or record_shown), or add the page to UNLOGGED with "
        "the reason"
    )


def test_every_unlogged_page_is_a_route_the_walk_reaches():
    """An entry of UNLOGGED names a GET row and a persona it lets in, so a stale excuse can't linger."""
    walked = {(endpoint, persona) for endpoint, _case, persona in (p.values for p in _get_cells())}
    for endpoint, persona in UNLOGGED:
        assert any(e == endpoint and persona in ("*", p) for e, p in walked), (endpoint, persona)
