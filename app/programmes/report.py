"""The evaluation report of a programme for the Social Committee: a PDF (fpdf2, charts drawn with rectangles)
and an XLSX workbook with the underlying tables (openpyxl), both from `dashboard.programme_figures()` — the
same figures as the dashboard page.

The PDF embeds Source Sans Pro through the participant lists' helpers (`app.reporting.exports.font_path`,
`printable`), so æøå and names print as written with no system font.
"""

from __future__ import annotations

import io
import re

from flask import Response
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from app.calendar.feeds import safe_filename
from app.core import clock
from app.core.downloads import as_attachment
from app.core.money import ore_to_kroner
from app.core.templating import dk_date, money
from app.programmes.dashboard import BreakdownRow, ProgrammeFigures, Status, programme_figures
from app.reporting.exports import FONT_FAMILY, pdf_footer, prepare_pdf, printable, xlsx_text_cell

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_MONEY = '#,##0.00 "kr."'
#: Characters XML (and so XLSX) cannot hold.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def figures_for_report(programme_id: int) -> ProgrammeFigures:
    return programme_figures(programme_id, clock.today())


def file_names(figures: ProgrammeFigures, extension: str) -> tuple[str, str]:
    """(ASCII name, Unicode name): programme name, the day measured (ISO) and "evalueringsrapport"."""
    ascii_title, title = safe_filename(figures.name, fallback="indsats")
    word = _("evalueringsrapport")
    ascii_tail, tail = safe_filename(f"{figures.today.isoformat()} {word}", fallback="")
    return f"{ascii_title} {ascii_tail}.{extension}", f"{title} {tail}.{extension}"


def attachment(body: bytes, mimetype: str, ascii_name: str, name: str) -> Response:
    """The file as a download, never cached (app.core.downloads)."""
    return as_attachment(Response(body, mimetype=mimetype), ascii_name, name)


# --------------------------------------------------------------------------------------------------
# Texts shared by both formats
# --------------------------------------------------------------------------------------------------


def _status_sentence(status: Status) -> str:
    return {
        Status.MET: _("Målet er nået."),
        Status.NOT_MET: _("Målet er ikke nået."),
        Status.ON_TRACK: _("Indsatsen er på rette vej."),
        Status.AT_RISK: _("Målet er i risiko."),
        Status.NO_DATA: _("Der er endnu ingen tilbagemeldinger."),
    }[status]


def summary_text(f: ProgrammeFigures) -> list[str]:
    """The generated summary: one sentence group per requirement, then the budget."""
    a, r, e = f.activity, f.result, f.effect
    deadline = dk_date(f.deadline)
    lines = [
        _(
            "Indsatsen har gennemført %(n)s af %(target)s kursusforløb inden fristen %(deadline)s.",
            n=a.completed,
            target=a.target,
            deadline=deadline,
        )
        + " "
        + _status_sentence(a.status),
        _(
            "%(n)s af %(target)s medarbejdere har gennemført kurset (begge undervisningsdage og opfølgningsdagen) "
            "inden fristen.",
            n=r.completed,
            target=r.target,
        )
        + " "
        + _status_sentence(r.status),
    ]
    if e.comparable:
        lines.append(
            _(
                "%(answered)s af %(invited)s deltagere har givet tilbagemelding. Andelen, der bruger metoderne mindst "
                "månedligt, er %(before)s %% før kurset og %(since)s %% siden kurset.",
                answered=e.answered,
                invited=e.invited,
                before=e.before_percent,
                since=e.since_percent,
            )
            + " "
            + _status_sentence(e.status)
        )
    else:
        lines.append(_("Effekt: %(sentence)s", sentence=_status_sentence(e.status)))
    allocated, committed, spent = f.budget_totals
    budget = _(
        "Budget: af rammen på %(allocated)s er %(committed)s disponeret og %(spent)s forbrugt.",
        allocated=money(allocated),
        committed=money(committed),
        spent=money(spent),
    )
    if f.over_committed:
        budget += " " + _(
            "Overdisponeret: %(lines)s.",
            lines="; ".join(f"{line.provider_name} {line.year}" for line in f.over_committed),
        )
    lines.append(budget)
    return lines


