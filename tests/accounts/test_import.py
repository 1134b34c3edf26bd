"""The staff import: CSV (Danish Excel) or XLSX, a row-by-row preview, all-or-nothing confirmation."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from app.accounts.directory import importing
from app.accounts.directory.importing import ImportFileError, ImportRow, parse_staff_file
from app.accounts.models import User
from app.core.access import AccessLevel
from app.core.clock import utcnow
from app.extensions import db
from tests import factories
from tests.accounts.helpers import csrf_token
from tests.conftest import post_form

TOKEN_RE = re.compile(r'name="token"[^>]*value="([^"]+)"')


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


@pytest.fixture
def reference(app):
    roles = {name: factories.make_staff_role(name) for name in ("Sagsbehandler", "Hjemmevejleder")}
    centre = factories.make_unit("Socialcenter Amager")
    units = {"Børne- og Familieteam, Amager": factories.make_unit("Børne- og Familieteam, Amager", parent=centre)}
    return {"roles": roles, "units": units}


def csv_bytes(lines: list[str], sep: str = ";", bom: bool = True, encoding: str = "utf-8") -> bytes:
    text = "\r\n".join(line.replace("|", sep) for line in lines) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.create_sheet("Andet ark").append(["ignoreres"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(client, content: bytes, filename: str):
    return post_form(
        client, "/users/import", {"file": (io.BytesIO(content), filename)}, content_type="multipart/form-data"
    )


def confirm(client, token: str):
    return client.post("/users/import/confirm", data={"csrf_token": csrf_token(client), "token": token})


def token_from(html: str) -> str:
    match = TOKEN_RE.search(html)
    assert match, "the preview offers no confirmation"
    return match.group(1)


GOOD = [
    "Navn|E-mail|Stillingsbetegnelse|Enhed",
    "Åse Østergaard|Ase.Ostergaard@KK.dk|Sagsbehandler|Børne- og Familieteam, Amager",
    "Søren Bæk|soren.baek@kk.dk|hjemmevejleder|Socialcenter Amager",
]


# --- the import page and the happy paths --------------------------------------------------------------


def test_import_page_explains_the_columns_with_an_example(as_coordinator):
    html = as_coordinator.get("/users/import").get_data(as_text=True)
    for text in (
        "Navn",
        "E-mail",
        "Stillingsbetegnelse",
        "Enhed",
        "Eksempel",
        "Navn;E-mail;Stillingsbetegnelse;Enhed",
        'enctype="multipart/form-data"',
    ):
        assert text in html, text


def test_csv_with_semicolons_bom_and_danish_letters(as_coordinator, reference, private_instance_path):
    before = user_count()
    response = upload(as_coordinator, csv_bytes(GOOD), "medarbejdere.csv")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Åse Østergaard" in html and "Søren Bæk" in html
    assert "Nye medarbejdere: 2" in html
    assert user_count() == before  # a preview writes nothing
    assert len(list((private_instance_path / "imports").glob("*.json"))) == 1

    response = confirm(as_coordinator, token_from(html))
    assert response.status_code == 302
    assert response.location == "/users"
    assert "2 oprettet, 0 opdateret, 0 uændret" in as_coordinator.get("/users").get_data(as_text=True)
    ase = user("ase.ostergaard@kk.dk")
    assert ase.name == "Åse Østergaard"
    assert ase.access_level == AccessLevel.STAFF
    assert ase.password_hash is None and ase.active is True
    assert ase.staff_role == reference["roles"]["Sagsbehandler"]
    assert ase.unit == reference["units"]["Børne- og Familieteam, Amager"]
    assert user("soren.baek@kk.dk").staff_role == reference["roles"]["Hjemmevejleder"]  # case-insensitive role
    assert list((private_instance_path / "imports").glob("*")) == []


def test_csv_with_commas_english_headers_and_extra_columns(as_coordinator, reference):
    lines = [
        "Employee no,Name,Email,Staff role,Unit",
        "17,Lars Lund,lars@kk.dk,Sagsbehandler,Socialcenter Amager",
        '18,"Holm, Hanne",hanne@kk.dk,,',
    ]
    html = upload(as_coordinator, csv_bytes(lines, sep=",", bom=False), "staff.CSV").get_data(as_text=True)
    assert "Nye medarbejdere: 2" in html
    assert confirm(as_coordinator, token_from(html)).status_code == 302
    assert user("hanne@kk.dk").name == "Holm, Hanne"
    assert user("hanne@kk.dk").staff_role is None and user("hanne@kk.dk").unit is None


def test_csv_from_older_danish_excel_in_windows_1252(as_coordinator, reference):
    content = csv_bytes(GOOD, bom=False, encoding="cp1252")
    html = upload(as_coordinator, content, "gammel.csv").get_data(as_text=True)
    assert "Åse Østergaard" in html and "Nye medarbejdere: 2" in html


def test_xlsx_built_with_openpyxl(as_coordinator, reference):
    rows = [
        ["Navn", "Mail", "Stilling", "Enhed"],
        ["Mette Madsen", "mette@kk.dk", "Sagsbehandler", "Børne- og Familieteam, Amager"],
        [None, None, None, None],
        ["Jens Juul", "jens@kk.dk", "Hjemmevejleder", None],
    ]
    html = upload(as_coordinator, xlsx_bytes(rows), "hr-udtræk.xlsx").get_data(as_text=True)
    assert "Nye medarbejdere: 2" in html
    assert "ignoreres" not in html  # only the first sheet is read
    assert confirm(as_coordinator, token_from(html)).status_code == 302
    assert user("mette@kk.dk").unit.name == "Børne- og Familieteam, Amager"
    assert user("jens@kk.dk").staff_role.name == "Hjemmevejleder"


def test_existing_email_is_updated_not_duplicated(as_coordinator, reference):
    old = factories.make_user(name="Åse Gammelnavn", email="ase.ostergaard@kk.dk")
    kept = factories.make_user(
        name="Søren Bæk",
        email="soren.baek@kk.dk",
        staff_role=reference["roles"]["Hjemmevejleder"],
        unit=reference["units"]["Børne- og Familieteam, Amager"],
    )
    old_hash = old.password_hash
    lines = GOOD[:2] + ["Søren Bæk|SOREN.BAEK@KK.DK|Hjemmevejleder|Børne- og Familieteam, Amager"]
    before = user_count()
    html = upload(as_coordinator, csv_bytes(lines), "opdatering.csv").get_data(as_text=True)
    assert "Opdateres: 1" in html and "Uændrede: 1" in html
    assert "Navn: Åse Gammelnavn → Åse Østergaard" in html
    assert confirm(as_coordinator, token_from(html)).status_code == 302
    assert "0 oprettet, 1 opdateret, 1 uændret" in as_coordinator.get("/users").get_data(as_text=True)
    assert user_count() == before
    db.session.refresh(old)
    assert old.name == "Åse Østergaard"
    assert old.staff_role == reference["roles"]["Sagsbehandler"]
    assert old.password_hash == old_hash and old.access_level == AccessLevel.STAFF
    db.session.refresh(kept)
    assert kept.name == "Søren Bæk"


# --- rows with errors ---------------------------------------------------------------------------------


def test_rows_with_errors_are_reported_with_lines_and_reasons_and_nothing_is_imported(
    as_coordinator, reference, private_instance_path
):
    lines = [
        "Navn;E-mail;Stillingsbetegnelse;Enhed",
        "God Række;god@kk.dk;Sagsbehandler;Socialcenter Amager",
        ";uden.navn@kk.dk;Sagsbehandler;",
        "Forkert Mail;ikke-en-mail;;",
        "Ukendt Rolle;rolle@kk.dk;Direktør;",
        "Ukendt Enhed;enhed@kk.dk;;Månebasen",
        "Uden Mail;;;",
    ]
    before = user_count()
    response = upload(as_coordinator, csv_bytes(lines), "fejl.csv")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Intet er importeret" in html
    assert "Rækker med fejl: 5" in html
    for reason in (
        "Navn mangler.",
        "Ugyldig e-mailadresse.",
        "Ukendt stillingsbetegnelse: Direktør.",
        "Ukendt enhed: Månebasen.",
        "E-mail mangler.",
    ):
        assert reason in html, reason
    for line_no in range(2, 8):
        assert f"<td>{line_no}</td>" in html
    assert TOKEN_RE.search(html) is None  # no confirmation offered
    assert 'action="/users/import/confirm"' not in html
    assert user_count() == before
    assert not (private_instance_path / "imports").exists() or not list((private_instance_path / "imports").iterdir())


def test_the_same_email_twice_in_the_file_is_an_error_on_both_lines(as_coordinator, reference):
    lines = [
        "Navn;E-mail;Stillingsbetegnelse;Enhed",
        "Anna A;anna@kk.dk;;",
        "Bent B;bent@kk.dk;;",
        "Anna igen;ANNA@kk.dk;;",
    ]
    html = upload(as_coordinator, csv_bytes(lines), "dobbelt.csv").get_data(as_text=True)
    assert "Samme e-mailadresse står også i række 4." in html
    assert "Samme e-mailadresse står også i række 2." in html
    assert "Rækker med fejl: 2" in html
    assert TOKEN_RE.search(html) is None
    assert user("bent@kk.dk") is None


def test_line_numbers_count_blank_lines_and_the_header(reference):
    lines = ["", "Navn;E-mail;Stillingsbetegnelse;Enhed", "", 'A;a@kk.dk;"Sags', 'behandler";', "B;b@kk.dk;;"]
    content = csv_bytes(lines)
    rows = parse_staff_file(content, "x.csv")
    assert [(row.line_no, row.name) for row in rows] == [(4, "A"), (6, "B")]
    assert rows[0].staff_role_name == "Sags behandler"


# --- files that cannot be read ------------------------------------------------------------------------


def _zip_without_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"Navn;E-mail\nA;a@kk.dk\n", "liste.txt", "Filen skal være en CSV-fil (.csv) eller et Excel-regneark"),
        (b"", "tom.csv", "Filen er tom."),
        (b"   \r\n\r\n", "tom.csv", "Filen er tom."),
        (b"\xef\xbb\xbf", "bom.csv", "Filen er tom."),
        (b"this is not a zip file", "ødelagt.xlsx", "Filen kunne ikke læses som et Excel-regneark (.xlsx)."),
        (_zip_without_workbook(), "zip.xlsx", "Filen kunne ikke læses som et Excel-regneark (.xlsx)."),
        (xlsx_bytes([["Navn", "E-mail"]])[:300], "halv.xlsx", "Filen kunne ikke læses som et Excel-regneark (.xlsx)."),
        (xlsx_bytes([["Navn", "E-mail"]]), "forklædt.csv", "Filen er et Excel-regneark, men hedder .csv."),
        (b"Navn;E-mail;Enhed\nA;a@kk.dk;X\n", "mangler.csv", "Filen mangler kolonnen Stillingsbetegnelse."),
        (b"Fornavn,Efternavn\nA,B\n", "forkert.csv", "mangler kolonnerne Navn, E-mail, Stillingsbetegnelse og Enhed."),
        (b"Navn;E-mail;Stillingsbetegnelse;Enhed\n", "kun-overskrift.csv", "kun en overskriftsrække"),
        (b"Navn;Navn;E-mail;Stilling;Enhed\n", "dobbelt.csv", "Kolonnen Navn står to gange"),
        (b"Navn;E-mail;Stilling;Enhed\nA\x00;a@kk.dk;;\n", "nul.csv", "Filen kunne ikke læses som CSV."),
        (xlsx_bytes([]), "tomt.xlsx", "Filen er tom."),
    ],
)
def test_unreadable_files_give_a_message_at_the_field(as_coordinator, reference, content, filename, message):
    before = user_count()
    response = upload(as_coordinator, content, filename)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html
    assert 'id="file-error"' in html
    assert user_count() == before


def test_no_file_chosen(as_coordinator):
    response = post_form(as_coordinator, "/users/import", {}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "Vælg en CSV- eller XLSX-fil." in response.get_data(as_text=True)


def test_upload_over_5_mb_is_refused(as_coordinator):
    boundary = "boundary123"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="stor.csv"\r\n\r\n'.encode()
        + b"x" * (5 * 1024 * 1024 + 1)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    # A raw body: the test client would spool a built multipart body this big to an unclosed temp file.
    response = as_coordinator.post("/users/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    assert "Filen er for stor" in response.get_data(as_text=True)


def test_parser_stops_at_too_many_rows(monkeypatch):
    monkeypatch.setattr(importing, "MAX_ROWS", 3)
    content = csv_bytes(["Navn;E-mail;Stilling;Enhed"] + [f"P{n};p{n}@kk.dk;;" for n in range(5)])
    with pytest.raises(ImportFileError, match="for mange rækker"):
        parse_staff_file(content, "x.csv")


# --- the confirmation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["", "short", "../../../etc/passwd", "a" * 20 + "/../x", "x" * 500, "A" * 43, "tøken-with-ø-æå-ÅÆØ-123456789"],
)
def test_bad_or_unknown_token_gives_a_message_and_imports_nothing(as_coordinator, reference, token):
    before = user_count()
    response = confirm(as_coordinator, token)
    assert response.status_code == 302
    assert response.location == "/users/import"
    html = as_coordinator.get("/users/import").get_data(as_text=True)
    assert "Importen findes ikke eller er udløbet. Intet er importeret." in html
    assert user_count() == before


def test_confirm_twice_imports_once(as_coordinator, reference):
    token = token_from(upload(as_coordinator, csv_bytes(GOOD), "a.csv").get_data(as_text=True))
    assert confirm(as_coordinator, token).location == "/users"
    count = user_count()
    second = confirm(as_coordinator, token)
    assert second.location == "/users/import"
    assert user_count() == count


def test_confirm_revalidates_and_imports_nothing_when_data_changed(as_coordinator, reference):
    token = token_from(upload(as_coordinator, csv_bytes(GOOD), "a.csv").get_data(as_text=True))
    role = reference["roles"]["Hjemmevejleder"]
    db.session.delete(role)  # the role row 3 needs disappears between preview and confirmation
    db.session.commit()
    before = user_count()
    response = confirm(as_coordinator, token)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Intet er importeret" in html
    assert "Ukendt stillingsbetegnelse: hjemmevejleder." in html
    assert user_count() == before
    assert user("ase.ostergaard@kk.dk") is None  # the valid row was not imported either


def test_another_coordinators_token_is_refused(as_coordinator, client, login_as, reference):
    token = token_from(upload(as_coordinator, csv_bytes(GOOD), "a.csv").get_data(as_text=True))
    post_form(client, "/logout", form_url="/accessibility-statement")
    other = factories.make_user("coordinator", email="anden.koordinator@test.dk")
    login_as(other)
    before = user_count()
    assert confirm(client, token).location == "/users/import"
    assert user_count() == before


def test_expired_pending_import_is_refused(tmp_path):
    rows = [ImportRow(2, "A", "a@kk.dk", "", "")]
    now = utcnow()
    token = importing.store_pending_import(tmp_path, rows, actor_id=1, filename="a.csv", now=now)
    with pytest.raises(ImportFileError):
        importing.claim_pending_import(tmp_path, token, actor_id=1, now=now + timedelta(hours=3))
    assert list(tmp_path.iterdir()) == []
    token = importing.store_pending_import(tmp_path, rows, actor_id=1, filename="a.csv", now=now)
    assert importing.claim_pending_import(tmp_path, token, actor_id=1, now=now) == rows


def test_stale_pending_imports_are_pruned(tmp_path):
    stale = Path(tmp_path) / ("s" * 43 + ".json")
    stale.write_text("{}")
    import os

    os.utime(stale, (0, 0))
    importing.store_pending_import(tmp_path, [], actor_id=1, filename="a.csv", now=utcnow())
    assert not stale.exists()


# --- protection ---------------------------------------------------------------------------------------


def test_posts_without_csrf_are_400(as_coordinator, reference):
    response = as_coordinator.post(
        "/users/import", data={"file": (io.BytesIO(csv_bytes(GOOD)), "a.csv")}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert as_coordinator.post("/users/import/confirm", data={"token": "A" * 43}).status_code == 400


@pytest.mark.parametrize("who", ["staff_member", "provider_user"])
def test_other_levels_cannot_import(client, login_as, request, reference, who):
    user_obj = request.getfixturevalue(who)
    login_as(user_obj)
    assert client.get("/users/import").status_code == 403
    token = csrf_token(client)
    response = client.post(
        "/users/import",
        data={"csrf_token": token, "file": (io.BytesIO(csv_bytes(GOOD)), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert client.post("/users/import/confirm", data={"csrf_token": token, "token": "A" * 43}).status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/users/import")
    assert response.status_code == 302
    assert response.location.startswith("/login")
