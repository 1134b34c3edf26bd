"""A run's participant list as a CSV file, an XLSX workbook and a PDF sign-in sheet (docs/technical-notes.md#exports).

One read of the data, `load_participant_list(run)`, feeds all three: a fixed number of statements whatever the
run's size (the enrolments with their person, staff role and unit in one joined SELECT of plain columns, the
waiting-list positions, the attendance marks, and the run's days and provider), so a list of 10,000 costs the
same number of round trips as a list of 3.

What a file holds: the confirmed participants, the waiting list (in queue order) and the cancelled or moved
enrolments, each kept apart (their own sheet in the workbook; a Status column to filter by in the CSV, where
they follow each other in that order). Requested and rejected enrolments are not participants and are left
out, and so is everything a provider does not need (no CPR, no ids).

- **CSV** for Danish Excel: `;`, UTF-8 with BOM, CRLF, dates as dd-mm-åååå, and every text value that starts
  with = + - @ TAB CR LF or NUL prefixed with an apostrophe so no spreadsheet evaluates it (OWASP CSV
  injection). Produced row by row (`csv_chunks`) so the response can be streamed.
- **XLSX**: openpyxl's write-only workbook (rows stream into the zip; nothing like a cell grid in memory),
  sheets "Deltagere", "Venteliste", "Afmeldte", a bold frozen header with an autofilter, column widths from
  the content, real date/datetime cells in a Danish number format, and user text stored as strings (a
  value that starts with "=" would otherwise become a formula).
- **PDF** sign-in sheet with fpdf2: A4 landscape, one section per course day (title, provider, date, times,
  venue) with the confirmed participants and a signature box each, the table header repeated on every page.
  Rows are drawn with rect() and text() (about five times faster than cell() at thousands of rows).
  The font is Source Sans Pro (OFL), a TrueType font from the `font-source-sans-pro` wheel, embedded and
  subset, so æøå, "–" and names such as Łukasz, Şahin or Nguyễn print as written with no system font
  package; a character the font lacks is printed without its accent or as "?" rather than dropped.
  Notes (dietary or health needs) and e-mail addresses stay off the sheet: it passes from hand to hand.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib.resources import files
from typing import IO, Any, overload

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.models import StaffRole, Unit, User
from app.calendar.feeds import safe_filename
from app.core import clock
from app.core.templating import (
    XLSX_DATE,
    XLSX_DATETIME,
    clock_time,
    dk_date,
    sheet_date,
    sheet_datetime,
    time_range,
)
from app.courses.models import CourseDay, CourseRun
from app.enrolment import services as enrolment_services
from app.enrolment.models import Enrolment, EnrolmentStatus
from app.extensions import db

#: What the lists show, section by section. Requested/rejected enrolments are not participants.
EXPORTED_STATUSES = (
    EnrolmentStatus.CONFIRMED,
    EnrolmentStatus.WAITLISTED,
    EnrolmentStatus.CANCELLED,
    EnrolmentStatus.MOVED,
)


#: The first characters a spreadsheet reads as the start of a formula (or that hide one after them).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


# --------------------------------------------------------------------------------------------------
# The data: one read for all three formats
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One enrolment as the files show it (plain values: no ORM object, no lazy load)."""

    enrolment_id: int
    status: EnrolmentStatus
    user_id: int  # not in the files: the audit log names each person a download showed
    name: str
    email: str
    staff_role: str | None
    unit: str | None
    enrolled_at: datetime  # local time, naive (as spreadsheets want it)
    status_since: datetime
    practice_case: str | None
    note: str | None
    position: int | None = None  # on the waiting list
    marks: tuple[bool | None, ...] = ()  # per course day, in the run's order; None: not registered
    completed: bool = False


@dataclass
class ParticipantList:
    run: CourseRun
    days: list[CourseDay]
    confirmed: list[Row] = field(default_factory=list)
    waitlisted: list[Row] = field(default_factory=list)
    cancelled: list[Row] = field(default_factory=list)

    @property
    def person_count(self) -> int:
        return len(self.confirmed) + len(self.waitlisted) + len(self.cancelled)

    @property
    def rows(self) -> list[Row]:
        """Every row, section by section: confirmed (by name), waiting list (in order), cancelled."""
        return [*self.confirmed, *self.waitlisted, *self.cancelled]


