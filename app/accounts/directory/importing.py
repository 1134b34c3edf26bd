"""Reading the staff import file from the HR system (CSV or XLSX) into plain rows, and keeping the
validated rows between the preview and the confirmation.

Pure apart from the pending-import files: bytes in, `ImportRow`s out, or an `ImportFileError` that
says in Danish what is wrong with the file as a whole. Row-level checks (unknown role, bad email,
duplicates) belong to `services.preview_staff_import`, which knows the database; the one row-level fact found
here is a cell that looks like a CPR number, in any column (`ImportRow.cpr_columns`): an HR export with
citizens' or staff members' CPR numbers must not be fed to the portal, not even in a column it ignores. Every
cell is checked as it stands in the file (app.core.validators: also written with dots, full-width digits,
invisible characters or a line break inside the cell); one in the header row refuses the file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import warnings
import zipfile
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeGuard

from babel.lists import format_list
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from app.core.exceptions import DomainError
from app.core.validators import contains_cpr_number

#: The columns of the file, keyed by our field name. Headers match case-insensitively.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("navn", "name", "fulde navn", "full name"),
    "email": ("e-mail", "email", "mail", "e-mailadresse", "email address", "e-mail address"),
    "staff_role_name": ("stillingsbetegnelse", "stilling", "staff role", "role", "job title"),
    "unit_name": ("enhed", "unit"),
}
#: A staff file far beyond any municipality's social services is a mistake, not a list to preview.
MAX_ROWS = 10_000
#: The template has four columns; an HR export may carry others (ignored), never this many.
MAX_COLUMNS = 100
#: A CSV record (one row, over several lines if a quoted cell holds line breaks) longer than this is no staff row.
MAX_RECORD_CHARS = 10_000

# What an uploaded XLSX (a ZIP archive of XML parts) may hold, checked on the archive's directory before any part
# is decompressed or parsed (ASVS 5.0 V5.2.3; docs/security.md "Uploads"). A real staff list of MAX_ROWS rows
# stays far inside: its largest part, the sheet, is a few MB and compresses about 5-10 to 1.
#: Parts in the archive (a workbook from Excel has about 10-20).
MAX_ZIP_ENTRIES = 200
#: One part's size once decompressed, as the archive declares it (zipfile never reads past the declared size).
MAX_ZIP_ENTRY_BYTES = 20 * 1024 * 1024
#: All parts together, decompressed.
MAX_ZIP_TOTAL_BYTES = 50 * 1024 * 1024
#: Decompressed/compressed, for parts over RATIO_CHECKED_FROM bytes: XML compresses 5-20 to 1, a bomb 1000 to 1.
MAX_ZIP_RATIO = 100
RATIO_CHECKED_FROM = 1024 * 1024
#: Parts a staff list has no use for and that carry code or other files: macros, embedded objects, ActiveX.
_FORBIDDEN_PART = re.compile(r"(^|/)vbaProject(Signature)?\.bin$|^xl/(embeddings|activeX)/", re.IGNORECASE)
#: Cells in all the workbook's sheets together: openpyxl reads some 40,000-75,000 a second, so this bounds the
#: worker's time to a few seconds (MAX_ROWS staff with 25 columns each fit).
MAX_CELLS = 250_000
_SHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.IGNORECASE)
#: A cell element, with or without a namespace prefix: <c r="A1">, <x:c>, <c/>.
_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
#: The first bytes of archives and compound files (ZIP, gzip, 7-Zip, RAR, OLE2): never inside a staff list.
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"\xd0\xcf\x11\xe0")
#: How long a previewed import waits for its confirmation.
PENDING_TTL = timedelta(hours=2)
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,100}")
ZIP_MAGIC = b"PK\x03\x04"


class ImportFileError(DomainError):
    """The file as a whole cannot be read (wrong format, missing columns, empty, corrupt: field `file`),
    or a previewed import cannot be confirmed (unknown or expired token: no field)."""

    def __init__(self, message: str, field: str | None = "file"):
        super().__init__(message, field=field)


@dataclass(frozen=True)
class ImportRow:
    """One staff member as the file states it; `line_no` is the row number in the file (header = 1)."""

    line_no: int
    name: str
    email: str
    staff_role_name: str
    unit_name: str
    #: The headers of the columns (any column, also ignored ones) whose cell in this row looks like a CPR number.
    cpr_columns: tuple[str, ...] = ()


def column_labels() -> dict[str, str]:
    """The Danish header each column is documented with on the import page."""
    return {
        "name": _("Navn"),
        "email": _("E-mail"),
        "staff_role_name": _("Stillingsbetegnelse"),
        "unit_name": _("Enhed"),
    }


def parse_staff_file(data: bytes, filename: str) -> list[ImportRow]:
    """Read a CSV (UTF-8, with or without BOM; ';' or ',') or XLSX (first sheet) staff file.

    :raises ImportFileError: unknown format, empty file, corrupt workbook, missing columns, no rows.
    """
    suffix = Path(filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ImportFileError(_("Filen skal være en CSV-fil (.csv) eller et Excel-regneark (.xlsx)."))
    if not data.strip():
        raise ImportFileError(_("Filen er tom."))
    if suffix == ".xlsx":
        table = _read_xlsx(data)
    else:
        if data.startswith(ZIP_MAGIC):
            raise ImportFileError(_("Filen er et Excel-regneark, men hedder .csv. Gem den som .xlsx eller som CSV."))
        table = _read_csv(data)
    return _rows_from_table(table)


def _decode(data: bytes) -> str:
    """UTF-8 (Excel's "CSV UTF-8" adds a BOM); older Danish Excel saves Windows-1252 instead."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise ImportFileError(_("Filen kunne ikke læses som tekst. Gem den som CSV UTF-8.")) from None


def _detect_delimiter(text: str) -> str:
    """Danish Excel separates with ';', most other tools with ','. Decided by the header line."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: header.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ";"


def _too_many_columns() -> ImportFileError:
    return ImportFileError(_("Filen har for mange kolonner (højst %(max)s).", max=MAX_COLUMNS))


def _read_csv(data: bytes) -> list[tuple[int, list[str]]]:
    text = _decode(data)
    if "\x00" in text:
        raise ImportFileError(_("Filen kunne ikke læses som CSV. Gem den som CSV UTF-8 eller som .xlsx."))
    record_chars = 0

    def lines():
        """The file's lines, refusing a record (row) longer than MAX_RECORD_CHARS before csv splits it: a
        5 MB line of commas would otherwise become millions of cells."""
        nonlocal record_chars
        for line in io.StringIO(text, newline=""):
            record_chars += len(line)
            if record_chars > MAX_RECORD_CHARS:
                raise ImportFileError(_("En række i filen er for lang (højst %(max)s tegn).", max=MAX_RECORD_CHARS))
            yield line

    reader = csv.reader(lines(), delimiter=_detect_delimiter(text))
    table: list[tuple[int, list[str]]] = []
    try:
        start = 1
        for cells in reader:
            record_chars = 0
            if len(cells) > MAX_COLUMNS:
                raise _too_many_columns()
            table.append((start, cells))
            start = reader.line_num + 1
            if len(table) > MAX_ROWS + 1:
                break
    except csv.Error:
        raise ImportFileError(_("Filen kunne ikke læses som CSV. Gem den som CSV UTF-8 eller som .xlsx.")) from None
    return table


def _check_archive(data: bytes) -> None:
    """Refuse an XLSX whose archive could exhaust the worker or carries more than a workbook, from its directory
    and the first bytes of each part (ZIP bombs, forged sizes, nested archives, macros).

    :raises ImportFileError: what is wrong, in words a coordinator can act on.
    """
    unreadable = ImportFileError(_("Filen kunne ikke læses som et Excel-regneark (.xlsx)."))
    too_big = ImportFileError(
        _(
            "Regnearket fylder for meget, når det pakkes ud, til at kunne indlæses. Gem kun arket med "
            "medarbejderne som en ny .xlsx-fil, eller gem det som CSV."
        )
    )
    not_plain = ImportFileError(
        _(
            "Regnearket indeholder makroer, indlejrede objekter eller andre filer og indlæses ikke. Gem det i Excel "
            "som »Excel-projektmappe (.xlsx)« uden makroer, eller gem det som CSV."
        )
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise too_big
            total = 0
            for entry in entries:
                total += entry.file_size
                if entry.file_size > MAX_ZIP_ENTRY_BYTES or total > MAX_ZIP_TOTAL_BYTES:
                    raise too_big
                if entry.file_size > RATIO_CHECKED_FROM and entry.file_size > MAX_ZIP_RATIO * max(
                    entry.compress_size, 1
                ):
                    raise too_big
                if entry.flag_bits & 0x1:  # encrypted
                    raise unreadable
                if _FORBIDDEN_PART.search(entry.filename):
                    raise not_plain
            cells = 0
            for entry in entries:
                if entry.is_dir():
                    continue
                with archive.open(entry) as part:
                    if part.read(4).startswith(_ARCHIVE_MAGIC):
                        raise not_plain
                if _SHEET_PART.match(entry.filename):  # at most MAX_ZIP_ENTRY_BYTES, read in C in a blink
                    cells += sum(1 for _ in _CELL_TAG.finditer(archive.read(entry)))
                    if cells > MAX_CELLS:
                        raise ImportFileError(
                            _(
                                "Regnearket har for mange celler (højst %(max)s). Gem kun arket med medarbejderne "
                                "som en ny .xlsx-fil, eller gem det som CSV.",
                                max=f"{MAX_CELLS:,}".replace(",", "."),
                            )
                        )
    except ImportFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError, ValueError):
        raise unreadable from None  # a damaged or forged archive (a lying size ends in "Bad CRC-32")


def _read_xlsx(data: bytes) -> list[tuple[int, list[str]]]:
    import openpyxl  # imported here: only the import page needs it

    if not data.startswith(ZIP_MAGIC):
        raise ImportFileError(_("Filen kunne ikke læses som et Excel-regneark (.xlsx)."))
    _check_archive(data)
    if not openpyxl.DEFUSEDXML:  # entity expansion ("billion laughs") and external entities: defusedxml refuses
        raise RuntimeError("openpyxl must parse through defusedxml (pip install defusedxml; OPENPYXL_DEFUSEDXML)")
    table: list[tuple[int, list[str]]] = []
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it ignores (data validation, styles): not our concern here.
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                if not workbook.worksheets:
                    raise ImportFileError(_("Regnearket har ingen ark."))
                sheet = workbook.worksheets[0]
                # The size the sheet declares (<dimension>): beyond the template's limits is refused unread.
                if (sheet.max_column or 0) > MAX_COLUMNS:
                    raise _too_many_columns()
                if (sheet.max_row or 0) > MAX_ROWS + 1:
                    raise ImportFileError(_("Filen har for mange rækker (højst %(max)s).", max=MAX_ROWS))
                if hasattr(sheet, "reset_dimensions"):
                    sheet.reset_dimensions()  # some tools write a wrong size; read what is really there, bounded:
                rows = sheet.iter_rows(min_row=1, max_row=MAX_ROWS + 2, max_col=MAX_COLUMNS + 1, values_only=True)
                for line_no, values in enumerate(rows, 1):
                    if len(values) > MAX_COLUMNS and values[MAX_COLUMNS] is not None:
                        raise _too_many_columns()
                    cells = [_cell_text(value) for value in values[:MAX_COLUMNS]]
                    while cells and not cells[-1]:
                        cells.pop()  # the bound pads every row to its width
                    table.append((line_no, cells))
                    if len(table) > MAX_ROWS + 1:
                        break
            finally:
                workbook.close()
    except ImportFileError:
        raise
    except Exception:  # a damaged workbook: zipfile, openpyxl and the XML parser each raise their own kinds
        raise ImportFileError(_("Filen kunne ikke læses som et Excel-regneark (.xlsx).")) from None
    return table


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _normalise_header(text: str) -> str:
    text = text.replace("\ufeff", "").replace("_", " ").strip().lower().rstrip(":").strip()
    return re.sub(r"\s+", " ", text)


def _map_header(cells: list[str]) -> dict[str, int]:
    lookup = {alias: key for key, aliases in COLUMN_ALIASES.items() for alias in aliases}
    positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        key = lookup.get(_normalise_header(cell))
        if key is None:
            continue  # other HR columns are allowed and ignored
        if key in positions:
            raise ImportFileError(
                _("Kolonnen %(column)s står to gange i overskriftsrækken.", column=column_labels()[key])
            )
        positions[key] = index
    missing = [column_labels()[key] for key in COLUMN_ALIASES if key not in positions]
    if missing:
        raise ImportFileError(
            ngettext(
                "Filen mangler kolonnen %(columns)s. Første række skal være overskrifterne "
                "Navn, E-mail, Stillingsbetegnelse og Enhed.",
                "Filen mangler kolonnerne %(columns)s. Første række skal være overskrifterne "
                "Navn, E-mail, Stillingsbetegnelse og Enhed.",
                len(missing),
                columns=format_list(missing, locale=str(get_locale() or "da")),
            )
        )
    return positions


def _refuse_cpr_in_header(line_no: int, header: list[str]) -> None:
    """A header cell is a text cell too: one that looks like a CPR number refuses the whole file (the body's
    cells are reported per row, `ImportRow.cpr_columns`). Named by number: the header is the column's name."""
    columns = [str(index + 1) for index, value in enumerate(header) if contains_cpr_number(value)]
    if columns:
        raise ImportFileError(
            _(
                "Overskriftsrækken (række %(line)s) ser ud til at indeholde et CPR-nummer i kolonne %(columns)s. "
                "Fjern CPR-numrene fra filen, og upload den igen.",
                line=line_no,
                columns=", ".join(columns),
            )
        )


def _rows_from_table(table: list[tuple[int, list[str]]]) -> list[ImportRow]:
    non_empty = [(line_no, cells) for line_no, cells in table if any(cell.strip() for cell in cells)]
    if not non_empty:
        raise ImportFileError(_("Filen er tom."))
    (header_line, header), *body = non_empty
    _refuse_cpr_in_header(header_line, header)
    positions = _map_header(header)
    if not body:
        raise ImportFileError(_("Filen har kun en overskriftsrække og ingen medarbejdere."))
    if len(body) > MAX_ROWS:
        raise ImportFileError(_("Filen har for mange rækker (højst %(max)s).", max=MAX_ROWS))

    def cell(cells: list[str], key: str) -> str:
        index = positions[key]
        return " ".join(cells[index].split()) if index < len(cells) else ""

    def column_name(index: int) -> str:
        named = header[index].replace("\ufeff", "").strip()[:60] if index < len(header) else ""
        return named or _("kolonne %(number)s", number=index + 1)

    def cpr_columns(cells: list[str]) -> tuple[str, ...]:
        return tuple(column_name(index) for index, value in enumerate(cells) if contains_cpr_number(value))

    return [
        ImportRow(
            line_no=line_no,
            name=cell(cells, "name"),
            email=cell(cells, "email"),
            staff_role_name=cell(cells, "staff_role_name"),
            unit_name=cell(cells, "unit_name"),
            cpr_columns=cpr_columns(cells),
        )
        for line_no, cells in body
    ]


# --- pending imports: the rows a coordinator has previewed, kept until they confirm ------------------


def _pending_path(directory: Path, token: str) -> Path:
    return directory / f"{token}.json"


def is_valid_token(token: str | None) -> TypeGuard[str]:
    return token is not None and TOKEN_RE.fullmatch(token) is not None


def store_pending_import(directory: Path, rows: list[ImportRow], *, actor_id: int, filename: str, now: datetime) -> str:
    """Write the validated rows to `directory/<token>.json` and return the token; prune stale files."""
    directory.mkdir(parents=True, exist_ok=True)
    _prune_pending(directory, now)
    token = secrets.token_urlsafe(32)
    payload = {
        "created_at": now.isoformat(),
        "actor_id": actor_id,
        "filename": filename,
        "rows": [asdict(row) for row in rows],
    }
    path = _pending_path(directory, token)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False)
    return token


