"""The evaluation report: PDF text and XLSX contents read back and compared with programme_figures()."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest

from app.courses.models import RunStatus
from app.programmes import feedback
from app.programmes.dashboard import programme_figures
from tests import factories
from tests.programmes.test_dashboard import DEADLINE, LATE, attend, run_in
from tests.reporting.conftest import pdf_text

TODAY = date(2010, 3, 1)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: TODAY)


@pytest.fixture
def scene(app, fic_provider, monkeypatch):
    programme = factories.make_programme(
        name="Styrket forældreansvar 2008-2009", target_deadline=DEADLINE, target_runs=2, target_completed_staff=2
    )
    vilde = factories.make_provider(name="Vilde Læreprocesser")
    factories.make_allocation(programme, fic_provider, 2008, 375_000)
    factories.make_allocation(programme, vilde, 2009, 125_000)
    one = run_in(programme, fic_provider, price_ore=18_750_000, title="Familierådslagning, hold 1")
    two = run_in(
        programme,
        vilde,
        price_ore=4_150_000,
        title="Netværksmøder, hold 1",
        days=(date(2009, 2, 24), date(2009, 2, 25), date(2009, 5, 26)),
    )
    run_in(programme, vilde, days=LATE, price_ore=13_000_000, title="Netværksmøder, hold 2")  # over in 2009
    role = factories.make_staff_role("Sagsbehandler")
    unit = factories.make_unit("Børne- og Familieteam, Amager")
    for n, run in enumerate((one, one, two)):
        attend(run, factories.make_user(name=f"Deltager {n}", staff_role=role, unit=unit))
    attend(two, factories.make_user(name="Fravær", staff_role=role, unit=unit), missing=(1,))

    summary = feedback.FeedbackSummary(
        invited=3,
        answered=3,
        earlier={"yes": 2, "partly": 1, "no": 0},
        methods=[
            feedback.MethodEffect(
                method_id=1,
                method_name="Signs of Safety",
                before={"never": 2, "monthly": 1},
                since={"monthly": 2, "weekly": 1},
                responses=3,
            )
        ],
    )
    monkeypatch.setattr(feedback, "summary_for_programme", lambda programme_id, until=None: summary)
    return programme


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_pdf_holds_the_requirements_summary_chart_and_budget(client, login_as, coordinator, scene):
    login_as(coordinator)
    response = client.get(f"/programmes/{scene.id}/report.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert 'filename="Styrket foraeldreansvar 2008-2009 2010-03-01 evalueringsrapport.pdf"' in disposition
    assert "filename*=UTF-8''Styrket%20for%C3%A6ldreansvar" in disposition
    assert response.headers["Cache-Control"] == "no-store, private"

    text = _flat(pdf_text(response.get_data()))
    f = programme_figures(scene.id, TODAY)
    assert (f.activity.completed, f.result.completed) == (2, 3)
    assert "Styrket forældreansvar 2008-2009" in text
    assert "Indsatsen har gennemført 2 af 2 kursusforløb inden fristen 31. december 2009. Målet er nået." in text
    assert "3 af 2 medarbejdere har gennemført kurset" in text
    assert f"er {f.effect.before_percent} % før kurset og {f.effect.since_percent} % siden kurset" in text
    assert "Aktivitet: gennemførte kursusforløb 2 2 Nået" in text
    assert "Resultat: medarbejdere, der har gennemført 3 2 Nået" in text
    assert "Signs of Safety" in text and "Før: 33 % (3 svar)" in text and "Siden: 100 % (3 svar)" in text
    assert "Sagsbehandler 3 1" in text  # role: completed, enrolled not completed
    assert "2009 Vilde Læreprocesser 125.000 kr. 171.500 kr. 171.500 kr. -46.500 kr. Ja" in text
    assert "2008 Familien i Centrum 375.000 kr. 187.500 kr. 187.500 kr. 187.500 kr. Nej" in text
    assert "Overdisponeret: Vilde Læreprocesser 2009." in text


def test_the_workbook_holds_the_same_figures(client, login_as, coordinator, scene):
    login_as(coordinator)
    response = client.get(f"/programmes/{scene.id}/report.xlsx")
    assert response.status_code == 200
    assert 'evalueringsrapport.xlsx"' in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    f = programme_figures(scene.id, TODAY)

    def rows(name):
        return [list(row) for row in book[name].iter_rows(min_row=2, values_only=True)]

    assert book.sheetnames == [
        "Sammenfatning",
        "Krav",
        "Stillingsbetegnelse",
        "Enhed",
        "Udbyder",
        "Metoder",
        "Budget",
        "Kursusforløb",
    ]
    assert rows("Krav")[0] == [
        "Aktivitet: gennemførte kursusforløb",
        str(f.activity.completed),
        str(f.activity.target),
        "Nået",
    ]
    assert rows("Stillingsbetegnelse") == [[r.label, r.completed, r.not_completed] for r in f.result.by_role]
    assert rows("Enhed") == [[r.label, r.completed, r.not_completed] for r in f.result.by_unit]
    assert rows("Udbyder") == [[r.label, r.completed, r.not_completed] for r in f.result.by_provider]
    assert rows("Metoder") == [
        [
            m.name,
            m.responses,
            m.before_regular,
            sum(m.before.values()),
            m.since_regular,
            sum(m.since.values()),
            m.before_percent,
            m.since_percent,
        ]
        for m in f.effect.methods
    ]
    budget = rows("Budget")
    assert [[y, p] for y, p, *_rest in budget] == [[x.year, x.provider_name] for x in f.budget]
    assert [[Decimal(str(v)) * 100 for v in row[2:6]] for row in budget] == [
        [x.allocated_ore, x.committed_ore, x.spent_ore, x.remainder_ore] for x in f.budget
    ]
    assert [row[6] for row in budget] == ["Ja" if x.over_committed else "Nej" for x in f.budget]
    runs = rows("Kursusforløb")
    assert [r[0] for r in runs] == [run.title for run in f.runs]
    assert [r[6] for r in runs] == [run.completed_staff for run in f.runs]
    summary = [row[0] for row in book["Sammenfatning"].iter_rows(values_only=True)]
    assert "Indsatsen har gennemført 2 af 2 kursusforløb inden fristen 31. december 2009. Målet er nået." in summary


def test_a_title_that_looks_like_a_formula_stays_text(client, login_as, coordinator, fic_provider):
    programme = factories.make_programme(name="=HYPERLINK(1)")
    run_in(programme, fic_provider, status=RunStatus.DRAFT, title="=SUM(A1)")
    login_as(coordinator)
    response = client.get(f"/programmes/{programme.id}/report.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    cell = book["Kursusforløb"]["A2"]
    assert cell.value == "=SUM(A1)" and cell.data_type == "s" and cell.quotePrefix
    name = book.worksheets[0]["A1"]  # the summary sheet starts with the programme's name
    assert name.value == "=HYPERLINK(1)" and name.data_type == "s" and name.quotePrefix
    assert 'filename="HYPERLINK 1' in response.headers["Content-Disposition"]


def test_an_empty_programme_has_a_report(client, login_as, coordinator):
    programme = factories.make_programme(name="Ny indsats")
    login_as(coordinator)
    assert "Der er endnu ingen tilbagemeldinger" in pdf_text(
        client.get(f"/programmes/{programme.id}/report.pdf").get_data()
    )
    assert client.get(f"/programmes/{programme.id}/report.xlsx").status_code == 200


def test_a_share_without_answers_is_not_measured_in_the_report(client, login_as, coordinator, scene, monkeypatch):
    """No answers before the course is "not measured", never "0 % (0 svar)" or a 0 in the workbook (issue 21)."""
    summary = feedback.FeedbackSummary(
        invited=3,
        answered=1,
        earlier={},
        methods=[
            feedback.MethodEffect(
                method_id=1, method_name="Signs of Safety", before={}, since={"weekly": 1}, responses=1
            )
        ],
    )
    monkeypatch.setattr(feedback, "summary_for_programme", lambda programme_id, until=None: summary)
    login_as(coordinator)
    text = _flat(pdf_text(client.get(f"/programmes/{scene.id}/report.pdf").get_data()))
    assert "Før: ikke målt" in text and "0 svar" not in text and "Før: 0 %" not in text
    assert "Siden: 100 % (1 svar)" in text
    assert "Effekt: øget brug af metoderne – " in text  # the requirement's figure is "–", not "0 % → 100 %"
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/programmes/{scene.id}/report.xlsx").get_data()))
    (row,) = book["Metoder"].iter_rows(min_row=2, values_only=True)
    assert list(row) == ["Signs of Safety", 1, 0, 0, 1, 1, None, 100]