_DANISH_ORDER = str.maketrans(
    {"æ": "{", "ä": "{", "ø": "|", "ö": "|", "å": "}", "ł": "l", "đ": "d", "ı": "i", "þ": "th"}
)


def danish_sort_key(name: str) -> str:
    """Names in Danish alphabetical order: æ, ø, å after z; other accents sort as their base letter."""
    text = name.casefold().translate(_DANISH_ORDER)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@overload
def _local(value: datetime) -> datetime: ...
@overload
def _local(value: None) -> None: ...
def _local(value: datetime | None) -> datetime | None:
    """Stored UTC timestamps as the municipality's wall-clock time, without tzinfo (Excel has none)."""
    if value is None:
        return None
    return clock.as_utc(value).astimezone(clock.local_tz()).replace(tzinfo=None, microsecond=0)


def load_participant_list(run: CourseRun) -> ParticipantList:
    """The run's confirmed participants, waiting list and cancelled enrolments, with attendance per course
    day and completion (present on every day), in a fixed number of statements whatever the run's size."""
    days = list(run.days)
    english = str(get_locale() or "da") == "en"
    stmt = (
        select(
            Enrolment.id,
            Enrolment.status,
            Enrolment.created_at,
            Enrolment.status_changed_at,
            Enrolment.practice_case,
            Enrolment.note,
            Enrolment.user_id,
            User.name,
            User.email,
            StaffRole.name,
            StaffRole.name_en,
            Unit.name,
        )
        .join(User, User.id == Enrolment.user_id)
        .outerjoin(StaffRole, StaffRole.id == User.staff_role_id)
        .outerjoin(Unit, Unit.id == User.unit_id)
        .where(Enrolment.course_run_id == run.id, Enrolment.status.in_(EXPORTED_STATUSES))
        .order_by(Enrolment.status_changed_at, Enrolment.id)
    )
    records: Sequence[Any] = db.session.execute(stmt).all()  # twelve columns: typed as plain tuples
    positions = enrolment_services.waitlist_positions([run.id])
    marks = enrolment_services.attendance_map(run)
    confirmed_ids = [r[0] for r in records if r[1] == EnrolmentStatus.CONFIRMED]
    done = enrolment_services.completed_ids(days, confirmed_ids, marks)
    result = ParticipantList(run=run, days=days)
    for eid, status, created, changed, case, note, user_id, name, email, role, role_en, unit in records:
        row = Row(
            enrolment_id=eid,
            status=status,
            user_id=user_id,
            name=name,
            email=email,
            staff_role=(role_en or role) if english else role,
            unit=unit,
            enrolled_at=_local(created),
            status_since=_local(changed),
            practice_case=case if run.is_special else None,
            note=note,
            position=positions.get(eid),
            marks=tuple(marks.get((eid, d.id)) for d in days) if status == EnrolmentStatus.CONFIRMED else (),
            completed=eid in done,
        )
        if status == EnrolmentStatus.CONFIRMED:
            result.confirmed.append(row)
        elif status == EnrolmentStatus.WAITLISTED:
            result.waitlisted.append(row)
        else:
            result.cancelled.append(row)
    result.confirmed.sort(key=lambda r: (danish_sort_key(r.name), r.enrolment_id))
    result.waitlisted.sort(key=lambda r: (r.position or 0, r.enrolment_id))
    return result


# --------------------------------------------------------------------------------------------------
# File names
# --------------------------------------------------------------------------------------------------


def download_name(run: CourseRun, suffix: str, extension: str) -> tuple[str, str]:
    """(ASCII file name, Unicode file name) from the run's title and first date, safe on every OS: letters,
    digits, spaces, "-" and "_" only (app.calendar.feeds.safe_filename), never a bare reserved name such as
    CON or NUL (the date and suffix follow the title); a long title is cut, never the date."""
    first = run.first_day
    ascii_title, title = safe_filename(run.title)
    ascii_tail, tail = safe_filename(f"{first.isoformat() if first else ''} {suffix}", fallback="")

    def join(*parts: str) -> str:
        return " ".join(part for part in parts if part)

    return f"{join(ascii_title, ascii_tail)}.{extension}", f"{join(title, tail)}.{extension}"