def claim_pending_import(directory: Path, token: str | None, *, actor_id: int, now: datetime) -> list[ImportRow]:
    """Read and remove the pending import `token` (so it can be confirmed once only).

    :raises ImportFileError: malformed, unknown, expired or someone else's token.
    """
    unknown = _("Importen findes ikke eller er udløbet. Intet er importeret. Upload filen igen.")
    if not is_valid_token(token):
        raise ImportFileError(unknown, field=None)
    path = _pending_path(directory, token)
    claimed = path.with_suffix(".claimed")
    try:
        os.replace(path, claimed)  # atomic: a double click cannot import twice
    except OSError:
        raise ImportFileError(unknown, field=None) from None
    try:
        payload = json.loads(claimed.read_text(encoding="utf-8"))
        created_at = datetime.fromisoformat(payload["created_at"])
        rows = [ImportRow(**{**row, "cpr_columns": tuple(row.get("cpr_columns", ()))}) for row in payload["rows"]]
        owner = payload["actor_id"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ImportFileError(unknown, field=None) from None
    finally:
        claimed.unlink(missing_ok=True)
    if owner != actor_id or now - created_at > PENDING_TTL:
        raise ImportFileError(unknown, field=None)
    return rows


def _prune_pending(directory: Path, now: datetime) -> None:
    """Forget previews nobody confirmed (they hold staff names and emails)."""
    cutoff = (now - PENDING_TTL).timestamp()
    for path in directory.glob("*.json"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue
