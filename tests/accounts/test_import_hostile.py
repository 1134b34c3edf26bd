"""Hostile staff-import files (issue 20): each is refused with a Danish message at the file field, quickly and
without reading the whole file, and nothing changes. bench/uploads.py measures the full-size ones in a fresh
process (time and peak memory); the files are built in tests/accounts/hostile_files.py."""

from __future__ import annotations

import openpyxl
import pytest

from app.accounts.directory import importing
from app.accounts.directory.importing import ImportFileError, parse_staff_file
from tests.accounts import hostile_files as hostile
from tests.accounts.test_import import reference, upload, user_count  # noqa: F401 (reference: a fixture)

TOO_BIG = "Regnearket fylder for meget, når det pakkes ud"
NOT_PLAIN = "Regnearket indeholder makroer, indlejrede objekter eller andre filer"
UNREADABLE = "Filen kunne ikke læses som et Excel-regneark (.xlsx)."
COLUMNS = "Filen har for mange kolonner (højst 100)."
ROWS = "Filen har for mange rækker (højst 10000)."
LONG_ROW = "En række i filen er for lang (højst 10000 tegn)."


@pytest.mark.parametrize(
    ("make", "filename", "message"),
    [
        pytest.param(lambda: hostile.shared_string_bomb(3), "bombe.xlsx", TOO_BIG, id="ratio-bomb"),
        pytest.param(lambda: hostile.forged_size(8), "forfalsket.xlsx", UNREADABLE, id="forged-size"),
        pytest.param(lambda: hostile.huge_dimension(), "dimension.xlsx", COLUMNS, id="huge-dimension"),
        pytest.param(lambda: hostile.huge_dimension("A1:D2000000"), "rækker.xlsx", ROWS, id="dimension-rows"),
        pytest.param(lambda: hostile.wide_sheet(), "bred.xlsx", COLUMNS, id="16384-columns"),
        pytest.param(lambda: hostile.wide_sheet_lying(), "bred-løgn.xlsx", COLUMNS, id="16384-columns-lying"),
        pytest.param(hostile.billion_laughs, "latter.xlsx", UNREADABLE, id="billion-laughs"),
        pytest.param(hostile.with_macro, "makro.xlsx", NOT_PLAIN, id="macro"),
        pytest.param(hostile.with_nested_archive, "indlejret.xlsx", NOT_PLAIN, id="nested-archive"),
        pytest.param(hostile.many_parts, "dele.xlsx", TOO_BIG, id="500-parts"),
        pytest.param(lambda: hostile.csv_long_line(200_000), "lang.csv", LONG_ROW, id="csv-long-line"),
        pytest.param(hostile.csv_wide, "bred.csv", COLUMNS, id="csv-150-columns"),
        pytest.param(hostile.csv_quoted_chain, "kæde.csv", LONG_ROW, id="csv-quoted-line-breaks"),
    ],
)
def test_a_hostile_file_is_refused_at_the_field_and_changes_nothing(as_coordinator, reference, make, filename, message):  # noqa: F811
    before = user_count()
    response = upload(as_coordinator, make(), filename)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html
    assert 'id="file-error"' in html
    assert user_count() == before


def test_too_many_cells_in_all_is_refused_before_parsing(as_coordinator, reference, monkeypatch):  # noqa: F811
    """A sheet of many cells within every size limit would hold the worker for seconds per 100,000 cells."""
    monkeypatch.setattr(importing, "MAX_CELLS", 1000)
    response = upload(as_coordinator, hostile.wide_sheet(300, 4, None), "celler.xlsx")
    assert "Regnearket har for mange celler (højst 1.000)." in response.get_data(as_text=True)


def test_openpyxl_parses_through_defusedxml():
    """Entity expansion and external entities are refused only while openpyxl uses defusedxml (installed with
    fpdf2 and pinned in requirements.txt; OPENPYXL_DEFUSEDXML=False would switch it off)."""
    assert openpyxl.DEFUSEDXML is True


def test_the_archive_is_refused_before_openpyxl_opens_it(monkeypatch):
    opened = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *args, **kwargs: opened.append(args))
    for data in (
        hostile.shared_string_bomb(3),
        hostile.with_macro(),
        hostile.many_parts(),
        hostile.with_nested_archive(),
    ):
        with pytest.raises(ImportFileError):
            parse_staff_file(data, "x.xlsx")
    assert opened == []


def test_a_wide_hr_export_within_the_limits_is_read(monkeypatch):
    """The limits leave room for real exports: 60 columns, the four we need among them, are read."""
    extra = [f"Felt {n}" for n in range(56)]
    data = hostile.workbook(
        [
            extra[:20] + hostile.HEADER + extra[20:],
            ["-"] * 20 + ["Åse Ø", "ase@kk.dk", "Sagsbehandler", "Amager"] + ["-"] * 36,
        ]
    )
    rows = parse_staff_file(data, "hr.xlsx")
    assert [(row.name, row.email) for row in rows] == [("Åse Ø", "ase@kk.dk")]
    assert importing.MAX_COLUMNS >= 60