def _requirements(f: ProgrammeFigures) -> list[tuple[str, str, str, str]]:
    e = f.effect
    effect_figure = f"{e.before_percent} % → {e.since_percent} %" if e.comparable else "–"
    return [
        (
            _("Aktivitet: gennemførte kursusforløb"),
            str(f.activity.completed),
            str(f.activity.target),
            f.activity.status.label,
        ),
        (
            _("Resultat: medarbejdere, der har gennemført"),
            str(f.result.completed),
            str(f.result.target),
            f.result.status.label,
        ),
        (
            _("Effekt: øget brug af metoderne"),
            effect_figure,
            _("Flere bruger metoderne mindst månedligt"),
            e.status.label,
        ),
    ]


def _name(row: BreakdownRow) -> str:
    return row.label_en if str(get_locale()) == "en" and row.label_en else row.label


def _breakdowns(f: ProgrammeFigures) -> list[tuple[str, str, list[BreakdownRow]]]:
    """(sheet/heading title, first column, rows)."""
    return [
        (_("Stillingsbetegnelse"), _("Stillingsbetegnelse"), f.result.by_role),
        (_("Enhed"), _("Enhed"), f.result.by_unit),
        (_("Udbyder"), _("Udbyder"), f.result.by_provider),
    ]


# --------------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------------


