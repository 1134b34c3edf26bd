"""The dashboard's charts (app/programmes/charts.py) parsed as XML: the points and bars match the figures, the
target line sits at the target's height, empty data gives a "no data yet" chart, and the texts follow the
language. Plus the page: both charts inline with titles in Danish and English, and "–" where nothing is
measured."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from app.programmes import charts
from app.programmes.dashboard import BudgetLine, MonthCount

SVG = "{http://www.w3.org/2000/svg}"
START, DEADLINE, TODAY = date(2008, 8, 1), date(2009, 12, 31), date(2009, 6, 15)


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 (our own output, in a test)


def find_all(svg: ET.Element, tag: str, cls: str | None = None) -> list[ET.Element]:
    return [el for el in svg.iter(f"{SVG}{tag}") if cls is None or el.get("class") == cls]


def texts(svg: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in svg.iter(f"{SVG}text")]


@pytest.fixture
def da(app):
    with app.test_request_context("/", headers={"Accept-Language": "da"}):
        yield


@pytest.fixture
def en(app):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        yield


def y_of(svg: ET.Element, value: int) -> float:
    """The y of a value on the chart's scale, read from the y axis' labelled grid lines (0 and the top)."""
    labels = {
        int("".join(t.itertext())): float(t.get("y")) - 4
        for t in svg.iter(f"{SVG}text")
        if t.get("text-anchor") == "end" and "".join(t.itertext()).isdigit()
    }
    bottom, top_value = labels[0], max(labels)
    return bottom - value / top_value * (bottom - labels[top_value])


def test_the_completions_chart_has_a_point_per_month_with_completions_at_the_cumulative_height(da):
    months = [MonthCount(2008, 10, 2), MonthCount(2009, 1, 3), MonthCount(2009, 4, 1)]
    svg = parse(charts.completions_chart(months, 10, START, DEADLINE, TODAY))

    points = find_all(svg, "circle", "chart-point")
    assert [(p.get("data-month"), int(p.get("data-value"))) for p in points] == [
        ("2008-10", 2),
        ("2009-01", 5),
        ("2009-04", 6),
    ]
    xs = [float(p.get("cx")) for p in points]
    assert xs == sorted(xs) and len(set(xs)) == 3  # left to right, in time order
    for point in points:
        assert float(point.get("cy")) == pytest.approx(y_of(svg, int(point.get("data-value"))), abs=0.2)
    # the months are evenly spaced: October 2008 → January 2009 is 3 months, January → April 3 months
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.2)
    # the target line is horizontal at the target's height and labelled with it
    (target,) = find_all(svg, "line", "chart-target")
    assert target.get("y1") == target.get("y2")
    assert float(target.get("y1")) == pytest.approx(y_of(svg, 10), abs=0.2)
    assert "Mål: 10" in texts(svg)
    # the deadline is vertical, to the right of the last completion, and labelled with its date
    (deadline,) = find_all(svg, "line", "chart-deadline")
    assert deadline.get("x1") == deadline.get("x2") and float(deadline.get("x1")) > xs[-1]
    assert any(t.startswith("Frist 31.") for t in texts(svg))
    # the line steps up at each point and ends at the total
    (line,) = find_all(svg, "polyline", "chart-line")
    ys = [float(pair.split(",")[1]) for pair in line.get("points").split()]
    assert ys == sorted(ys, reverse=True)  # never goes down (y grows downwards)
    assert ys[-1] == pytest.approx(y_of(svg, 6), abs=0.2)


def test_the_target_line_meets_the_last_point_when_the_target_is_reached(da):
    svg = parse(charts.completions_chart([MonthCount(2009, 3, 3)], 3, START, DEADLINE, TODAY))
    (point,) = find_all(svg, "circle", "chart-point")
    (target,) = find_all(svg, "line", "chart-target")
    assert point.get("cy") == target.get("y1")


def test_a_programme_without_completions_gets_an_empty_chart_that_says_so(da):
    svg = parse(charts.completions_chart([], 30, START, DEADLINE, TODAY))
    assert find_all(svg, "circle") == [] and find_all(svg, "polyline") == []
    assert "Ingen har gennemført endnu" in texts(svg)
    assert len(find_all(svg, "line", "chart-target")) == 1  # the target and deadline are still shown
    assert len(find_all(svg, "line", "chart-deadline")) == 1


def test_the_charts_are_accessible_images(da):
    for markup in (
        charts.completions_chart([MonthCount(2009, 3, 1)], 3, START, DEADLINE, TODAY),
        charts.budget_chart([BudgetLine(1, "Familien i Centrum", 2008, 100, 50, 0)]),
    ):
        svg = parse(markup)
        assert svg.get("role") == "img"
        title_id, desc_id = svg.get("aria-labelledby").split()
        assert svg.find(f"{SVG}title").get("id") == title_id and svg.find(f"{SVG}desc").get("id") == desc_id
        assert svg.get("viewBox").startswith("0 0 ")
        assert "style" not in str(markup)  # the CSP forbids inline style


def test_texts_follow_the_language(en):
    svg = parse(charts.completions_chart([], 3, START, DEADLINE, TODAY))
    assert svg.find(f"{SVG}title").text == "Staff who have completed over time"
    assert "Target: 3" in texts(svg) and "No one has completed yet" in texts(svg)
    budget = parse(charts.budget_chart([BudgetLine(1, "FIC", 2008, 100_00, 0, 0)]))
    assert budget.find(f"{SVG}title").text == "Budget per provider and year"
    assert {"Allocated", "Committed", "Spent"} <= set(texts(budget))


def test_budget_bars_are_three_per_line_on_one_scale(da):
    lines = [
        BudgetLine(1, "Familien i Centrum", 2008, 400_000_00, 300_000_00, 100_000_00),
        BudgetLine(2, "Vilde Læreprocesser", 2009, 200_000_00, 250_000_00, 0),
    ]
    svg = parse(charts.budget_chart(lines))
    bars = find_all(svg, "rect", "chart-bar")
    assert [b.get("data-kind") for b in bars] == ["allocated", "committed", "spent"] * 2
    widths = [float(b.get("width")) for b in bars]
    # widths proportional to the amounts, the largest (400.000 kr.) the full bar width
    unit = widths[0] / 400
    for width, amount in zip(widths, (400, 300, 100, 200, 250, 0), strict=True):
        assert width == pytest.approx(amount * unit, abs=0.2)
    ys = [float(b.get("y")) for b in bars]
    assert ys == sorted(ys) and len(set(ys)) == 6  # one under the other
    words = texts(svg)
    assert "2008: Familien i Centrum" in words
    assert "2009: Vilde Læreprocesser – overdisponeret" in words
    assert {"400.000 kr.", "300.000 kr.", "100.000 kr.", "250.000 kr.", "0 kr."} <= set(words)


def test_a_budget_line_without_an_allocation_says_so(da):
    svg = parse(charts.budget_chart([BudgetLine(1, "FIC", 2008, 0, 50_000_00, 0, has_allocation=False)]))
    assert "ingen budgetramme" in texts(svg)


def test_an_empty_budget_chart_says_so(da):
    svg = parse(charts.budget_chart([]))
    assert find_all(svg, "rect") == []
    assert "Intet budget endnu" in texts(svg)


def test_names_are_escaped(da):
    markup = str(charts.budget_chart([BudgetLine(1, "<b>&Co</b>", 2008, 100, 0, 0)]))
    assert "<b>" not in markup and "&lt;b&gt;&amp;Co&lt;/b&gt;" in markup
    parse(markup)


def test_month_labels_are_at_most_four(da):
    svg = parse(charts.completions_chart([], 3, date(2005, 1, 1), date(2009, 12, 31), TODAY))
    months = [t for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-month"]
    assert 2 <= len(months) <= 4
    assert re.fullmatch(r"jan\.? 2005", "".join(months[0].itertext()))


# --- the page -------------------------------------------------------------------------------------


@pytest.fixture
def programme(app, fic_provider):
    from tests import factories

    programme = factories.make_programme(
        name="Styrket forældreansvar",
        starts_on=START,
        target_deadline=DEADLINE,
        target_runs=2,
        target_completed_staff=3,
    )
    factories.make_allocation(programme, fic_provider, 2008, 375_000)
    run = factories.make_course_run(
        programme=programme,
        provider=fic_provider,
        days=(date(2008, 9, 30), date(2008, 10, 1), date(2009, 1, 2)),
        status="completed",
        price_ore=40_000_000,
    )
    for name in ("anna", "bo"):
        enrolment = factories.make_enrolment(run, factories.make_user(name=name))
        for day in run.days:
            factories.make_attendance(enrolment, day, present=True)
    return programme


def dashboard(client, login_as, coordinator, programme, language: str) -> str:
    login_as(coordinator)
    client.set_cookie("lang", language)
    response = client.get(f"/programmes/{programme.id}/dashboard")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("language", "titles", "month"),
    [
        ("da", ("Gennemførte medarbejdere over tid", "Budget pr. udbyder og år"), "januar 2009"),
        ("en", ("Staff who have completed over time", "Budget per provider and year"), "January 2009"),
    ],
)
def test_the_dashboard_shows_both_charts_inline(client, login_as, coordinator, programme, language, titles, month):
    html = dashboard(client, login_as, coordinator, programme, language)
    for chart_id, title in zip(("chart-completions", "chart-budget"), titles, strict=True):
        match = re.search(rf'<svg [^>]*id="{chart_id}".*?</svg>', html, re.S)
        assert match, chart_id
        svg = parse(match.group(0))
        assert svg.find(f"{SVG}title").text == title
        assert svg.get("aria-labelledby") == f"{chart_id}-title {chart_id}-desc"
    completions = parse(re.search(r'<svg [^>]*id="chart-completions".*?</svg>', html, re.S).group(0))
    assert [int(p.get("data-value")) for p in find_all(completions, "circle", "chart-point")] == [2]
    # the numbers behind the line are in a table too
    assert 'id="table-completions-by-month"' in html and month in html


def effect_summary(monkeypatch, methods):
    from app.programmes import feedback

    summary = feedback.FeedbackSummary(
        invited=4,
        answered=2,
        earlier={},
        methods=[
            feedback.MethodEffect(method_id=i, method_name=name, before=before, since=since, responses=2)
            for i, (name, before, since) in enumerate(methods, 1)
        ],
    )
    monkeypatch.setattr(feedback, "summary_for_programme", lambda programme_id, until=None: summary)


def cells(html: str, method: str) -> list[str]:
    row = re.search(rf"<th[^>]*>{method}</th>(.*?)</tr>", html, re.S).group(1)
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)
    ]


def test_a_share_with_no_answers_is_not_measured_not_zero(client, login_as, coordinator, programme, monkeypatch):
    effect_summary(
        monkeypatch,
        [
            ("Signs of Safety", {}, {"weekly": 2}),  # nothing before: no share before, no increase measured
            ("Netværksmøder", {"never": 1, "weekly": 1}, {"monthly": 1, "never": 1}),
        ],
    )
    html = dashboard(client, login_as, coordinator, programme, "da")
    assert "0 % (0 af 0)" not in html
    assert cells(html, "Signs of Safety") == ["2", "– Ikke målt", "100 % (2 af 2)", "– Ikke målt"]
    assert cells(html, "Netværksmøder") == ["2", "50 % (1 af 2)", "50 % (1 af 2)", "Nej"]
    english = dashboard(client, login_as, coordinator, programme, "en")
    assert cells(english, "Signs of Safety")[1] == "– Not measured"


def test_no_allocation_shows_no_share_of_it(client, login_as, coordinator, programme, fic_provider):
    from tests import factories

    factories.make_course_run(
        programme=programme,
        provider=fic_provider,
        days=(date(2009, 9, 1), date(2009, 9, 2), date(2009, 12, 1)),
        status="draft",
        price_ore=10_000_00,
    )  # 2009: runs but no allocation
    html = dashboard(client, login_as, coordinator, programme, "da")
    # 0 allocated is not "100 %" of it: the over-commitment is said, no share
    assert re.search(r'id="bar-budget-2009-\d+-text">overdisponeret<', html)
    assert re.search(r'id="bar-budget-2008-\d+-text">107 % – overdisponeret<', html)  # 400.000 of 375.000
