"""Danish (and English) sentences built around numbers and amounts (issue 21).

- A count next to a noun goes through ngettext: "1 ledig plads", never "1 ledige" or "time(r)".
- An amount never ends a sentence: `money` ends in "kr.", and a full stop after it gave "20.000 kr..".
- A percentage written beside a bar is the real one: 107 % when over-committed, while the bar stops at 100.
"""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale, ngettext

from app.core.templating import money
from app.programmes.dashboard import programme_figures
from app.programmes.report import summary_text
from tests import factories
from tests.conftest import post_form
from tests.programmes.test_dashboard import (  # noqa: F401 (fixtures)
    BEFORE,
    as_coordinator,
    form_ref,
    programme,
    run_in,
    run_payload,
    vilde,
)
from tests.test_translations import _extracted

#: Plurals made by hand: "time(r)", "deltager(e)", "response(s)".
HAND_MADE_PLURAL = re.compile(r"\w\((e|r|er|s|es)\)")
DOUBLE_STOP = re.compile(r"kr\.\.|kr\.</strong>\.|kr\.\s*\.")


def test_no_message_builds_a_plural_by_hand():
    """Neither a Danish msgid nor its English text may say "(e)"/"(r)"/"(s)": ngettext knows the count."""
    from babel.messages.pofile import read_po

    from tests.test_translations import CATALOGUE

    with open(CATALOGUE, "rb") as po:
        catalogue = read_po(po)
    found = []
    for msgid, where in _extracted().items():
        if where.startswith("app/core/form_messages.py"):
            continue  # WTForms' own English msgids, the keys of their Danish texts
        entry = catalogue.get(msgid)
        texts = [msgid] + (
            [entry.string] if entry and isinstance(entry.string, str) else list(entry.string or ()) if entry else []
        )
        if any(HAND_MADE_PLURAL.search(text) for text in texts):
            found.append(f"{where}: {msgid}")
    assert found == []


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        (
            "da",
            "1 af 12 pladser er besat – der er 1 ledig plads.",
            "1 af 12 pladser er besat – der er 2 ledige pladser.",
        ),
        (
            "en",
            "1 of 12 places are taken – 1 place is available.",
            "1 of 12 places are taken – 2 places are available.",
        ),
    ],
)
def test_seats_left_in_the_singular_and_the_plural(app, language, one, two):
    singular = "%(taken)s af %(capacity)s pladser er besat – der er %(num)s ledig plads."
    plural = "%(taken)s af %(capacity)s pladser er besat – der er %(num)s ledige pladser."
    with app.test_request_context(), force_locale(language):
        assert ngettext(singular, plural, 1, taken=1, capacity=12) == one
        assert ngettext(singular, plural, 2, taken=1, capacity=12) == two


def test_the_coordinators_seat_line_on_the_run_page(client, login_as, coordinator, fic_provider):
    run = factories.make_course_run(provider=fic_provider, capacity=2)
    factories.make_enrolment(run, factories.make_user(name="Anna"), status="confirmed")
    login_as(coordinator)
    page = client.get(f"/runs/{run.id}").get_data(as_text=True)
    assert "2 i alt, 1 ledig<" in page
    assert "1 af 2 pladser er besat – der er 1 ledig plads." in page


def _over_committed_dashboard(client, login_as, coordinator, programme, fic_provider):  # noqa: F811
    factories.make_allocation(programme, fic_provider, 2008, 375_000)
    run_in(programme, fic_provider, price_ore=40_000_000, title="Familierådslagning, hold 1")
    login_as(coordinator)
    return client.get(f"/programmes/{programme.id}/dashboard").get_data(as_text=True)


def test_the_dashboard_ends_no_sentence_with_an_amount(client, login_as, coordinator, programme, fic_provider):  # noqa: F811
    html = _over_committed_dashboard(client, login_as, coordinator, programme, fic_provider)
    assert "Familien i Centrum i 2008 med 25.000 kr.</p>" in html
    assert "I alt er 400.000 kr. af budgetrammen på 375.000 kr. disponeret og 400.000 kr. forbrugt." in html
    assert not DOUBLE_STOP.search(html), DOUBLE_STOP.search(html)


def test_an_over_committed_line_shows_its_real_percentage(client, login_as, coordinator, programme, fic_provider):  # noqa: F811
    html = _over_committed_dashboard(client, login_as, coordinator, programme, fic_provider)
    assert "107 % – overdisponeret" in html and "100 % – overdisponeret" not in html
    assert '<progress id="bar-budget-2008-' in html  # the bar itself still stops at its end
    line = programme_figures(programme.id, BEFORE).budget[0]
    assert (line.committed_share, line.over_committed) == (107, True)


def test_the_pdf_summary_ends_no_sentence_with_an_amount(app, programme, fic_provider):  # noqa: F811
    factories.make_allocation(programme, fic_provider, 2008, 375_000)
    run_in(programme, fic_provider, price_ore=40_000_000)
    with app.test_request_context(), force_locale("da"):
        lines = summary_text(programme_figures(programme.id, BEFORE))
    budget = next(line for line in lines if line.startswith("Budget:"))
    assert budget.startswith("Budget: Af rammen på 375.000 kr. er 400.000 kr. disponeret og 400.000 kr. forbrugt.")
    assert not any(DOUBLE_STOP.search(line) for line in lines)


def test_the_run_forms_warning_without_an_allocation(as_coordinator, form_ref, fic_provider):  # noqa: F811
    payload = run_payload(form_ref, provider_id=str(fic_provider.id))
    html = post_form(as_coordinator, "/runs/new", payload, form_url="/runs/new").get_data(as_text=True)
    assert "Med dette kursusforløb bliver der disponeret 41.500 kr. i alt." in html
    assert not DOUBLE_STOP.search(html)


def test_the_allocation_form_names_the_amount_mid_sentence(client, login_as, coordinator, programme, fic_provider):  # noqa: F811
    allocation = factories.make_allocation(programme, fic_provider, 2008, 375_000)
    login_as(coordinator)
    html = client.get(f"/programmes/{programme.id}/allocations/{allocation.id}/edit").get_data(as_text=True)
    assert "Den nuværende budgetramme på 375.000 kr. gælder Familien i Centrum i 2008" in html
    assert not DOUBLE_STOP.search(html)


def test_money_itself_still_ends_in_kr(app):
    with app.test_request_context(), force_locale("da"):
        assert money(2_000_000) == "20.000 kr."
