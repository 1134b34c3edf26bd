"""The staff import under arbitrary files: CSV (any delimiter, encoding, quoting, junk cells, NUL, BOM,
formulas, CPR-looking values) and XLSX built from arbitrary cells, some rows valid. The upload never
answers 5xx and never writes a row (the preview only reads); a confirmed import is all or nothing: either
every row's person exists afterwards, or no table changed."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import func, select

from app.accounts.models import User
from app.extensions import db
from tests.conftest import csrf_token_from, post_form
from tests.fuzz.conftest import EXAMPLES, FUZZ_SETTINGS, SCRIPT_PROBE, nasty_text, row_counts

TOKEN_RE = re.compile(r'name="token"[^>]*value="([^"]+)"')
HEADERS = ["Navn", "E-mail", "Stillingsbetegnelse", "Enhed"]

valid_row = st.builds(
    lambda n, local: [f"Person {n}", f"{local}{n}@kk.dk", "Sagsbehandler", "Socialcenter Amager"],
    st.integers(1, 10_000),
    st.sampled_from(["a", "Ø.", "x-y", "ABC"]),
)
junk_row = st.lists(nasty_text, min_size=0, max_size=6)
rows = st.lists(st.one_of(valid_row, valid_row, junk_row), min_size=0, max_size=6)
header = st.one_of(
    st.just(HEADERS),
    st.permutations(HEADERS + ["CPR", "Telefon"]).map(list),
    st.lists(nasty_text, max_size=5),
)


def csv_file(header_cells, body, delimiter, encoding) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for cells in [header_cells, *body]:
        writer.writerow(cells)
    return buffer.getvalue().encode(encoding, errors="replace")


def xlsx_file(header_cells, body) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for cells in [header_cells, *body]:
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", cell)[:32767] for cell in cells])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@st.composite
def staff_files(draw) -> tuple[bytes, str]:
    header_cells, body = draw(header), draw(rows)
    if draw(st.booleans()):
        return xlsx_file(header_cells, body), draw(st.sampled_from(["ansatte.xlsx", "ANSATTE.XLSX"]))
    delimiter = draw(st.sampled_from([";", ",", "\t"]))
    encoding = draw(st.sampled_from(["utf-8-sig", "utf-8", "cp1252", "utf-16"]))
    return csv_file(header_cells, body, delimiter, encoding), draw(st.sampled_from(["ansatte.csv", "a.CSV"]))


def users_by_email() -> set[str]:
    return set(db.session.scalars(select(func.lower(User.email))))


@settings(FUZZ_SETTINGS, max_examples=EXAMPLES * 4)  # one route, many kinds of file
@given(upload=staff_files())
def test_arbitrary_staff_files_never_fail_and_import_all_or_nothing(client, scene, upload):
    if getattr(client, "fuzz_state", None) is None:
        post_form(client, "/login", {"email": scene.users["coordinator"].email, "password": "korrekt-hest-batteri"})
        client.fuzz_state = csrf_token_from(client.get("/users/import").get_data(as_text=True))
    token = client.fuzz_state
    content, filename = upload

    before = row_counts()
    response = client.post(
        "/users/import",
        data={"csrf_token": token, "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )
    db.session.rollback()
    assert response.status_code < 500
    page = response.get_data(as_text=True)
    assert SCRIPT_PROBE not in page
    assert row_counts() == before, "the preview wrote to the database"

    match = TOKEN_RE.search(page)
    if not match:
        return
    emails = {e.lower() for e in re.findall(r"[^\s<>;\"']+@kk\.dk", page)}
    response = client.post("/users/import/confirm", data={"csrf_token": token, "token": match.group(1)})
    db.session.rollback()
    assert response.status_code < 500
    if response.status_code == 302:
        assert emails <= users_by_email(), "a confirmed import left people out"
    else:
        assert row_counts() == before, "a refused import wrote rows"
