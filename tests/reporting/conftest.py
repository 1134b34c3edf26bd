"""A run with every kind of enrolment the participant lists show (and two they leave out), and helpers to
read the files back: csv with `;` and the BOM, openpyxl, pypdf."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from tests import factories
from tests.querycount import recorded_statements

DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))
#: 09.15 UTC = 10.15 in Copenhagen (winter time); CHANGED 13.45 UTC = 14.45.
ENROLLED = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
CHANGED = datetime(2026, 3, 20, 13, 45, tzinfo=UTC)

#: Values a spreadsheet would run as formulas, as people might type them into a note or a name.
EVIL_NAME = '=HYPERLINK("http://evil.example","Klik")'
EVIL_NOTES = {
    "plus": "+45 12 34 56 78",
    "minus": "-glutenfri",
    "at": "@SUM(1+1)",
    "tab": "\tgemt",
    "cr": "\rgemt",
}


@pytest.fixture
def run(app, fic_provider):
    return factories.make_course_run(
        provider=fic_provider,
        days=DAYS,
        capacity=10,
        enrolment_deadline=date(2026, 4, 1),
        title="Familierådslagning – hold 1",
        venue="Kursuscenter Valby",
    )


@pytest.fixture
def scene(run):
    """Confirmed: Åse Ærø (present every day: completed), Bjørn Østergård (day 1 only), the formula name;
    waiting list: Ida, then Carl; cancelled: Dorte; moved: Erik; requested and rejected: left out."""
    role = factories.make_staff_role("Sagsbehandler", name_en="Caseworker")
    run.eligible_roles.append(role)
    unit = factories.make_unit("Socialcenter Østerbro")

    def person(name, status="confirmed", note=None, **kw):
        user = factories.make_user(name=name, staff_role=role, unit=unit)
        kw.setdefault("created_at", ENROLLED)
        kw.setdefault("status_changed_at", CHANGED)
        return factories.make_enrolment(run, user, status=status, note=note, **kw)

    aase = person("Åse Ærø", note="Vegetar, ingen nødder")
    bjoern = person("Bjørn Østergård", note=EVIL_NOTES["plus"])
    evil = person(EVIL_NAME, note=EVIL_NOTES["minus"])
    ida = person("Ida Åberg", "waitlisted", note=EVIL_NOTES["at"])
    carl = person("Carl Nielsen", "waitlisted", note=EVIL_NOTES["tab"])
    dorte = person("Dorte Dahl", "cancelled", note=EVIL_NOTES["cr"])
    erik = person("Erik Moved", "moved")
    person("Rikke Requested", "requested")
    person("Rune Rejected", "rejected")
    for day in run.days:
        factories.make_attendance(aase, day, True)
    factories.make_attendance(bjoern, run.days[0], True)
    factories.make_attendance(bjoern, run.days[1], False)
    return {"aase": aase, "bjoern": bjoern, "evil": evil, "ida": ida, "carl": carl, "dorte": dorte, "erik": erik}


@pytest.fixture
def other_provider_user(app):
    vilde = factories.make_provider(name="Vilde Læreprocesser")
    return factories.make_user(access_level="provider", provider=vilde, email="vilde@test.dk", name="Vera Vilde")


def export_url(run, fmt: str) -> str:
    return f"/runs/{run.id}/participants.{fmt}"


def read_csv(body: bytes) -> list[list[str]]:
    """Parse as Excel does with a Nordic list separator: BOM first, then `;`-separated UTF-8."""
    assert body.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))


def pdf_text(body: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(body))
    return "\n".join(page.extract_text() for page in reader.pages)


def record_statements(client, url: str) -> tuple[list[str], bytes]:
    """The SQL statements a GET of `url` sends (the body read inside, so a streamed one counts too)."""
    with recorded_statements() as statements:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data()
    return statements, body