def render_pdf(f: ProgrammeFigures) -> bytes:
    """A4 portrait: heading, summary, the requirements with bars, breakdowns, method use chart, budget, runs."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    printed_at = clock.now()
    write_footer = pdf_footer(printed_at)

    class Report(FPDF):
        def footer(self):
            write_footer(self)

    pdf = prepare_pdf(
        Report(orientation="P", unit="mm", format="A4"),
        title=_("Evalueringsrapport: %(name)s", name=f.name),
        printed_at=printed_at,
    )
    pdf.set_margins(18, 15, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()

    def text(value: str, size: float = 10, style: str = "", height: float = 5) -> None:
        pdf.set_font(FONT_FAMILY, style, size)
        pdf.multi_cell(0, height, printable(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(value: str, size: float = 13) -> None:
        if pdf.get_y() + 30 > pdf.page_break_trigger:
            pdf.add_page()
        pdf.ln(3)
        text(value, size, "B", 7)
        pdf.ln(1)

    def table(header: list[str], rows: list[list[str]], widths: list[float], aligns: str) -> None:
        height = 6

        def row(values, bold=False, fill=False):
            if pdf.get_y() + height > pdf.page_break_trigger:
                pdf.add_page()
            pdf.set_font(FONT_FAMILY, "B" if bold else "", 9)
            for value, width, align in zip(values, widths, aligns, strict=True):
                value = printable(value)
                while value and pdf.get_string_width(value) > width - 2 * pdf.c_margin:
                    value = value[:-2] + "…"
                pdf.cell(width, height, value, border=1, align=align, fill=fill)
            pdf.ln(height)

        pdf.set_fill_color(230, 230, 230)
        row(header, bold=True, fill=True)
        for values in rows:
            row(values)

    def bar(label: str, value: float, maximum: float, caption: str, dark: bool = True) -> None:
        """A labelled horizontal bar: the label left, the bar (outline + filled part), the figures in words."""
        label_w, bar_w, h = 55, 70, 5
        if pdf.get_y() + h + 2 > pdf.page_break_trigger:
            pdf.add_page()
        x, y = pdf.l_margin, pdf.get_y()
        pdf.set_font(FONT_FAMILY, "", 9)
        pdf.set_xy(x, y)
        pdf.cell(label_w, h, printable(label))
        share = 0 if maximum <= 0 else max(0.0, min(1.0, value / maximum))
        pdf.set_fill_color(*((0, 77, 153) if dark else (150, 150, 150)))
        if share:
            pdf.rect(x + label_w, y, bar_w * share, h, style="F")
        pdf.set_draw_color(69, 69, 69)
        pdf.rect(x + label_w, y, bar_w, h)
        pdf.set_xy(x + label_w + bar_w + 2, y)
        pdf.cell(0, h, printable(caption))
        pdf.set_xy(x, y + h + 1.5)

    def before_and_since(label: str, before: float, before_caption: str, since: float, since_caption: str) -> None:
        """A pair of percentage bars: before the course (grey) above, since the course (blue) below."""
        bar(label, before, 100, before_caption, dark=False)
        bar("", since, 100, since_caption)

    # Heading and summary
    text(_("Evalueringsrapport"), 11, "B")
    text(f.name, 17, "B", 8)
    text(
        _(
            "Periode: %(start)s – %(end)s. Frist for målene: %(deadline)s. Opgjort %(today)s.",
            start=dk_date(f.starts_on),
            end=dk_date(f.ends_on),
            deadline=dk_date(f.deadline),
            today=dk_date(f.today),
        )
    )
    if f.description:
        pdf.ln(1)
        text(f.description, 9)
    heading(_("Sammenfatning"))
    for line in summary_text(f):
        text(line)
        pdf.ln(1)

    # Requirements
    heading(_("Kravene"))
    table(
        [_("Krav"), _("Opnået"), _("Mål"), _("Status")], [list(r) for r in _requirements(f)], [62, 24, 62, 26], "LRLL"
    )
    pdf.ln(3)
    a, r, e = f.activity, f.result, f.effect
    bar(
        _("Aktivitet"),
        a.completed,
        a.target,
        _("%(n)s af %(target)s kursusforløb (%(pct)s %%)", n=a.completed, target=a.target, pct=a.percent),
    )
    bar(
        _("Resultat"),
        r.completed,
        r.target,
        _("%(n)s af %(target)s medarbejdere (%(pct)s %%)", n=r.completed, target=r.target, pct=r.percent),
    )
    pdf.ln(2)
    text(
        _(
            "Kan stadig nå at tælle med i målet: %(n)s kursusforløb (planlagt: %(planned)s, "
            "offentliggjort: %(published)s, i gang: %(running)s). "
            "Gennemført efter fristen: %(late)s. Aflyst: %(cancelled)s.",
            n=a.can_still_count,
            planned=a.planned,
            published=a.published,
            running=a.running,
            late=a.completed_late,
            cancelled=a.cancelled,
        ),
        9,
    )
    text(
        _(
            "Tilmeldt, ikke gennemført: %(n)s medarbejdere. Gennemført efter fristen: %(late)s.",
            n=r.not_completed,
            late=r.completed_late,
        ),
        9,
    )
    text(
        _(
            "Regler: et kursusforløb tæller, når det er markeret som gennemført; en medarbejder har gennemført, "
            "når medarbejderen er mødt på begge undervisningsdage og opfølgningsdagen. Begge dateres til "
            "opfølgningsdagen, og hver person tælles én gang. Før fristen: »På rette vej«, når målet kan nås med "
            "de forløb, der stadig kan nå at tælle; ellers »I risiko«."
        ),
        8,
        height=4,
    )

    # Breakdowns
    heading(_("Gennemført fordelt på stillingsbetegnelse, enhed og udbyder"))
    for _title, column, rows in _breakdowns(f):
        table(
            [column, _("Gennemført inden fristen"), _("Tilmeldt, ikke gennemført")],
            [[_name(row), str(row.completed), str(row.not_completed)] for row in rows] or [[_("Ingen"), "0", "0"]],
            [94, 40, 40],
            "LRR",
        )
        pdf.ln(3)

    # Effect chart
    heading(_("Effekt: brug af metoderne før og siden kurset"))
    if e.invited:
        text(
            _(
                "%(answered)s af %(invited)s deltagere har givet tilbagemelding (svarprocent %(pct)s %%).",
                answered=e.answered,
                invited=e.invited,
                pct=e.response_percent or 0,
            ),
            9,
        )
    if e.methods:
        text(
            _(
                "Andel af deltagerne, der bruger metoden mindst månedligt. Øverste bjælke: før kurset (grå); nederste: "
                "siden kurset (blå)."
            ),
            9,
        )
        pdf.ln(1)
        # No answers is "not measured", never "0 %".
        for m in e.methods:
            before_and_since(
                m.name,
                m.before_percent,
                ngettext(
                    "Før: %(pct)s %% (%(num)s svar)",
                    "Før: %(pct)s %% (%(num)s svar)",
                    sum(m.before.values()),
                    pct=m.before_percent,
                )
                if m.before_answers
                else _("Før: ikke målt"),
                m.since_percent,
                ngettext(
                    "Siden: %(pct)s %% (%(num)s svar)",
                    "Siden: %(pct)s %% (%(num)s svar)",
                    sum(m.since.values()),
                    pct=m.since_percent,
                )
                if m.since_answers
                else _("Siden: ikke målt"),
            )
            pdf.ln(1.5)
        before_and_since(
            _("Alle metoder"),
            e.before_percent,
            _("Før: %(pct)s %%", pct=e.before_percent) if e.before_answers else _("Før: ikke målt"),
            e.since_percent,
            _("Siden: %(pct)s %%", pct=e.since_percent) if e.since_answers else _("Siden: ikke målt"),
        )
        if e.earlier:
            pdf.ln(1)
            text(
                _(
                    "Inddrager forældrene tidligere: ja %(yes)s, delvist %(partly)s, nej %(no)s.",
                    yes=e.earlier.get("yes", 0),
                    partly=e.earlier.get("partly", 0),
                    no=e.earlier.get("no", 0),
                ),
                9,
            )
    else:
        text(_("Der er endnu ingen tilbagemeldinger fra opfølgningsdagene."), 9)
    text(
        _(
            "Effektmålet er nået, når andelen af svar, der bruger metoderne mindst månedligt, er højere siden "
            "kurset end før kurset (alle metoders svar lagt sammen)."
        ),
        8,
        height=4,
    )

    # Budget
    heading(_("Budget pr. udbyder pr. år"))
    table(
        [_("År"), _("Udbyder"), _("Budgetramme"), _("Disponeret"), _("Forbrugt"), _("Rest"), _("Overdisp.")],
        [
            [
                str(x.year),
                x.provider_name,
                money(x.allocated_ore),
                money(x.committed_ore),
                money(x.spent_ore),
                money(x.remainder_ore),
                _("Ja") if x.over_committed else _("Nej"),
            ]
            for x in f.budget
        ],
        [12, 44, 26, 26, 24, 24, 18],
        "LLRRRRL",
    )
    text(
        _(
            "Disponeret: prisen for forløb, der ikke er aflyst (også kladder). Forbrugt: prisen for gennemførte "
            "forløb. Et forløb hører til året for dets første kursusdag."
        ),
        8,
        height=4,
    )

    # Runs
    heading(_("Kursusforløb"))
    table(
        [_("Titel"), _("Udbyder"), _("Status"), _("Opfølgningsdag"), _("Gennemført")],
        [
            [
                run.title,
                run.provider_name,
                str(run.status.label),
                dk_date(run.counts_on, "short"),
                f"{run.completed_staff} / {run.confirmed}",
            ]
            for run in f.runs
        ],
        [62, 38, 26, 26, 22],
        "LLLLR",
    )
    return bytes(pdf.output())


# --------------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------------


def _sheets(f: ProgrammeFigures) -> list[tuple[str, list[str], list[list]]]:
    """(sheet name, header, rows) — the report's tables as plain values (money as kroner, Decimal)."""
    sheets: list[tuple[str, list[str], list[list]]] = [
        (
            _("Krav"),
            [_("Krav"), _("Opnået"), _("Mål"), _("Status")],
            [[req, fig, target, status] for req, fig, target, status in _requirements(f)],
        ),
    ]
    for title, column, rows in _breakdowns(f):
        sheets.append(
            (
                title,
                [column, _("Gennemført inden fristen"), _("Tilmeldt, ikke gennemført")],
                [[_name(row), row.completed, row.not_completed] for row in rows],
            )
        )
    sheets.append(
        (
            _("Metoder"),
            [
                _("Metode"),
                _("Svar"),
                _("Mindst månedligt før"),
                _("Svar før"),
                _("Mindst månedligt siden"),
                _("Svar siden"),
                _("Andel før (%)"),
                _("Andel siden (%)"),
            ],
            [
                [
                    m.name,
                    m.responses,
                    m.before_regular,
                    m.before_answers,
                    m.since_regular,
                    m.since_answers,
                    # an empty cell, not 0 %, when there is nothing to measure
                    m.before_percent if m.before_answers else None,
                    m.since_percent if m.since_answers else None,
                ]
                for m in f.effect.methods
            ],
        )
    )
    sheets.append(
        (
            _("Budget"),
            [_("År"), _("Udbyder"), _("Budgetramme"), _("Disponeret"), _("Forbrugt"), _("Rest"), _("Overdisponeret")],
            [
                [
                    x.year,
                    x.provider_name,
                    ore_to_kroner(x.allocated_ore),
                    ore_to_kroner(x.committed_ore),
                    ore_to_kroner(x.spent_ore),
                    ore_to_kroner(x.remainder_ore),
                    _("Ja") if x.over_committed else _("Nej"),
                ]
                for x in f.budget
            ],
        )
    )
    sheets.append(
        (
            _("Kursusforløb"),
            [
                _("Titel"),
                _("Udbyder"),
                _("Status"),
                _("Første kursusdag"),
                _("Opfølgningsdag"),
                _("Tilmeldte"),
                _("Gennemført"),
                _("Pris"),
            ],
            [
                [
                    run.title,
                    run.provider_name,
                    str(run.status.label),
                    run.first_day,
                    run.counts_on,
                    run.confirmed,
                    run.completed_staff,
                    ore_to_kroner(run.price_ore),
                ]
                for run in f.runs
            ],
        )
    )
    return sheets


