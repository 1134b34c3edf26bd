"""The certificate of completion as a PDF (fpdf2, A4 portrait), one page per certificate, each page in its
person's language (their profile language; Danish when they have none).

The PDF setup is the sign-in sheet's (app.reporting.exports.prepare_pdf: Source Sans Pro embedded and
subset, so any name prints as written; `printable` for characters the font lacks).

A page says: the municipality, "Kursusbevis", the person's name, the run's title, its methods and provider,
each course day with its date, times and hours, the hours in all, the completion date (the run's last day),
and the verification code with the address of the public verification page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from flask_babel import format_decimal, get_locale, ngettext
from flask_babel import gettext as _

from app.certificates.models import Certificate
from app.certificates.services import day_hours, display_code
from app.core import clock
from app.core.templating import clock_time, dk_date
from app.core.urls import external_url
from app.enrolment.models import Enrolment
from app.notifications.ical import in_language
from app.reporting.exports import FONT_FAMILY, prepare_pdf, printable


@dataclass(frozen=True)
class Page:
    """One certificate, ready to print: plain texts in the person's language."""

    language: str
    name: str
    title: str
    methods: str
    provider: str
    days: list[tuple[str, str, str, str]]  # label, date, times, hours
    total_hours: str
    completed_on: str
    municipality: str
    code: str
    verify_url: str
    issued_on: str


def _hours(value: float) -> str:
    """ "6 timer", "6,5 timer" / "6.5 hours"; one hour in the singular."""
    hours = format_decimal(round(value, 2), "#,##0.##")
    return ngettext("%(hours)s time", "%(hours)s timer", 1 if value == 1 else 2, hours=hours)


def _page(enrolment: Enrolment, certificate: Certificate, verify_url: str, today: date) -> Page:
    """The texts of one certificate, in the person's language (call inside `in_language`)."""
    run = enrolment.run
    english = str(get_locale()) == "en"
    days, total = [], 0.0
    for day in run.days:
        hours = day_hours(day.starts_at, day.ends_at)
        total += hours
        days.append(
            (
                day.label,
                dk_date(day.day, "long"),
                f"{clock_time(day.starts_at)}–{clock_time(day.ends_at)}",
                _hours(hours),
            )
        )
    methods = ", ".join((m.name_en or m.name) if english else m.name for m in run.methods)
    return Page(
        language=str(get_locale()),
        name=enrolment.user.name,
        title=run.title,
        methods=methods or "–",
        provider=run.provider.name,
        days=days,
        total_hours=_hours(total),
        completed_on=dk_date(run.last_day, "long"),
        municipality=current_app.config["MUNICIPALITY_NAME"],
        code=display_code(certificate.code),
        verify_url=verify_url,
        issued_on=dk_date(today, "long"),
    )


def pages(enrolments: Sequence[Enrolment], certificates: dict[int, Certificate], today: date) -> list[Page]:
    """Each enrolment's certificate texts in its person's language (their profile language, else Danish)."""
    verify_url = external_url("certificates.verify")
    result = []
    for enrolment in enrolments:
        with in_language(enrolment.user.locale):
            result.append(_page(enrolment, certificates[enrolment.id], verify_url, today))
    return result


#: The height (mm) of a page's foot: who issued it, the code and the verification address.
FOOT_HEIGHT = 36


def _fits(pdf, text: str, size: float, lines: int = 1) -> bool:
    """Whether `text` in bold at `size` pt takes at most `lines` lines of the page's width."""
    pdf.set_font(FONT_FAMILY, "B", size)
    return pdf.get_string_width(printable(text)) <= lines * (pdf.epw - 2 * pdf.c_margin)