# --------------------------------------------------------------------------------------------------
# Shared column layout (CSV and XLSX)
# --------------------------------------------------------------------------------------------------


def neutralise(value: str) -> str:
    """A text value a spreadsheet shows as text: a leading formula character gets an apostrophe in front."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _status_labels() -> dict[EnrolmentStatus, str]:
    return {status: str(status.label) for status in EXPORTED_STATUSES}


def _day_header(day: CourseDay) -> str:
    return f"{day.label} {sheet_date(day.day)}"


def _attendance_labels() -> dict[bool | None, str]:
    return {True: _("Mødt"), False: _("Ikke mødt"), None: ""}


# --------------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------------


def csv_header(plist: ParticipantList) -> list[str]:
    header = [
        _("Navn"),
        _("E-mail"),
        _("Stillingsbetegnelse"),
        _("Enhed"),
        _("Status"),
        _("Nr. på venteliste"),
        _("Tilmeldt"),
        _("Status siden"),
    ]
    if plist.run.is_special:
        header.append(_("Sag eller netværksmøde"))
    header.append(_("Bemærkning"))
    header.extend(_day_header(day) for day in plist.days)
    header.append(_("Gennemført"))
    return header


class _Line:
    """A file-like target for csv.writer that hands back what was written."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


def csv_chunks(plist: ParticipantList, rows_per_chunk: int = 500) -> Iterator[bytes]:
    """The CSV file as UTF-8 bytes in chunks (the first starts with the BOM), for a streamed response.

    Labels are translated here, up front: the generator may run after the request context has gone.
    """
    statuses = _status_labels()
    present = _attendance_labels()
    yes, no = _("Ja"), _("Nej")
    special = plist.run.is_special
    header = csv_header(plist)
    return _csv_generate(plist, header, statuses, present, yes, no, special, rows_per_chunk)


def _csv_generate(plist, header, statuses, present, yes, no, special, rows_per_chunk) -> Iterator[bytes]:
    buffer = _Line()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    yield ("\ufeff" + buffer.take()).encode("utf-8")
    for index, row in enumerate(plist.rows, 1):
        confirmed = row.status == EnrolmentStatus.CONFIRMED
        values = [
            neutralise(row.name),
            neutralise(row.email),
            neutralise(row.staff_role or ""),
            neutralise(row.unit or ""),
            statuses[row.status],
            str(row.position) if row.status == EnrolmentStatus.WAITLISTED and row.position else "",
            sheet_datetime(row.enrolled_at),
            sheet_datetime(row.status_since),
        ]
        if special:
            values.append(neutralise(row.practice_case or ""))
        values.append(neutralise(row.note or ""))
        if confirmed:
            values.extend(present[m] for m in row.marks)
            values.append(yes if row.completed else no)
        else:
            values.extend("" for _day in plist.days)
            values.append("")
        writer.writerow(values)
        if index % rows_per_chunk == 0:
            yield buffer.take().encode("utf-8")
    rest = buffer.take()
    if rest:
        yield rest.encode("utf-8")


def render_csv(plist: ParticipantList) -> bytes:
    return b"".join(csv_chunks(plist))


# --------------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------------

#: Characters XML 1.0 cannot hold (openpyxl refuses them); a pasted control character must not break the file.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
MIN_COLUMN_WIDTH, MAX_COLUMN_WIDTH = 8, 60


def _xlsx_text(value: str | None) -> str:
    return _XML_ILLEGAL.sub(" ", value) if value else ""


