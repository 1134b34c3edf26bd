"""The dashboard's two pictures as inline SVG drawn here, server-side: no script, no dependency.

- `completions_chart`: cumulative staff completions by month (a step line), the target as a horizontal line
  and the deadline as a vertical marker.
- `budget_chart`: per provider and year, allocated / committed / spent as horizontal bars on one scale.

Each is an `<svg role="img">` whose `<title>` and `<desc>` (referenced by `aria-labelledby`) say what it shows;
the numbers themselves stay in the page's tables. The CSP forbids style attributes, so colours are presentation
attributes (fill/stroke), all at least 3:1 against white for graphics and 4.5:1 for text; the `viewBox` scales
the drawing to the width of the page (`.dash-chart` in app.css). Text is in the request's language.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable
from datetime import date

from babel.dates import format_date
from flask_babel import get_locale
from markupsafe import Markup, escape

from app.core.i18n import gettext as _
from app.core.templating import dk_date, money
from app.programmes.dashboard import BudgetLine, MonthCount

#: The drawing's coordinate system (the viewBox); the page scales it to its width.
WIDTH = 320
FONT_SIZE = 12
#: Text (#1a1a1a ~17:1, #454545 ~9.7:1 on white), the line (#004d99 ~8:1), target (#a30000 ~8.2:1),
#: the bars: allocated #454545, committed #004d99, spent #006b36 (~6.6:1).
TEXT, MUTED, GRID = "#1a1a1a", "#454545", "#d9d9d9"
LINE, TARGET, DEADLINE = "#004d99", "#a30000", "#454545"
BAR_COLOURS = ("#454545", "#004d99", "#006b36")

# Completions chart: the plot area inside the viewBox.
C_HEIGHT = 230
C_LEFT, C_RIGHT, C_TOP, C_BOTTOM = 36, WIDTH - 12, 30, C_HEIGHT - 36

# Budget chart: one group per budget line.
B_LABEL_W, B_VALUE_W = 76, 96
B_BAR_X = B_LABEL_W
B_BAR_W = WIDTH - B_LABEL_W - B_VALUE_W
B_HEADING_H, B_BAR_H, B_BAR_GAP, B_GROUP_GAP = 22, 16, 6, 14


def _f(value: float) -> str:
    """A coordinate: at most one decimal, no trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    fill: str = TEXT,
    size: int = FONT_SIZE,
    weight: str | None = None,
    cls: str | None = None,
) -> str:
    extra = f' font-weight="{weight}"' if weight else ""
    extra += f' class="{cls}"' if cls else ""
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" fill="{fill}" font-size="{size}"{extra}>'
        f"{escape(content)}</text>"
    )


def _svg(chart_id: str, height: float, title: str, desc: str, body: Iterable[str]) -> Markup:
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" class="dash-chart" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" viewBox="0 0 {WIDTH} {_f(height)}" '
        f'width="{WIDTH}" height="{_f(height)}" preserveAspectRatio="xMinYMin meet" '
        f'font-family="inherit">'
        f'<title id="{title_id}">{escape(title)}</title><desc id="{desc_id}">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )
    # Reviewed (tests/security/test_no_inline_code.py): every text in `body` (`_text`), the title and the
    # description pass through `escape`; every attribute is a number, a colour or an id/class from this module.
    return Markup(svg)  # noqa: S704


def _month_label(year: int, month: int) -> str:
    return format_date(date(year, month, 1), "MMM y", locale=str(get_locale()))


def month_name(year: int, month: int) -> str:
    """The month written out in the request's language ("oktober 2008", "October 2008")."""
    return format_date(date(year, month, 1), "LLLL y", locale=str(get_locale()))


def _nice_step(top: int, ticks: int = 5) -> int:
    """The smallest of 1, 2, 5, 10, 20, 25, 50, 100, … that divides 0..top into at most `ticks` steps."""
    magnitude = 1
    while True:
        for factor in (1, 2, 2.5, 5):
            step = int(factor * magnitude)
            if step and math.ceil(top / step) <= ticks:
                return step
        magnitude *= 10


# --------------------------------------------------------------------------------------------------
# Completions over time
# --------------------------------------------------------------------------------------------------


