"""A run held last autumn: Åse and Łukasz completed it (present every day), Bjørn missed the follow-up day,
Carl is on the waiting list. Helpers to read a PDF back and to check a code on the public page."""

from __future__ import annotations

import io
import re
from datetime import date, time

import pytest

from tests import factories
from tests.conftest import post_form

DAYS = (date(2025, 10, 6), date(2025, 10, 7), date(2026, 1, 12))


@pytest.fixture
def run(app, fic_provider):
    run = factories.make_course_run(
        provider=fic_provider, days=DAYS, title="Familierådslagning – hold 3", enrolment_deadline=date(2025, 9, 20)
    )
    method = factories.make_method("Familierådslagning")
    method.name_en = "Family group conference"
    run.methods.append(method)
    run.days[2].ends_at = time(12, 0)  # the follow-up day is a morning: 6.5 + 6.5 + 3 = 16 hours
    factories.db.session.commit()
    return run


@pytest.fixture
def scene(run):
    role = factories.make_staff_role("Sagsbehandler", name_en="Caseworker")
    run.eligible_roles.append(role)

    def person(name, email, status="confirmed", present=(True, True, True), **kw):
        user = factories.make_user(name=name, email=email, staff_role=role, **kw)
        enrolment = factories.make_enrolment(run, user, status=status)
        if status == "confirmed":
            for day, mark in zip(run.days, present, strict=True):
                if mark is not None:
                    factories.make_attendance(enrolment, day, mark)
        return enrolment

    return {
        "aase": person("Åse Ærø", "aase@test.dk"),
        "lukasz": person("Łukasz Nguyễn", "lukasz@test.dk", locale="en"),
        "bjoern": person("Bjørn Østergård", "bjoern@test.dk", present=(True, True, False)),
        "carl": person("Carl Nielsen", "carl@test.dk", status="waitlisted"),
    }


def pdf_pages(body: bytes) -> list[str]:
    from pypdf import PdfReader

    assert body.startswith(b"%PDF"), body[:40]
    return [page.extract_text() for page in PdfReader(io.BytesIO(body)).pages]


def flat(text: str) -> str:
    """The text with its line breaks as spaces (a long line wraps on the page)."""
    return " ".join(text.split())


CODE_RE = re.compile(r"(?:Kontrolkode|Verification code): ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})")


def code_on(page_text: str) -> str:
    match = CODE_RE.search(page_text)
    assert match, page_text
    return match.group(1)


def check(client, code: str, **kwargs):
    """Type `code` into the public verification page's form."""
    return post_form(client, "/verify", {"code": code}, **kwargs)