def xlsx_text_cell(ws, value: str):
    """User text as a write-only XLSX cell that stays text whatever it starts with: a string cell, never a
    formula (openpyxl would store "=..." as one), and one starting with = + - @ TAB CR LF gets Excel's own
    quote prefix, the leading apostrophe Excel shows and keeps when someone edits the cell (which would
    otherwise turn "=HYPERLINK(...)" into a live formula; OWASP's CSV injection advice, done the XLSX way)."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    if value.startswith(FORMULA_TRIGGERS):
        cell.quotePrefix = True
    return cell


@dataclass
class XlsxSheet:
    """One sheet for `write_xlsx`: its title, header row and rows."""

    title: str
    header: list[str]
    rows: list[list]  # values: str (user text), int, date/datetime, None
    text_columns: frozenset[int]  # user text: stored as strings, never formulas


def _xlsx_sheets(plist: ParticipantList) -> list[XlsxSheet]:
    special = plist.run.is_special
    present = _attendance_labels()
    yes, no = _("Ja"), _("Nej")
    statuses = _status_labels()

    def person(row: Row) -> list:
        return [_xlsx_text(row.name), _xlsx_text(row.email), _xlsx_text(row.staff_role), _xlsx_text(row.unit)]

    def extra(row: Row) -> list:
        values = [_xlsx_text(row.practice_case)] if special else []
        values.append(_xlsx_text(row.note))
        return values

    person_header = [_("Navn"), _("E-mail"), _("Stillingsbetegnelse"), _("Enhed")]
    extra_header = ([_("Sag eller netværksmøde")] if special else []) + [_("Bemærkning")]
    n_extra = len(extra_header)

    confirmed = XlsxSheet(
        title=_("Deltagere"),
        header=[*person_header, _("Tilmeldt"), *extra_header, *(_day_header(d) for d in plist.days), _("Gennemført")],
        rows=[
            [*person(r), r.enrolled_at, *extra(r), *(present[m] for m in r.marks), yes if r.completed else no]
            for r in plist.confirmed
        ],
        text_columns=frozenset({0, 1, 2, 3, *range(5, 5 + n_extra)}),
    )
    waiting = XlsxSheet(
        title=_("Venteliste"),
        header=[_("Nr."), *person_header, _("Tilmeldt"), _("Sat på venteliste"), *extra_header],
        rows=[[r.position, *person(r), r.enrolled_at, r.status_since, *extra(r)] for r in plist.waitlisted],
        text_columns=frozenset({1, 2, 3, 4, *range(7, 7 + n_extra)}),
    )
    cancelled = XlsxSheet(
        title=_("Afmeldte"),
        header=[*person_header, _("Status"), _("Tilmeldt"), _("Status siden")],
        rows=[[*person(r), statuses[r.status], r.enrolled_at, r.status_since] for r in plist.cancelled],
        text_columns=frozenset({0, 1, 2, 3}),
    )
    return [confirmed, waiting, cancelled]


def _width(value) -> int:
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if value is None:
        return 0
    text = str(value)
    return max((len(line) for line in text.splitlines()), default=0)


def render_xlsx(plist: ParticipantList, target: IO[bytes] | None = None) -> IO[bytes]:
    """The workbook, written into `target` (a new BytesIO by default), positioned at its start."""
    return write_xlsx(_xlsx_sheets(plist), target)


def write_xlsx(sheets: list[XlsxSheet], target: IO[bytes] | None = None) -> IO[bytes]:
    """The house's safe XLSX writer (participant lists, the competence overview): bold frozen header with a
    filter, column widths from the content, dates as dates, and user text (the `text_columns`, and any header
    cell) never a formula (`xlsx_text_cell`). Written into `target` (a new BytesIO by default), positioned at
    its start."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    top = Alignment(vertical="top")
    for sheet in sheets:
        ws = workbook.create_sheet(title=sheet.title)
        n_cols = len(sheet.header)
        # Rows and columns must be styled before the first row is written (write-only mode).
        for col in range(n_cols):
            widest = max([len(sheet.header[col]), *(_width(row[col]) for row in sheet.rows)]) + 2
            width = max(MIN_COLUMN_WIDTH, min(MAX_COLUMN_WIDTH, widest))
            ws.column_dimensions[get_column_letter(col + 1)].width = width
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(n_cols)}{len(sheet.rows) + 1}"
        ws.print_title_rows = "1:1"

        header = []
        for label in sheet.header:
            cell = xlsx_text_cell(ws, _xlsx_text(label))  # a method named "=SUM()" stays text
            cell.font = bold
            header.append(cell)
        ws.append(header)

        def date_cell(value, fmt, ws=ws):
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = fmt
            return cell

        text_columns = sheet.text_columns
        for row in sheet.rows:
            out = []
            for col, value in enumerate(row):
                if isinstance(value, datetime):
                    out.append(date_cell(value, XLSX_DATETIME))
                elif isinstance(value, date):
                    out.append(date_cell(value, XLSX_DATE))
                elif col in text_columns and value:
                    if value.startswith(FORMULA_TRIGGERS) or "\n" in value:
                        cell = xlsx_text_cell(ws, value)
                        if "\n" in value:
                            cell.alignment = top
                        out.append(cell)
                    else:
                        out.append(value)
                else:
                    out.append(value if value != "" else None)
            ws.append(out)
    target = target if target is not None else io.BytesIO()
    workbook.save(target)
    target.seek(0)
    return target


