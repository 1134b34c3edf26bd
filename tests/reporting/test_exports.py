"""The participant list files read back as their readers would: csv with `;` and the BOM (as Danish Excel),
openpyxl, pypdf; file names; the download log; the run page's links and the provider's way there."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from urllib.parse import quote

import openpyxl
import pytest
from sqlalchemy import select

from app.courses.models import RunKind
from app.extensions import db
from app.reporting.exports import danish_sort_key
from app.reporting.models import ExportDownload, ExportFormat
from tests import factories
from tests.reporting.conftest import EVIL_NAME, EVIL_NOTES, export_url, pdf_text, read_csv


@pytest.fixture
def as_coordinator(login_as, coordinator):
    return login_as(coordinator)


def html(response) -> str:
    return response.get_data(as_text=True)


# -- CSV ---------------------------------------------------------------------------------------------


def test_csv_opens_in_danish_excel_and_keeps_the_sections_apart(client, as_coordinator, run, scene):
    response = client.get(export_url(run, "csv"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.is_streamed
    body = response.get_data()
    assert b"\r\n" in body and body.count(b"\r\n") == body.count(b"\n"), "every line ends with CRLF"

    rows = read_csv(body)
    header = rows[0]
    assert header[:8] == [
        "Navn",
        "E-mail",
        "Stillingsbetegnelse",
        "Enhed",
        "Status",
        "Nr. på venteliste",
        "Tilmeldt",
        "Status siden",
    ]
    assert header[-4:] == [
        "1. undervisningsdag 14-04-2026",
        "2. undervisningsdag 15-04-2026",
        "Opfølgningsdag 15-07-2026",
        "Gennemført",
    ]
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    # Confirmed first (Danish order: Ø and Å after Z), then the waiting list in queue order, then cancelled/moved.
    assert [row[0] for row in rows[1:]] == [
        "'" + EVIL_NAME,
        "Bjørn Østergård",
        "Åse Ærø",
        "Ida Åberg",
        "Carl Nielsen",
        "Dorte Dahl",
        "Erik Moved",
    ]
    assert "Rikke Requested" not in by_name and "Rune Rejected" not in by_name

    aase = by_name["Åse Ærø"]
    assert aase["Status"] == "Tilmeldt"
    assert aase["Enhed"] == "Socialcenter Østerbro"
    assert aase["Bemærkning"] == "Vegetar, ingen nødder"
    assert aase["Tilmeldt"] == "02-03-2026 10:15"  # 09:15 UTC is 10:15 in Copenhagen (winter time)
    assert aase["Status siden"] == "20-03-2026 14:45"
    assert [aase[h] for h in header[-4:]] == ["Mødt", "Mødt", "Mødt", "Ja"]
    bjoern = by_name["Bjørn Østergård"]
    assert [bjoern[h] for h in header[-4:]] == ["Mødt", "Ikke mødt", "", "Nej"]
    assert (by_name["Ida Åberg"]["Status"], by_name["Ida Åberg"]["Nr. på venteliste"]) == ("Venteliste", "1")
    assert by_name["Carl Nielsen"]["Nr. på venteliste"] == "2"
    assert by_name["Carl Nielsen"]["Gennemført"] == ""
    assert by_name["Dorte Dahl"]["Status"] == "Afmeldt"
    assert by_name["Erik Moved"]["Status"] == "Flyttet"


def test_csv_neutralises_every_formula_trigger(client, as_coordinator, run, scene):
    rows = read_csv(client.get(export_url(run, "csv")).get_data())
    notes = {row[0]: row[8] for row in rows[1:]}
    assert notes["'" + EVIL_NAME] == "'" + EVIL_NOTES["minus"]
    assert notes["Bjørn Østergård"] == "'" + EVIL_NOTES["plus"]
    assert notes["Ida Åberg"] == "'" + EVIL_NOTES["at"]
    assert notes["Carl Nielsen"] == "'" + EVIL_NOTES["tab"]
    assert notes["Dorte Dahl"] == "'" + EVIL_NOTES["cr"]
    dangerous = ("=", "+", "-", "@", "\t", "\r")
    assert not [cell for row in rows for cell in row if cell.startswith(dangerous)]


def test_csv_of_a_special_run_has_the_practice_case(client, as_coordinator, run):
    run.kind = RunKind.SPECIAL
    db.session.commit()
    (person,) = factories.make_eligible_staff(run, 1)
    factories.make_enrolment(run, person, practice_case="=Netværksmøde om skolestart")
    rows = read_csv(client.get(export_url(run, "csv")).get_data())
    column = rows[0].index("Sag eller netværksmøde")
    assert rows[1][column] == "'=Netværksmøde om skolestart"


# -- XLSX --------------------------------------------------------------------------------------------


def load_workbook(client, run):
    response = client.get(export_url(run, "xlsx"))
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(BytesIO(response.get_data()))


def test_xlsx_has_three_sheets_with_real_dates_and_a_frozen_filtered_bold_header(client, as_coordinator, run, scene):
    workbook = load_workbook(client, run)
    assert workbook.sheetnames == ["Deltagere", "Venteliste", "Afmeldte"]

    ws = workbook["Deltagere"]
    header = [c.value for c in ws[1]]
    assert header == [
        "Navn",
        "E-mail",
        "Stillingsbetegnelse",
        "Enhed",
        "Tilmeldt",
        "Bemærkning",
        "1. undervisningsdag 14-04-2026",
        "2. undervisningsdag 15-04-2026",
        "Opfølgningsdag 15-07-2026",
        "Gennemført",
    ]
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:J4"
    assert ws.column_dimensions["A"].width >= len(EVIL_NAME)
    names = [row[0].value for row in ws.iter_rows(min_row=2)]
    assert names == [EVIL_NAME, "Bjørn Østergård", "Åse Ærø"]
    aase = [c for c in ws[4]]
    assert aase[4].value == datetime(2026, 3, 2, 10, 15)
    assert aase[4].is_date and aase[4].number_format == "dd-mm-yyyy hh:mm"
    assert [c.value for c in aase[6:]] == ["Mødt", "Mødt", "Mødt", "Ja"]
    # The formula-looking name is a string cell, not a formula.
    assert ws["A2"].data_type == "s" and ws["A2"].value == EVIL_NAME

    waiting = workbook["Venteliste"]
    assert [c.value for c in waiting[1]][:2] == ["Nr.", "Navn"]
    assert [(r[0].value, r[1].value) for r in waiting.iter_rows(min_row=2)] == [(1, "Ida Åberg"), (2, "Carl Nielsen")]
    assert waiting["G2"].is_date and waiting["G2"].value == datetime(2026, 3, 20, 14, 45)

    cancelled = workbook["Afmeldte"]
    assert [(r[0].value, r[4].value) for r in cancelled.iter_rows(min_row=2)] == [
        ("Dorte Dahl", "Afmeldt"),
        ("Erik Moved", "Flyttet"),
    ]
    # Nothing anywhere is a formula.
    for sheet in workbook.worksheets:
        assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]


def test_xlsx_survives_control_characters_in_a_note(client, as_coordinator, run):
    (person,) = factories.make_eligible_staff(run, 1)
    factories.make_enrolment(run, person, note="kopieret\x0bfra\x07mail")
    ws = load_workbook(client, run)["Deltagere"]
    assert ws["F2"].value == "kopieret fra mail"


# -- PDF ---------------------------------------------------------------------------------------------


def test_the_sign_in_sheet_names_every_confirmed_participant_on_each_course_day(client, as_coordinator, run, scene):
    response = client.get(export_url(run, "pdf"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(response.get_data()))
    assert len(reader.pages) == 3  # one section (here one page) per course day
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert (round(width), round(height)) == (842, 595)  # A4 landscape in points
    confirmed = ["Åse Ærø", "Bjørn Østergård", EVIL_NAME]
    expected_days = [
        "1. undervisningsdag: tirsdag den 14. april 2026, kl. 09.00–15.30",
        "2. undervisningsdag: onsdag den 15. april 2026, kl. 09.00–15.30",
        "Opfølgningsdag: onsdag den 15. juli 2026, kl. 09.00–15.30",
    ]
    for page, day in zip(reader.pages, expected_days, strict=True):
        text = page.extract_text()
        assert "Familierådslagning – hold 1" in text
        assert day in text
        assert "Udbyder: Familien i Centrum" in text and "Sted: Kursuscenter Valby" in text
        assert "Underskrift" in text
        for name in confirmed:
            assert name in text
        for absent in ("Ida Åberg", "Carl Nielsen", "Dorte Dahl", "Erik Moved", "Rikke Requested"):
            assert absent not in text
        assert "Vegetar" not in text and "@test.dk" not in text  # notes and e-mails stay off the sheet


def test_the_sign_in_sheet_prints_names_beyond_latin_1(client, as_coordinator, run):
    names = ["Łukasz Wiśniewski", "Şahin Çelik", "Nguyễn Thị Hồng", "Zoë Ğürsel-Ørum"]
    for name, person in zip(names, factories.make_eligible_staff(run, len(names)), strict=True):
        person.name = name
        db.session.commit()
        factories.make_enrolment(run, person)
    text = pdf_text(client.get(export_url(run, "pdf")).get_data())
    for name in names:
        assert name in text


def test_a_character_the_font_lacks_becomes_a_question_mark_not_an_error(app):
    from app.reporting.exports import printable

    assert printable("Wang 王") == "Wang ?"
    assert printable("Åse\x07Ærø") == "Åse Ærø"
    assert printable(None) == ""


# -- empty and large ------------------------------------------------------------------------------


def test_an_empty_run_gives_valid_files(client, as_coordinator, run):
    rows = read_csv(client.get(export_url(run, "csv")).get_data())
    assert len(rows) == 1 and rows[0][0] == "Navn"
    workbook = load_workbook(client, run)
    assert [ws.max_row for ws in workbook.worksheets] == [1, 1, 1]
    text = pdf_text(client.get(export_url(run, "pdf")).get_data())
    assert text.count("Ingen tilmeldte deltagere.") == 3
    assert "Opfølgningsdag: onsdag den 15. juli 2026" in text


# -- file names, headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "word"), [("csv", "deltagere"), ("xlsx", "deltagere"), ("pdf", "underskriftsark")])
def test_file_names_carry_title_and_first_date_safely(client, as_coordinator, run, fmt, word):
    response = client.get(export_url(run, fmt))
    disposition = response.headers["Content-Disposition"]
    ascii_name = f"Familieraadslagning hold 1 2026-04-14 {word}.{fmt}"
    unicode_name = f"Familierådslagning hold 1 2026-04-14 {word}.{fmt}"
    assert disposition == f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(unicode_name, safe='')}"
    assert "no-store" in response.headers["Cache-Control"]


def test_a_hostile_title_gives_a_harmless_file_name(client, as_coordinator, run):
    run.title = 'CON/../"x"\r\n; filename=evil.exe'
    db.session.commit()
    disposition = client.get(export_url(run, "csv")).headers["Content-Disposition"]
    ascii_part = disposition.split(";")[1]
    assert ascii_part == ' filename="CON x filename evil exe 2026-04-14 deltagere.csv"'
    assert "/" not in disposition and "\r" not in disposition and "\n" not in disposition


def test_danish_sort_order():
    names = ["Åse", "Øjvind", "Ærø", "Zacharias", "Émile", "Łukasz", "anders", "Mads"]
    assert sorted(names, key=danish_sort_key) == [
        "anders",
        "Émile",
        "Łukasz",
        "Mads",
        "Zacharias",
        "Ærø",
        "Øjvind",
        "Åse",
    ]


# -- the download log ---------------------------------------------------------------------------------


def test_every_download_is_recorded_and_listed_for_the_coordinator(
    client, login_as, coordinator, provider_user, run, scene
):
    login_as(provider_user)
    for fmt in ("csv", "xlsx", "pdf"):
        assert client.get(export_url(run, fmt)).status_code == 200
    db.session.expire_all()
    logged = db.session.scalars(select(ExportDownload).order_by(ExportDownload.id)).all()
    assert [(d.user_id, d.course_run_id, d.format) for d in logged] == [
        (provider_user.id, run.id, ExportFormat.CSV),
        (provider_user.id, run.id, ExportFormat.XLSX),
        (provider_user.id, run.id, ExportFormat.PDF),
    ]
    assert [d.person_count for d in logged] == [7, 7, 3]  # the PDF names only the confirmed
    assert all(d.created_at is not None for d in logged)

    login_as(coordinator)
    page = html(client.get(f"/runs/{run.id}/participants/downloads"))
    assert "3 downloads" in page
    assert page.count("Frida FIC") == 3 and "(udbyder)" in page
    for label in ("CSV", "Excel (XLSX)", "PDF"):
        assert f"<td>{label}</td>" in page


def test_the_log_page_says_when_nothing_was_downloaded(client, as_coordinator, run):
    page = html(client.get(f"/runs/{run.id}/participants/downloads"))
    assert "Deltagerlisten for Familierådslagning – hold 1 er ikke hentet endnu." in page


# -- the run page and the provider's way there --------------------------------------------------------


def test_the_run_page_links_the_downloads_for_the_coordinator_with_the_log(client, as_coordinator, run):
    page = html(client.get(f"/runs/{run.id}"))
    for fmt in ("csv", "xlsx", "pdf"):
        assert f'href="/runs/{run.id}/participants.{fmt}"' in page
    assert f'href="/runs/{run.id}/participants/downloads"' in page


def test_a_provider_gets_from_login_to_the_list_in_two_clicks(client, login_as, provider_user, run, scene):
    login_as(provider_user)
    home = client.get("/")
    assert home.status_code == 302 and home.location == "/runs"
    run_list = html(client.get("/runs"))
    assert f'href="/runs/{run.id}"' in run_list  # click 1
    page = html(client.get(f"/runs/{run.id}"))
    assert f'href="/runs/{run.id}/participants.csv"' in page  # click 2
    assert f'href="/runs/{run.id}/participants.pdf"' in page
    assert "/participants/downloads" not in page  # the log is the coordinator's
    # ... where the provider also sees who completed and reaches the attendance form.
    assert "Gennemført" in page and f"/runs/{run.id}/days/{run.days[0].id}/attendance" in page
    assert client.get(f"/runs/{run.id}/participants.csv").status_code == 200


def test_staff_see_no_download_links(client, login_as, run):
    (staff,) = factories.make_eligible_staff(run, 1)
    login_as(staff)
    page = html(client.get(f"/runs/{run.id}"))
    assert "/participants." not in page


def test_the_first_date_is_left_out_of_the_name_of_a_run_without_days(app, run):
    from app.reporting.exports import download_name

    run.days.clear()
    db.session.commit()
    assert download_name(run, "deltagere", "csv") == (
        "Familieraadslagning hold 1 deltagere.csv",
        "Familierådslagning hold 1 deltagere.csv",
    )


def test_a_long_title_is_cut_but_the_date_stays(app, run):
    from app.reporting.exports import download_name

    run.title = ("Netværksmøder i praksis " * 8).strip()  # 191 characters (the column holds 200)
    db.session.commit()
    ascii_name, name = download_name(run, "deltagere", "csv")
    assert name.endswith(" 2026-04-14 deltagere.csv") and ascii_name.endswith(" 2026-04-14 deltagere.csv")
    assert len(name) <= 80 + len(" 2026-04-14 deltagere.csv")