def render_xlsx(f: ProgrammeFigures) -> bytes:
    """One sheet per table, a bold header, dates and amounts as real cells; user text never a formula."""
    from datetime import date
    from decimal import Decimal

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    summary = workbook.create_sheet(_("Sammenfatning")[:31])
    summary.append([xlsx_text_cell(summary, _XML_ILLEGAL.sub(" ", f.name))])
    summary.append([_("Opgjort"), f.today])
    summary.append([_("Frist for målene"), f.deadline])
    for line in summary_text(f):
        summary.append([line])
    for name, header, rows in _sheets(f):
        ws = workbook.create_sheet(name[:31])
        ws.freeze_panes = "A2"
        header_cells = []
        for label in header:
            cell = WriteOnlyCell(ws, value=label)
            cell.font = bold
            header_cells.append(cell)
        ws.append(header_cells)
        for values in rows:
            out = []
            for value in values:
                if isinstance(value, str):
                    cell = xlsx_text_cell(ws, _XML_ILLEGAL.sub(" ", value))  # "=SUM()" as a title stays text
                else:
                    cell = WriteOnlyCell(ws, value=value)
                if isinstance(value, Decimal):
                    cell.number_format = XLSX_MONEY
                elif isinstance(value, date):
                    cell.number_format = "dd-mm-yyyy"
                out.append(cell)
            ws.append(out)
    target = io.BytesIO()
    workbook.save(target)
    return target.getvalue()
