"""Free-text fields where someone might write about citizens refuse a CPR number (a message next to the
field, nothing saved) and show the standing hint; names, titles, venues and contact details refuse one too
(without the hint); the staff import refuses a row with a CPR-looking value in any column. The fields are
reached through the real pages, with the number written the ways people (and word processors) write it.
tests/security/test_cpr_every_field.py checks that no text field lacks the guard."""

from __future__ import annotations

import io
import re
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from app.accounts.directory.importing import ImportFileError, parse_staff_file
from app.accounts.models import StaffRole, Unit, User
from app.calendar.forms import ClosedDayForm
from app.calendar.models import ClosedDay
from app.courses.forms import CourseRunForm, MethodForm
from app.courses.models import CourseRun, Method, RunKind
from app.enrolment.coordinator_forms import CoordinatorEnrolForm
from app.enrolment.forms import EnrolForm
from app.enrolment.models import Enrolment
from app.extensions import db
from app.programmes.feedback_forms import FeedbackForm
from app.programmes.forms import ProgrammeForm
from app.programmes.models import Programme
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

#: A CPR number written as people write it: full width, dots, a line break, zero-width characters.
VARIANTS = [
    "\uff10\uff11\uff10\uff12\uff10\uff13-\uff11\uff12\uff13\uff14",
    "01.02.03-1234",
    "0102 03 1234",
    "010203/1234",
    "010203 - 1234",
    "0102\u200b03-12\u00ad34",
    "010203-\n1234",
]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def error_next_to(page: str, field_id: str) -> str:
    """The error message(s) rendered next to the field `field_id` (the forms macro's error span)."""
    opening = f'<span class="form-error-message" id="{re.escape(field_id)}-error">'
    return " ".join(re.findall(rf"{opening}(?:<span[^>]*>[^<]*</span>)?([^<]*)</span>", page))


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


def test_a_header_cell_with_a_cpr_number_refuses_the_file():
    with pytest.raises(ImportFileError) as refused:
        parse_staff_file(
            csv_bytes("Navn;E-mail;Stillingsbetegnelse;Enhed;01.02.03-1234", "Åse Ø;ase@kk.dk;Sagsbehandler;Amager;"),
            "ansatte.csv",
        )
    assert "Overskriftsrækken (række 1) ser ud til at indeholde et CPR-nummer i kolonne 5." in str(refused.value)


# --- names, titles, venues and contact details: the same guard, through the real pages ---------------------


@pytest.mark.parametrize("cpr", VARIANTS)
def test_a_user_name_with_a_cpr_number_is_refused_next_to_the_field(as_coordinator, cpr):
    users_before = count(User)
    data = {"name": f"Bo Berg {cpr}", "email": "bo@kk.dk", "access_level": "staff", "active": "y"}
    response = post_form(as_coordinator, "/users/new", data)
    assert response.status_code == 200
    assert MESSAGE in error_next_to(response.get_data(as_text=True), "name")
    assert count(User) == users_before


