"""Free-text fields where someone might write about citizens refuse a CPR number (a message next to the
field, nothing saved) and show the standing hint; the staff import refuses a row with a CPR-looking value in
any column."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import func, select

from app.accounts.importing import parse_staff_file
from app.accounts.models import User
from app.calendar.forms import ClosedDayForm
from app.calendar.models import ClosedDay
from app.courses.forms import CourseRunForm, MethodForm
from app.courses.models import RunKind
from app.enrolment.coordinator_forms import CoordinatorEnrolForm
from app.enrolment.forms import EnrolForm
from app.enrolment.models import Enrolment
from app.extensions import db
from app.programmes.feedback_forms import FeedbackForm
from app.programmes.forms import ProgrammeForm
from app.providers.forms import ProviderForm
from app.providers.models import Provider
from tests import factories
from tests.conftest import post_form

CPR_TEXT = "Sagen om drengen (cpr 010180-1234) og hans forældre"
MESSAGE = "Feltet ser ud til at indeholde et CPR-nummer. Skriv ikke borgeres personoplysninger her."
HINT = "Skriv ikke navne, CPR-numre eller andre oplysninger om borgere."

GUARDED = [
    (EnrolForm, "practice_case"),
    (EnrolForm, "note"),
    (CoordinatorEnrolForm, "practice_case"),
    (CoordinatorEnrolForm, "note"),
    (FeedbackForm, "free_text"),
    (ProviderForm, "notes"),
    (CourseRunForm, "description"),
    (MethodForm, "description"),
    (ClosedDayForm, "reason"),
    (ProgrammeForm, "description"),
    (ProgrammeForm, "effect_target"),
]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("form_class, name", GUARDED, ids=lambda v: getattr(v, "__name__", v))
def test_the_field_refuses_a_cpr_number_and_carries_the_hint_flag(app, form_class, name):
    with app.test_request_context(method="POST", data={name: CPR_TEXT}):
        form = form_class(meta={"csrf": False})
        field = form[name]
        assert field.flags.no_personal_data
        field.validate(form)
        assert MESSAGE in [str(error) for error in field.errors]
    with app.test_request_context(method="POST", data={name: "Vegetar; ring 33 66 33 66 efter 1. oktober 2008"}):
        form = form_class(meta={"csrf": False})
        form[name].validate(form)
        assert MESSAGE not in [str(error) for error in form[name].errors]


@pytest.fixture
def as_coordinator(client, login_as, coordinator):
    login_as(coordinator)
    return client


def test_the_hint_is_under_the_field_and_named_by_it(as_coordinator):
    page = as_coordinator.get("/providers/new").get_data(as_text=True)
    description = "F.eks. kontraktens vilkår eller hvad udbyderen underviser i."
    assert f'<span class="form-hint" id="notes-hint">{description} {HINT}</span>' in page
    assert 'aria-describedby="notes-hint"' in page
    page = as_coordinator.get("/closed-days/new").get_data(as_text=True)
    assert HINT in page


def test_provider_notes_with_a_cpr_number_are_not_saved(as_coordinator):
    response = post_form(as_coordinator, "/providers/new", {"name": "Ny udbyder", "notes": CPR_TEXT, "active": "y"})
    assert response.status_code == 200
    assert MESSAGE in response.get_data(as_text=True)
    assert count(Provider) == 0


def test_a_closed_day_reason_with_a_cpr_number_is_not_saved(as_coordinator):
    response = post_form(as_coordinator, "/closed-days/new", {"day": "2026-06-05", "reason": "Lukket 0101801234"})
    assert response.status_code == 200
    assert MESSAGE in response.get_data(as_text=True)
    assert count(ClosedDay) == 0


def test_a_staff_member_cannot_enrol_with_a_cpr_number_in_the_practice_case(client, login_as, monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: date(2026, 3, 1))
    run = factories.make_course_run(
        days=(date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15)),
        enrolment_deadline=date(2026, 4, 1),
        kind=RunKind.SPECIAL,
    )
    (me,) = factories.make_eligible_staff(run, 1)
    login_as(me)
    response = post_form(client, f"/runs/{run.id}/enrol", {"practice_case": CPR_TEXT}, form_url=f"/runs/{run.id}")
    assert response.status_code == 200
    assert MESSAGE in response.get_data(as_text=True)
    assert count(Enrolment) == 0


# --- the staff import ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def private_instance_path(app, tmp_path):
    app.instance_path = str(tmp_path / "instance")


def csv_bytes(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def test_parsing_names_every_column_with_a_cpr_number_also_ignored_ones():
    rows = parse_staff_file(
        csv_bytes(
            "Navn;E-mail;Stillingsbetegnelse;Enhed;CPR;Telefon;",
            "Åse Ø;ase@kk.dk;Sagsbehandler;Amager;010180-1234;33663366;0202021234",
            "Bo B;bo@kk.dk;Sagsbehandler;Amager;;33663366;",
        ),
        "ansatte.csv",
    )
    assert rows[0].cpr_columns == ("CPR", "kolonne 7")
    assert rows[1].cpr_columns == ()


def test_a_row_with_a_cpr_number_is_an_error_and_blocks_the_import(as_coordinator):
    factories.make_staff_role("Sagsbehandler")
    factories.make_unit("Amager")
    users_before = count(User)
    content = csv_bytes(
        "Navn;E-mail;Stillingsbetegnelse;Enhed;Personnummer",
        "Åse Ø;ase@kk.dk;Sagsbehandler;Amager;",
        "Bo B 0101801234;bo@kk.dk;Sagsbehandler;Amager;",
        "Cai C;cai@kk.dk;Sagsbehandler;Amager;311299-4321",
    )
    response = post_form(
        as_coordinator,
        "/users/import",
        {"file": (io.BytesIO(content), "ansatte.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Rækken ser ud til at indeholde et CPR-nummer (Navn)." in page
    assert "Rækken ser ud til at indeholde et CPR-nummer (Personnummer)." in page
    assert 'name="token"' not in page  # nothing to confirm
    assert count(User) == users_before
