"""The competence overview (issue 24) on a desktop (1280 px) and a phone (390 px): the staff × methods table
sits in a labelled region that scrolls sideways (DKFDS table pattern), the page itself never does, and the
name column stays in view while the methods scroll past it."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from app.accounts.models import Unit
from app.extensions import db
from tests.browser.conftest import COORDINATOR, LEADER, log_in, new_page

PHONE, DESKTOP = 390, 1280


def _centre(live) -> int:
    with live.app.app_context():
        return db.session.scalar(select(Unit.id).filter_by(name="Socialcenter Amager"))


def _open_overview(page, live) -> None:
    """From the navigation's entry to the centre's overview, as the leader would go."""
    page.goto(live.url("/me/courses"))
    expect(page.locator('.navigation-menu a[href="/competence/"]').first).to_be_attached()  # the leader's entry
    entry = page.get_by_role("link", name="Kompetenceoverblik")  # only a visible one: the desktop's bar
    if entry.count() == 1:
        entry.click()
    else:  # on a phone the menu is folded away: go where the entry leads
        page.goto(live.url("/competence/"))
    link = page.locator("#competence-units a", has_text="Socialcenter Amager")
    expect(link).to_be_visible()
    link.click()
    expect(page.locator("h1")).to_contain_text("Socialcenter Amager")


def test_the_leader_reads_the_overview_on_a_desktop(live, chromium):
    page = new_page(chromium, width=DESKTOP)
    log_in(page, live, LEADER)
    _open_overview(page, live)
    table = page.locator("#competence-table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr").first).to_be_visible()
    expect(table.locator("tbody")).to_contain_text("Mads Medarbejder")
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP, "the page scrolls sideways"
    page.context.close()


def test_the_leader_reads_the_overview_on_a_phone(live, chromium):
    page = new_page(chromium, width=PHONE, height=844, mobile=True)
    log_in(page, live, LEADER)
    _open_overview(page, live)
    region = page.locator("[data-scroll-region]", has=page.locator("#competence-table"))
    expect(region).to_be_visible()
    expect(region).to_have_attribute("role", "region")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE, "the page scrolls sideways"
    widths = region.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] > widths[1], f"the table is wider than the phone and scrolls in its region: {widths}"
    # Scrolled to the last method, the name of the first person is still in view (sticky column).
    name = page.locator("#competence-table tbody th").first
    name.scroll_into_view_if_needed()
    region.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    expect(region).not_to_have_js_property("scrollLeft", 0)
    expect(name).to_be_in_viewport()
    box = name.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE, box
    page.context.close()


def test_the_coordinator_filters_and_downloads(live, chromium):
    page = new_page(chromium, width=DESKTOP)
    log_in(page, live, COORDINATOR)
    page.goto(live.url(f"/competence/units/{_centre(live)}"))
    page.locator("#enhed").select_option(label="Socialcenter Amager › Børne- og Familieteam, Amager")
    with page.expect_navigation():
        page.get_by_role("button", name="Filtrér").click()
    expect(page.locator("#competence-table")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Hent som regneark (XLSX)").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    page.context.close()
