"""Hostile staff-import files, built on the spot: ZIP bombs, forged sizes, huge sheets, XML entity tricks,
macros, nested archives, endless CSV rows. Used by tests/accounts/test_import_hostile.py (small versions, fast)
and bench/uploads.py (the full-size versions that exhausted a worker before the archive check)."""

from __future__ import annotations

import io
import struct
import zipfile

import openpyxl

SHEET = "xl/worksheets/sheet1.xml"
SHARED_STRINGS = "xl/sharedStrings.xml"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
HEADER = ["Navn", "E-mail", "Stillingsbetegnelse", "Enhed"]


def workbook(rows: list[list] | None = None) -> bytes:
    """A genuine small workbook (openpyxl), the base the hostile ones are made from."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows if rows is not None else [HEADER, ["Åse Østergaard", "ase@kk.dk", "Sagsbehandler", "Amager"]]:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def rezip(base: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    """`base`'s parts with some replaced and some added, deflated."""
    replace, add = replace or {}, add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
        for name, content in add.items():
            target.writestr(name, content)
    return out.getvalue()


def _sheet_xml(rows_xml: str, dimension: str | None) -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    head = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN_NS}">{dim}'
    return f"{head}<sheetData>{rows_xml}</sheetData></worksheet>".encode()


def _column(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _inline_row(number: int, values: list[str]) -> str:
    cells = "".join(
        f'<c r="{_column(col)}{number}" t="inlineStr"><is><t>{value}</t></is></c>'
        for col, value in enumerate(values, 1)
    )
    return f'<row r="{number}">{cells}</row>'


def _numeric_rows(rows: int, columns: int) -> str:
    """`rows` rows of `columns` numeric cells (compresses far better than it parses)."""
    parts = []
    for number in range(1, rows + 1):
        cells = "".join(f'<c r="{_column(col)}{number}"><v>1</v></c>' for col in range(1, columns + 1))
        parts.append(f'<row r="{number}">{cells}</row>')
    return "".join(parts)


def shared_string_bomb(megabytes: int) -> bytes:
    """A valid workbook whose one shared string is `megabytes` MB of "a": 1000 to 1 compressed (the reported
    205 KB file held a 200 MB string)."""
    payload = "a" * (megabytes * 1024 * 1024)
    return _with_shared_strings(
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN_NS}" count="1" uniqueCount="1">'
        f"<si><t>{payload}</t></si></sst>"
    )


def _with_shared_strings(sst: str) -> bytes:
    """A small workbook with the shared-strings part `sst`, declared in [Content_Types].xml so that openpyxl
    reads it on opening (whether a cell uses it or not)."""
    base = workbook()
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        types = source.read("[Content_Types].xml").decode()
    override = (
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" />'
    )
    types = types.replace("</Types>", override + "</Types>")
    return rezip(base, replace={"[Content_Types].xml": types.encode()}, add={SHARED_STRINGS: sst.encode()})


def forged_size(megabytes: int = 30, declared: int = 1000) -> bytes:
    """The sheet's real content is `megabytes` MB, but the archive declares `declared` bytes (both headers)."""
    real = _sheet_xml(_inline_row(1, HEADER) + "<!--" + "x" * (megabytes * 1024 * 1024) + "-->", None)
    data = bytearray(rezip(workbook(), replace={SHEET: real}))
    name = SHEET.encode()
    local = data.find(b"PK\x03\x04")
    while local != -1:
        name_length = struct.unpack_from("<H", data, local + 26)[0]
        if bytes(data[local + 30 : local + 30 + name_length]) == name:
            struct.pack_into("<I", data, local + 22, declared)
            break
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_length]) == name:
            struct.pack_into("<I", data, central + 24, declared)
            break
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


def huge_dimension(ref: str = "A1:XFD1048576") -> bytes:
    """A small sheet that declares itself `ref` large."""
    rows = _inline_row(1, HEADER) + _inline_row(2, ["Åse", "ase@kk.dk", "Sagsbehandler", "Amager"])
    return rezip(workbook(), replace={SHEET: _sheet_xml(rows, ref)})


def wide_sheet(rows: int = 1, columns: int = 16_384, dimension: str | None = "auto") -> bytes:
    """`rows` rows of `columns` cells (the reported 969 KB file: 2,000 x 16,384), honest dimension or none."""
    if dimension == "auto":
        dimension = f"A1:{_column(columns)}{rows}"
    return rezip(workbook(), replace={SHEET: _sheet_xml(_numeric_rows(rows, columns), dimension)})


def wide_sheet_lying(columns: int = 16_384) -> bytes:
    """A header row, then a row with a value in every one of `columns` columns, while the sheet says A1:D2."""
    rows = _inline_row(1, HEADER) + _inline_row(2, ["x"] * columns)
    return rezip(workbook(), replace={SHEET: _sheet_xml(rows, "A1:D2")})


def billion_laughs() -> bytes:
    """The shared strings declare nested entities (a DOCTYPE): expanded, ten levels of ten make 10^10 "lol"s."""
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
    )
    sst = (
        f'<?xml version="1.0"?><!DOCTYPE sst [{entities}]>'
        f'<sst xmlns="{_MAIN_NS}" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
    )
    return _with_shared_strings(sst)


def with_macro() -> bytes:
    return rezip(workbook(), add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\x00" * 508})


def with_nested_archive() -> bytes:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("payload.txt", "x")
    return rezip(workbook(), add={"xl/media/image1.png": inner.getvalue()})


def many_parts(count: int = 500) -> bytes:
    return rezip(workbook(), add={f"customXml/item{n}.xml": b"<a/>" for n in range(count)})


def csv_long_line(chars: int = 5 * 1024 * 1024 - 1024) -> bytes:
    """A header, then one line of nearly 5 MB (the upload limit) of two-letter cells: millions of cells."""
    return ("Navn;E-mail;Stillingsbetegnelse;Enhed\r\n" + "ab;" * (chars // 3)).encode()


def csv_wide(columns: int = 150) -> bytes:
    return (";".join(HEADER + [f"Ekstra {n}" for n in range(columns - 4)]) + "\r\n").encode()


def csv_quoted_chain(lines: int = 2000) -> bytes:
    """Short lines that one quoted cell's line breaks join into one endless record."""
    return ('Navn;E-mail;Stillingsbetegnelse;Enhed\r\n"' + ";;;;;;;;\r\n" * lines + '"\r\n').encode()