def _months(first: date, last: date) -> list[tuple[int, int]]:
    months, (y, m) = [], (first.year, first.month)
    while (y, m) <= (last.year, last.month):
        months.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def completions_chart(
    by_month: list[MonthCount],
    target: int,
    starts_on: date,
    deadline: date,
    today: date,
    chart_id: str = "chart-completions",
) -> Markup:
    """Cumulative completions by month from the programme's start to its deadline (or the last completion),
    a circle per month with completions at the month's middle, the line drawn up to today's month."""
    first = min([starts_on] + [date(m.year, m.month, 1) for m in by_month])
    last = max([deadline] + [date(m.year, m.month, 1) for m in by_month])
    months = _months(first, last)
    index = {ym: i for i, ym in enumerate(months)}
    n = len(months)
    total = sum(m.completed for m in by_month)
    step = _nice_step(max(target, total, 1))
    y_top = step * (max(target, total, 1) // step + 1)
    plot_w, plot_h = C_RIGHT - C_LEFT, C_BOTTOM - C_TOP

    def x_at(month_index: float) -> float:
        return C_LEFT + month_index / n * plot_w

    def y_at(value: float) -> float:
        return C_BOTTOM - value / y_top * plot_h

    body: list[str] = []
    # Horizontal grid and the y axis' numbers.
    for value in range(0, y_top + 1, step):
        y = y_at(value)
        body.append(f'<line x1="{C_LEFT}" y1="{_f(y)}" x2="{C_RIGHT}" y2="{_f(y)}" stroke="{GRID}" stroke-width="1"/>')
        body.append(_text(C_LEFT - 6, y + 4, str(value), anchor="end", fill=MUTED))
    body.append(
        f'<line x1="{C_LEFT}" y1="{C_BOTTOM}" x2="{C_RIGHT}" y2="{C_BOTTOM}" stroke="{MUTED}" stroke-width="1"/>'
    )
    # Month labels: at most four, every 1, 2, 3, 6 or 12 months.
    every = next(k for k in (1, 2, 3, 6, 12, 24, 60) if math.ceil(n / k) <= 4)
    for i, (y, m) in enumerate(months):
        if i % every == 0:
            body.append(
                f'<line x1="{_f(x_at(i))}" y1="{C_BOTTOM}" x2="{_f(x_at(i))}" y2="{C_BOTTOM + 4}" '
                f'stroke="{MUTED}" stroke-width="1"/>'
            )
            body.append(_text(x_at(i), C_BOTTOM + 18, _month_label(y, m), fill=MUTED, cls="chart-month"))
    # The target.
    target_y = y_at(target)
    body.append(
        f'<line class="chart-target" x1="{C_LEFT}" y1="{_f(target_y)}" x2="{C_RIGHT}" y2="{_f(target_y)}" '
        f'stroke="{TARGET}" stroke-width="2" stroke-dasharray="8 4"/>'
    )
    body.append(_text(C_LEFT + 4, target_y - 5, _("Mål: %(n)s", n=target), fill=TARGET, weight="bold"))
    # The deadline, at its day within its month.
    d_index = index[(deadline.year, deadline.month)]
    d_fraction = deadline.day / calendar.monthrange(deadline.year, deadline.month)[1]
    deadline_x = x_at(d_index + d_fraction)
    body.append(
        f'<line class="chart-deadline" x1="{_f(deadline_x)}" y1="{C_TOP - 8}" x2="{_f(deadline_x)}" '
        f'y2="{C_BOTTOM}" stroke="{DEADLINE}" stroke-width="2" stroke-dasharray="3 3"/>'
    )
    deadline_text = _("Frist %(date)s", date=dk_date(deadline, "medium"))
    near_right = deadline_x > C_LEFT + plot_w * 0.6
    body.append(
        _text(
            deadline_x + (-4 if near_right else 4),
            C_TOP - 12,
            deadline_text,
            anchor="end" if near_right else "start",
            fill=TEXT,
        )
    )
    if total:
        counts = {(m.year, m.month): m.completed for m in by_month}
        shown = [ym for ym in months if ym <= (today.year, today.month)] or months[:1]
        last_shown = max(index[shown[-1]], index[(by_month[-1].year, by_month[-1].month)])
        cumulative = 0
        points = [f"{_f(x_at(0))},{_f(y_at(0))}"]
        circles = []
        for i in range(last_shown + 1):
            here = counts.get(months[i], 0)
            if here:
                x = x_at(i + 0.5)
                points.append(f"{_f(x)},{_f(y_at(cumulative))}")
                cumulative += here
                points.append(f"{_f(x)},{_f(y_at(cumulative))}")
                circles.append(
                    f'<circle class="chart-point" cx="{_f(x)}" cy="{_f(y_at(cumulative))}" r="4" fill="{LINE}"'
                    f' data-month="{months[i][0]:04d}-{months[i][1]:02d}" data-value="{cumulative}"/>'
                )
        points.append(f"{_f(x_at(last_shown + 1))},{_f(y_at(cumulative))}")
        body.append(
            f'<polyline class="chart-line" points="{" ".join(points)}" fill="none" stroke="{LINE}" '
            f'stroke-width="3" stroke-linejoin="round"/>'
        )
        body.extend(circles)
    else:
        body.append(
            _text(
                (C_LEFT + C_RIGHT) / 2,
                (C_TOP + C_BOTTOM) / 2 + 20,
                _("Ingen har gennemført endnu"),
                anchor="middle",
                fill=MUTED,
                cls="chart-empty",
            )
        )
    title = _("Gennemførte medarbejdere over tid")
    desc = _(
        "Det samlede antal medarbejdere, der har gennemført, måned for måned: %(total)s i alt. "
        "Målet er %(target)s, fristen er %(deadline)s. Tallene står i tabellen under figuren.",
        total=total,
        target=target,
        deadline=dk_date(deadline),
    )
    return _svg(chart_id, C_HEIGHT, title, desc, body)


# --------------------------------------------------------------------------------------------------
# Budget per provider per year
# --------------------------------------------------------------------------------------------------


def _shorten(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def budget_chart(lines: list[BudgetLine], chart_id: str = "chart-budget") -> Markup:
    """A group per provider and year (in the order given): its heading, then three bars — allocated,
    committed, spent — on one scale for the whole chart, each with its name on the left and its amount
    on the right."""
    title = _("Budget pr. udbyder og år")
    desc = _(
        "Budgetramme, disponeret og forbrugt beløb for hver udbyder og hvert år som vandrette søjler. "
        "Beløbene står i budgettabellerne under figuren."
    )
    if not lines:
        height = 60
        body = [_text(WIDTH / 2, 36, _("Intet budget endnu"), anchor="middle", fill=MUTED, cls="chart-empty")]
        return _svg(chart_id, height, title, desc, body)
    largest = max(max(line.allocated_ore, line.committed_ore, line.spent_ore) for line in lines) or 1
    names = (_("Ramme"), _("Disponeret"), _("Forbrugt"))  # short: the label column is narrow
    body = []
    y = 0.0
    for line in lines:
        provider = _shorten(line.provider_name)
        heading = (
            _("%(year)s: %(provider)s – overdisponeret", year=line.year, provider=provider)
            if line.over_committed
            else _("%(year)s: %(provider)s", year=line.year, provider=provider)
        )
        body.append(_text(0, y + 16, heading, weight="bold", cls="chart-group"))
        y += B_HEADING_H
        values = (line.allocated_ore, line.committed_ore, line.spent_ore)
        for kind, (name, value, colour) in enumerate(zip(names, values, BAR_COLOURS, strict=True)):
            width = B_BAR_W * value / largest
            body.append(_text(0, y + 12, name, fill=MUTED))
            body.append(
                f'<rect class="chart-bar" data-kind="{("allocated", "committed", "spent")[kind]}" '
                f'x="{B_BAR_X}" y="{_f(y)}" width="{_f(width)}" height="{B_BAR_H}" fill="{colour}"/>'
            )
            label = money(value)
            if kind == 0 and not line.has_allocation:
                label = _("ingen budgetramme")
            body.append(_text(B_BAR_X + width + 4, y + 12, label))
            y += B_BAR_H + B_BAR_GAP
        y += B_GROUP_GAP
    return _svg(chart_id, y, title, desc, body)