# --------------------------------------------------------------------------------------------------
# PDF sign-in sheet
# --------------------------------------------------------------------------------------------------

FONT_PACKAGE = "font_source_sans_pro"
FONT_FILES = {"": "SourceSansPro-Regular.ttf", "B": "SourceSansPro-Bold.ttf"}
FONT_FAMILY = "SourceSans"
#: Empty numbered rows after the list, for someone who turns up without being on it.
BLANK_ROWS = 3


def prepare_pdf(pdf, *, title: str, printed_at: datetime):
    """Every PDF of ours: the embedded font in regular and bold, and the document's title, creator, language
    (the current locale) and date. Returns `pdf`."""
    pdf.add_font(FONT_FAMILY, "", font_path(""))
    pdf.add_font(FONT_FAMILY, "B", font_path("B"))
    pdf.set_title(printable(title))
    pdf.set_creator("Kursusportalen")
    pdf.set_lang(str(get_locale() or "da"))
    pdf.set_creation_date(printed_at)
    return pdf


def pdf_footer(printed_at: datetime) -> Callable[[Any], None]:
    """Every PDF's footer, for its FPDF subclass's `footer()`: when it was printed (left) and "Side n af m"
    (right), the texts in the current language."""
    printed = printable(
        _("Udskrevet %(date)s kl. %(time)s", date=dk_date(printed_at, "medium"), time=clock_time(printed_at))
    )
    page_label = _("Side %(page)s af %(pages)s")

    def write(pdf) -> None:
        pdf.set_y(-12)
        pdf.set_font(FONT_FAMILY, "", 8)
        half = pdf.epw / 2
        pdf.cell(half, 5, printed)
        pdf.cell(half, 5, page_label % {"page": pdf.page_no(), "pages": pdf.str_alias_nb_pages}, align="R")

    return write


def font_path(style: str = "") -> str:
    return str(files(FONT_PACKAGE) / "files" / FONT_FILES[style])


@functools.lru_cache(maxsize=1)
def _font_codepoints() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(font_path(""), lazy=True) as font:
        return frozenset(font.getBestCmap())


def printable(text: str | None) -> str:
    """`text` as the embedded font can print it: control characters become spaces, a character the font
    lacks becomes its unaccented base letter (NFKD) or "?"."""
    if not text:
        return ""
    known = _font_codepoints()
    out = []
    for char in text:
        if ord(char) in known:
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            out.append(" ")
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if ord(c) in known and not unicodedata.combining(c)
            )
            out.append(base or "?")
    return "".join(out)


@dataclass(frozen=True)
class _Column:
    label: str
    width: float  # mm
    align: str = "L"


def _time_span(day: CourseDay) -> str:
    return time_range(day.starts_at, day.ends_at)


