"""Input no view could store: a NUL byte (PostgreSQL refuses it in text) or bytes that are not UTF-8, in the
path, the query string or a form, answer 400 with the normal error page and change nothing; huge numbers in
number fields are a message next to the field, never a database overflow. Ordinary Unicode passes."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.programmes.models import BudgetAllocation, Programme
from app.providers.models import Provider
from tests import factories
from tests.conftest import csrf_token_from, post_form

ERROR_PAGE = "Forespørgslen kunne ikke behandles."


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def as_coordinator(client, login_as, coordinator):
    login_as(coordinator)
    return client


def assert_refused(response):
    assert response.status_code == 400
    assert ERROR_PAGE in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["q=%00", "q=a%00b", "q=%ff", "q=%c3%28", "%00=x", "page=%00"])
def test_unreadable_query_strings_are_refused(as_coordinator, query):
    for url in ("/runs", "/users", "/providers", "/outbox", "/closed-days"):
        assert_refused(as_coordinator.get(f"{url}?{query}"))


def test_unreadable_paths_are_refused(client):
    assert_refused(client.get("/calendar/abc%00def.ics"))
    # The test client would decode %ff to U+FFFD itself; a real server passes the raw byte on as WSGI does.
    assert_refused(client.get("/calendar/x.ics", environ_overrides={"PATH_INFO": "/calendar/\xff\xfe.ics"}))


def test_a_nul_byte_in_a_form_field_is_refused_and_nothing_is_written(as_coordinator):
    response = post_form(as_coordinator, "/providers/new", {"name": "Ny\x00 udbyder", "active": "y"})
    assert_refused(response)
    assert count(Provider) == 0


def test_invalid_utf8_in_a_form_body_is_refused(as_coordinator):
    token = csrf_token_from(as_coordinator.get("/providers/new").get_data(as_text=True))
    body = f"csrf_token={token}&name=Udbyder%ff%fe&active=y".encode()
    response = as_coordinator.post("/providers/new", data=body, content_type="application/x-www-form-urlencoded")
    assert_refused(response)
    assert count(Provider) == 0


def test_a_raw_invalid_byte_in_a_form_body_is_refused(as_coordinator):
    token = csrf_token_from(as_coordinator.get("/providers/new").get_data(as_text=True))
    body = f"csrf_token={token}&name=".encode() + b"Udbyder \xe6\xf8\xe5"  # Latin-1, not UTF-8
    response = as_coordinator.post("/providers/new", data=body, content_type="application/x-www-form-urlencoded")
    assert_refused(response)
    assert count(Provider) == 0


@pytest.mark.parametrize("filename", ["medarbejdere\x00.csv", "medarbejdere.csv"])
def test_multipart_uploads_with_nul_are_refused(as_coordinator, filename):
    token = csrf_token_from(as_coordinator.get("/users/import").get_data(as_text=True))
    data = {"csrf_token": token, "file": (io.BytesIO(b"Navn;E-mail\nA;a@b.dk\n"), filename)}
    if "\x00" not in filename:
        data["extra"] = "x\x00y"
    response = as_coordinator.post("/users/import", data=data, content_type="multipart/form-data")
    assert_refused(response)


def test_ordinary_unicode_passes(as_coordinator):
    name = "Udbyder 🎓 Ærø ‮שלום‬ <b>&amp;</b> '; DROP TABLE providers; --"
    response = post_form(as_coordinator, "/providers/new", {"name": name, "active": "y"})
    assert response.status_code == 302
    assert db.session.scalar(select(Provider.name)) == name


HUGE = "9" * 40


def test_huge_numbers_in_the_programme_form_are_field_errors(as_coordinator):
    data = {
        "name": "Indsats",
        "starts_on": "2008-01-01",
        "ends_on": "2009-12-31",
        "target_deadline": "2009-12-31",
        "target_runs": HUGE,
        "target_completed_staff": "9" * 5000,
    }
    response = post_form(as_coordinator, "/programmes/new", data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Antallet skal være mellem 0 og 100.000." in page
    assert "Skriv antallet af medarbejdere som et helt tal." in page  # beyond Python's int() digit limit
    assert count(Programme) == 0


def test_huge_numbers_in_the_allocation_form_are_field_errors(as_coordinator, fic_provider):
    programme = factories.make_programme()
    response = post_form(
        as_coordinator,
        f"/programmes/{programme.id}/allocations",
        {"provider_id": str(fic_provider.id), "year": HUGE, "amount": HUGE},
        form_url=f"/programmes/{programme.id}",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Året skal være mellem 2000 og 2100." in page
    assert "Beløbet skal være mellem 0 og 1.000.000.000 kr." in page
    assert count(BudgetAllocation) == 0


def test_huge_ids_and_pages_are_harmless(as_coordinator):
    assert as_coordinator.get(f"/runs?page={HUGE}").status_code == 200
    assert as_coordinator.get(f"/runs?programme={HUGE}&year={HUGE}").status_code == 200
    assert as_coordinator.get(f"/runs/{HUGE}").status_code == 404
