"""The run list on a phone and on a desktop (issue 21): below dkfds' md breakpoint (768 px) each run is a card
holding every fact a person decides on, inside the screen, and nothing scrolls sideways; on a desktop the
table shows and the cards do not (app.css shows one of the two)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import COORDINATOR, STAFF, log_in, new_page
from tests.browser.harness import describe_violations, run_axe

PHONE = 390


def _inside(locator, width: int) -> None:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not laid out"
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{locator} lies outside 0..{width}: {box}"


def test_a_staff_member_reads_the_first_run_on_a_phone_without_scrolling_sideways(live, chromium):
    page = new_page(chromium, width=PHONE, height=844, mobile=True)
    log_in(page, live, STAFF)
    page.goto(live.url("/runs"))
    card = page.locator(".run-cards > li").first
    expect(card).to_be_visible()
    expect(page.locator(".run-table")).to_be_hidden()

    facts = {
        "title": card.locator("h2 a"),
        "days": card.locator("dd").nth(0).locator("li"),
        "venue": card.locator("dd").nth(1),
        "seats": card.locator("dd").nth(2),
        "deadline": card.locator("dd").nth(3),
        "action": card.locator(".card-actions a.button"),
    }
    terms = card.locator("dt").all_inner_texts()
    assert terms[:4] == ["Kursusdage", "Sted", "Ledige pladser", "Tilmeldingsfrist"]
    expect(facts["days"]).to_have_count(3)  # two teaching days and the follow-up day, each with its hours
    for n in range(3):
        expect(facts["days"].nth(n)).to_contain_text("kl.")
        _inside(facts["days"].nth(n), PHONE)
    for name, locator in facts.items():
        if name == "days":
            continue
        expect(locator).to_be_visible()
        assert locator.inner_text().strip(), f"{name} is empty"
        _inside(locator, PHONE)
    expect(facts["action"]).to_have_text("Læs mere og tilmeld dig")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE, "the page scrolls sideways"

    # The action opens the run.
    title = facts["title"].inner_text()
    facts["action"].click()
    expect(page.locator("h1")).to_have_text(title)
    page.context.close()


def test_the_desktop_keeps_the_table(live, chromium):
    for email in (STAFF, COORDINATOR):
        page = new_page(chromium, width=1280)
        log_in(page, live, email)
        page.goto(live.url("/runs"))
        expect(page.locator(".run-table table")).to_be_visible()
        expect(page.locator(".run-cards")).to_be_hidden()
        header = page.locator(".run-table thead")
        if email == STAFF:
            expect(header).to_contain_text("Sted")
            expect(header).not_to_contain_text("Status")
        else:
            expect(header).to_contain_text("Status")
            expect(page.locator(".run-table tbody td").filter(has_text="/").first).to_be_visible()
        page.context.close()


def test_a_staff_member_sorts_the_cards_on_a_phone_and_keeps_the_filters(live, chromium):
    """The cards have no column headers to click: a "Sortér efter" select above them offers the table's sort
    orders, and sorting keeps the filters that are set (a plain GET; no JavaScript needed)."""
    page = new_page(chromium, width=PHONE, height=844, mobile=True)
    log_in(page, live, STAFF)
    page.goto(live.url("/runs?free=y"))
    sort = page.get_by_label("Sortér efter")
    expect(sort).to_be_visible()
    _inside(sort, PHONE)
    options = page.locator("#run-cards-sort option").all_inner_texts()
    assert options == [
        "Første kursusdag, tidligste først",
        "Første kursusdag, seneste først",
        "Titel, A–Å",
        "Titel, Å–A",
    ]
    expect(sort).to_have_value("first_day")  # the staff default: the soonest first
    sort.select_option("title")
    with page.expect_navigation():
        page.get_by_role("button", name="Sortér", exact=True).click()
    expect(page.get_by_label("Sortér efter")).to_have_value("title")
    assert "free=y" in page.url and "sort=title" in page.url
    sorted_titles = page.locator(".run-cards > li h2").all_inner_texts()
    assert sorted_titles == sorted(sorted_titles, key=str.casefold)
    expect(page.locator(".run-cards-sort")).to_be_visible()
    page.context.close()
    desk = new_page(chromium, width=1280)
    log_in(desk, live, STAFF)
    desk.goto(live.url("/runs"))
    expect(desk.locator(".run-table table")).to_be_visible()
    expect(desk.locator(".run-cards-sort")).to_be_hidden()  # the table's headers sort on a desk
    desk.context.close()


@pytest.mark.parametrize("language", ["da", "en"])
def test_the_phone_cards_and_their_sort_form_pass_axe(live, chromium, language):
    """The desk-width axe run (test_accessibility.py) never sees the cards or their sort form: check them at
    390 px, as a coordinator (whose form also offers the status orders), in both languages."""
    page = new_page(chromium, language=language, width=PHONE, height=844, mobile=True)
    log_in(page, live, COORDINATOR)
    page.goto(live.url("/runs"))
    expect(page.locator(".run-cards-sort select")).to_be_visible()
    violations = run_axe(page)
    assert not violations, describe_violations(violations)
    page.context.close()