def render_pdf(plist: ParticipantList, printed_at: datetime | None = None) -> bytes:
    """The sign-in sheet: for each course day a section (starting on a new page) with the run, the day, its
    times and venue, and one row per confirmed participant with a signature box; A4 landscape."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    run = plist.run
    printed_at = printed_at or clock.now()
    columns = [
        _Column(_("Nr."), 12, "R"),
        _Column(_("Navn"), 72),
        _Column(_("Stillingsbetegnelse"), 50),
        _Column(_("Enhed"), 58),
        _Column(_("Underskrift"), 85),
    ]
    title = printable(run.title)
    provider_line = printable(f"{_('Udbyder')}: {run.provider.name}")
    write_footer = pdf_footer(printed_at)
    sign_here = printable(_("Skriv under ud for dit navn. Står du ikke på listen, så skriv dit navn nederst."))
    nobody = printable(_("Ingen tilmeldte deltagere."))
    row_height, header_height = 9.0, 7.0
    people = [(printable(r.name), printable(r.staff_role or ""), printable(r.unit or "")) for r in plist.confirmed]

    class SignInSheet(FPDF):
        section: dict | None = None

        def header(self):
            if self.section is None:
                return
            self.set_font(FONT_FAMILY, "B", 15)
            self.cell(0, 8, fit(self, title, self.epw), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_font(FONT_FAMILY, "B", 11)
            self.cell(0, 6, fit(self, self.section["when"], self.epw), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_font(FONT_FAMILY, "", 10)
            self.cell(0, 5, fit(self, self.section["where"], self.epw), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.cell(0, 5, fit(self, provider_line, self.epw), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_font(FONT_FAMILY, "", 9)
            self.cell(0, 6, fit(self, sign_here, self.epw), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_font(FONT_FAMILY, "B", 10)
            self.set_fill_color(230, 230, 230)
            for column in columns:
                self.cell(column.width, header_height, column.label, border=1, align=column.align, fill=True)
            self.ln(header_height)
            self.set_font(FONT_FAMILY, "", 10)

        def footer(self):
            write_footer(self)

    fitted: dict[tuple, str] = {}

    def fit(pdf, text: str, width: float) -> str:
        """`text` cut with "…" to fit `width` mm in the current font (rows keep one height); remembered, as
        headings, staff roles and units repeat on every page."""
        key = (text, width, pdf.font_style, pdf.font_size_pt)
        if key in fitted:
            return fitted[key]
        room = width - 2 * pdf.c_margin
        result = text
        if pdf.get_string_width(text) > room:
            while text and pdf.get_string_width(text + "…") > room:
                text = text[:-1]
            result = text.rstrip() + "…"
        fitted[key] = result
        return result

    pdf = prepare_pdf(
        SignInSheet(orientation="L", unit="mm", format="A4"),
        title=_("Underskriftsark: %(title)s", title=run.title),
        printed_at=printed_at,
    )
    pdf.set_margins(15, 12, 15)
    pdf.set_auto_page_break(True, margin=16)

    sections = [
        {
            "when": printable(f"{day.label}: {dk_date(day.day, 'full')}, {_time_span(day)}"),
            "where": printable(f"{_('Sted')}: {day.effective_venue}"),
        }
        for day in plist.days
    ] or [{"when": "", "where": printable(f"{_('Sted')}: {run.venue}")}]

    # Every row's cells, cut to fit, once for all sections.
    pdf.set_font(FONT_FAMILY, "", 10)
    name_w, role_w, unit_w = columns[1].width, columns[2].width, columns[3].width
    rows = [
        (str(number), fit(pdf, name, name_w), fit(pdf, role, role_w), fit(pdf, unit, unit_w), "")
        for number, (name, role, unit) in enumerate(people, 1)
    ]

    baseline = row_height / 2 + 0.35 * 10 * 25.4 / 72  # text baseline in a row, for a 10 pt font

    def draw_row(values: tuple[str, ...]) -> None:
        """One table row: a box per column and its text. rect() and text() write the PDF operators directly,
        about five times faster than cell(), which matters at thousands of rows; page breaks are ours."""
        if pdf.get_y() + row_height > pdf.page_break_trigger:
            pdf.add_page()  # header() draws the section's heading and the table header again
        x, y = pdf.l_margin, pdf.get_y()
        for column, value in zip(columns, values, strict=True):
            pdf.rect(x, y, column.width, row_height)
            if value:
                if column.align == "R":
                    pdf.text(x + column.width - pdf.c_margin - pdf.get_string_width(value), y + baseline, value)
                else:
                    pdf.text(x + pdf.c_margin, y + baseline, value)
            x += column.width
        pdf.set_y(y + row_height)

    for section in sections:
        pdf.section = section
        pdf.add_page()
        pdf.set_font(FONT_FAMILY, "", 10)
        for values in rows:
            draw_row(values)
        if not people:
            pdf.cell(0, row_height, nobody, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for number in range(len(people) + 1, len(people) + 1 + BLANK_ROWS):
            draw_row((str(number), "", "", "", ""))
    return bytes(pdf.output())