@pytest.mark.parametrize(
    "url, data, field, model",
    [
        ("/units/new", {"name": "Team 0102 03 1234", "parent_id": ""}, "name", Unit),
        ("/staff-roles/new", {"name": "Sagsbehandler", "name_en": "Caseworker 01.02.03-1234"}, "name_en", StaffRole),
        (
            "/methods/new",
            {"name": "Metode \uff10\uff11\uff10\uff12\uff10\uff13-\uff11\uff12\uff13\uff14"},
            "name",
            Method,
        ),
        (
            "/providers/new",
            {"name": "Udbyder", "contact_name": "Hanne 010203-\n1234", "active": "y"},
            "contact_name",
            Provider,
        ),
        (
            "/providers/new",
            {"name": "Udbyder", "contact_email": "0102031234@udbyder.dk", "active": "y"},
            "contact_email",
            Provider,
        ),
        (
            "/providers/new",
            {"name": "Udbyder", "contact_phone": "010203 - 1234", "active": "y"},
            "contact_phone",
            Provider,
        ),
        (
            "/programmes/new",
            {
                "name": "Indsats 010203/1234",
                "starts_on": "2008-01-01",
                "ends_on": "2009-12-31",
                "target_deadline": "2009-12-31",
                "target_runs": "5",
                "target_completed_staff": "100",
            },
            "name",
            Programme,
        ),
    ],
    ids=["unit", "staff-role-en", "method", "contact-name", "contact-email", "contact-phone", "programme"],
)
def test_names_and_contact_details_refuse_a_cpr_number(as_coordinator, url, data, field, model):
    before = count(model)
    response = post_form(as_coordinator, url, data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert MESSAGE in error_next_to(page, field)
    assert count(model) == before
    hint = re.search(rf'<span class="form-hint" id="{field}-hint">([^<]*)</span>', page)
    assert hint is None or HINT not in hint.group(1)  # a name field has no "do not write names" hint


def test_a_json_body_is_refused_the_same_way(as_coordinator):
    """Flask-WTF also reads a JSON body (a scripted client): the guard is the form's, so it holds there too."""
    page = as_coordinator.get("/units/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = as_coordinator.post(
        "/units/new", json={"name": "Team 0102\u200b03-1234", "parent_id": ""}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200
    assert MESSAGE in error_next_to(response.get_data(as_text=True), "name")
    assert count(Unit) == 0


def test_editing_a_provider_with_a_cpr_number_in_a_field_changes_nothing(as_coordinator):
    provider = factories.make_provider(name="Familien i Centrum", contact_name="Hanne Hansen")
    db.session.commit()
    response = post_form(
        as_coordinator,
        f"/providers/{provider.id}/edit",
        {"name": "Familien i Centrum", "contact_name": "Hanne 01.02.03-1234", "notes": "Ny note", "active": "y"},
    )
    assert response.status_code == 200
    assert MESSAGE in error_next_to(response.get_data(as_text=True), "contact_name")
    db.session.expire_all()
    assert (provider.contact_name, provider.notes) == ("Hanne Hansen", None)


def test_numbers_that_are_no_cpr_number_are_saved(as_coordinator):
    response = post_form(
        as_coordinator,
        "/providers/new",
        {
            "name": "Udbyder ApS, CVR 12345678",
            "contact_name": "Hanne Hansen",
            "contact_phone": "+45 33 66 33 66",
            "notes": "Kontrakt 01.02.2026-31.12.2026, 1.234.567 kr. Kl. 09.00-15.30, Gade 12, 1620 København V.",
            "active": "y",
        },
    )
    assert response.status_code == 302
    assert count(Provider) == 1


@pytest.fixture
def run_reference(app, coordinator, monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: date(2008, 9, 1))
    data = {
        "programme": factories.make_programme(name="Styrket forældreansvar"),
        "provider": factories.make_provider(name="Vilde Læreprocesser"),
        "method": factories.make_method("Netværksmøder"),
        "role": factories.make_staff_role("Sagsbehandler"),
    }
    db.session.commit()
    return data


def run_payload(ref, **overrides) -> dict:
    return {
        "programme_id": str(ref["programme"].id),
        "provider_id": str(ref["provider"].id),
        "title": "Netværksmøder i praksis, hold 1",
        "kind": "standard",
        "methods": [str(ref["method"].id)],
        "staff_roles": [str(ref["role"].id)],
        "capacity": "12",
        "enrolment_deadline": "2008-09-15",
        "venue": "Socialcenter Nørrebro, 2200 København N",
        "price": "41.500",
        "day1_date": "2008-09-30",
        "day1_start": "09:00",
        "day1_end": "15:30",
        "day2_date": "2008-10-01",
        "day2_start": "09:00",
        "day2_end": "15:30",
        "follow_up_start": "09:00",
        "follow_up_end": "12:00",
        "action": "save",
        **overrides,
    }


@pytest.mark.parametrize(
    "field, value",
    [
        ("title", "Hold for familien 0102 03 1234"),
        ("venue", "Hos familien, \uff10\uff11\uff10\uff12\uff10\uff13-\uff11\uff12\uff13\uff14"),
        ("day2_venue", "Hjemme hos 01.02.03-\n1234"),
        ("description", "Sagen 0102\u200b03-1234"),
    ],
)
def test_a_course_run_refuses_a_cpr_number_in_its_texts(client, login_as, coordinator, run_reference, field, value):
    login_as(coordinator)
    response = post_form(client, "/runs/new", run_payload(run_reference, **{field: value}))
    assert response.status_code == 200
    assert MESSAGE in error_next_to(response.get_data(as_text=True), field)
    assert count(CourseRun) == 0


def test_a_course_run_with_dates_times_and_a_postcode_in_its_texts_is_saved(
    client, login_as, coordinator, run_reference
):
    login_as(coordinator)
    data = run_payload(
        run_reference,
        title="Hold 2, 30.09.08 og 01.10.08",
        description="Kl. 09.00-15.30 begge dage; ring 33 66 33 66. Pris 41.500 kr.",
    )
    assert post_form(client, "/runs/new", data).status_code == 302
    assert count(CourseRun) == 1


# --- the staff import: variants, XLSX, and the message in English ---------------------------------------


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def import_file(client, content: bytes, filename: str):
    return post_form(
        client, "/users/import", {"file": (io.BytesIO(content), filename)}, content_type="multipart/form-data"
    )


@pytest.mark.parametrize("cpr", VARIANTS)
def test_the_import_refuses_a_cpr_number_in_a_name_cell_however_it_is_written(as_coordinator, cpr):
    factories.make_staff_role("Sagsbehandler")
    factories.make_unit("Amager")
    users_before = count(User)
    content = xlsx_bytes(
        [
            ["Navn", "E-mail", "Stillingsbetegnelse", "Enhed"],
            ["Åse Ø", "ase@kk.dk", "Sagsbehandler", "Amager"],
            [f"Bo B {cpr}", "bo@kk.dk", "Sagsbehandler", "Amager"],
        ]
    )
    response = import_file(as_coordinator, content, "ansatte.xlsx")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    row = re.search(r"<tr>\s*<td>3</td>.*?</tr>", page, re.S).group(0)  # the row's line number, then its cells
    assert "Rækken ser ud til at indeholde et CPR-nummer (Navn)." in row
    assert "Intet er importeret" in page
    assert 'name="token"' not in page
    assert count(User) == users_before


def test_the_import_says_it_in_english_too(client, login_as):
    login_as(factories.make_user(access_level="coordinator", email="en@kk.dk", locale="en"))
    factories.make_staff_role("Sagsbehandler")
    factories.make_unit("Amager")
    content = csv_bytes("Navn;E-mail;Stillingsbetegnelse;Enhed", "Bo B 01.02.03-1234;bo@kk.dk;Sagsbehandler;Amager")
    page = import_file(client, content, "ansatte.csv").get_data(as_text=True)
    assert "The row appears to contain a CPR number (Navn)." in page
    content = csv_bytes("Navn;E-mail;Stillingsbetegnelse;Enhed;010203-1234", "Bo B;bo@kk.dk;Sagsbehandler;Amager;")
    page = import_file(client, content, "ansatte.csv").get_data(as_text=True)
    assert "The header row (row 1) appears to contain a CPR number in column 5." in page
    assert count(User) == 1