def render(pages_: Sequence[Page], title: str, printed_at: datetime | None = None) -> bytes:
    """The PDF: one A4 page per certificate."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    printed_at = printed_at or clock.now()
    pdf = prepare_pdf(FPDF(orientation="P", unit="mm", format="A4"), title=title, printed_at=printed_at)
    pdf.set_margins(25, 25, 25)
    pdf.set_auto_page_break(False)
    next_line = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}

    for page in pages_:
        with in_language(page.language):
            pdf.add_page()
            pdf.set_font(FONT_FAMILY, "B", 12)
            pdf.cell(0, 7, printable(page.municipality), align="C", **next_line)
            pdf.ln(12)
            pdf.set_font(FONT_FAMILY, "B", 30)
            pdf.cell(0, 14, _("Kursusbevis"), align="C", **next_line)
            pdf.ln(8)
            pdf.set_font(FONT_FAMILY, "", 13)
            pdf.cell(0, 7, _("Hermed bekræftes det, at"), align="C", **next_line)
            pdf.ln(4)
            # A name or title too long for one line at the display size gets a smaller one, so the page holds it.
            name_size = 22 if _fits(pdf, page.name, 22) else 15
            pdf.set_font(FONT_FAMILY, "B", name_size)
            pdf.multi_cell(0, name_size * 0.45, printable(page.name), align="C", **next_line)
            pdf.ln(4)
            pdf.set_font(FONT_FAMILY, "", 13)
            pdf.cell(0, 7, _("har gennemført kursusforløbet"), align="C", **next_line)
            pdf.ln(4)
            title_size = 16 if _fits(pdf, page.title, 16, lines=2) else 12
            pdf.set_font(FONT_FAMILY, "B", title_size)
            pdf.multi_cell(0, title_size * 0.5, printable(page.title), align="C", **next_line)
            pdf.ln(10)

            pdf.set_font(FONT_FAMILY, "", 11)
            label_w = 35
            for label, value in ((_("Metoder"), page.methods), (_("Udbyder"), page.provider)):
                pdf.set_font(FONT_FAMILY, "B", 11)
                pdf.cell(label_w, 6, printable(label))
                pdf.set_font(FONT_FAMILY, "", 11)
                pdf.multi_cell(0, 6, printable(value), **next_line)
            pdf.ln(4)

            widths = (label_w, 55, 45, 0)
            pdf.set_font(FONT_FAMILY, "B", 11)
            for width, head in zip(widths, (_("Kursusdag"), _("Dato"), _("Tidspunkt"), _("Timer")), strict=True):
                pdf.cell(width, 7, head, border="B")
            pdf.ln(7)
            pdf.set_font(FONT_FAMILY, "", 11)
            for row in page.days:
                for width, value in zip(widths, row, strict=True):
                    pdf.cell(width, 7, printable(value))
                pdf.ln(7)
            pdf.set_font(FONT_FAMILY, "B", 11)
            pdf.cell(sum(widths[:3]), 7, _("I alt"), border="T")
            pdf.cell(0, 7, page.total_hours, border="T", **next_line)
            pdf.ln(8)
            pdf.set_font(FONT_FAMILY, "", 11)
            pdf.multi_cell(0, 6, printable(_("Gennemført %(date)s.", date=page.completed_on)), **next_line)

            # The foot of the page: who issued it and how to check it (lower down when a long name, title or
            # list of methods took the room).
            if pdf.get_y() + 6 + FOOT_HEIGHT > pdf.h - 10:  # still no room: the foot goes on a page of its own
                pdf.add_page()
            pdf.set_y(max(pdf.get_y() + 6, pdf.h - 62))
            pdf.set_font(FONT_FAMILY, "", 11)
            pdf.multi_cell(
                0,
                6,
                printable(
                    _("Udstedt af %(municipality)s %(date)s.", municipality=page.municipality, date=page.issued_on)
                ),
                **next_line,
            )
            pdf.ln(4)
            pdf.set_font(FONT_FAMILY, "B", 11)
            pdf.cell(0, 6, _("Kontrolkode: %(code)s", code=page.code), **next_line)
            pdf.set_font(FONT_FAMILY, "", 10)
            pdf.multi_cell(
                0,
                5,
                printable(
                    _(
                        "Beviset kan kontrolleres på %(url)s med kontrolkoden. Siden bekræfter navn, kursus og dato.",
                        url=page.verify_url,
                    )
                ),
                **next_line,
            )
    return bytes(pdf.output())
