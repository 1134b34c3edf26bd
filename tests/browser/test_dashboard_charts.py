"""The programme dashboard's charts in a real browser: both inline SVG charts are visible, fit the page and
cause no sideways scrolling on a phone (390 px) and on a desktop (1280 px), with their Danish and English
titles as their accessible names."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import Programme
from tests.browser.conftest import COORDINATOR, log_in, new_page

TITLES = {
    "da": ("Gennemførte medarbejdere over tid", "Budget pr. udbyder og år"),
    "en": ("Staff who have completed over time", "Budget per provider and year"),
}


@pytest.mark.parametrize(("width", "mobile", "language"), [(390, True, "da"), (1280, False, "en")])
def test_the_charts_are_visible_and_fit_the_page(live, chromium, tmp_path, width, mobile, language):
    with live.app.app_context():
        programme = db.session.scalar(select(Programme.id).filter(Programme.name.like("Tidlig inddragelse af%")))
    page = new_page(chromium, language=language, width=width, mobile=mobile)
    log_in(page, live, COORDINATOR)
    page.goto(live.url(f"/programmes/{programme}/dashboard"))
    # The coordinator's profile language wins over the browser's, and other tests share the account: choose it.
    if page.locator("html").get_attribute("lang") != language:
        with page.expect_navigation():
            page.get_by_role("button", name={"da": "Dansk", "en": "English"}[language]).click()
        expect(page.locator("html")).to_have_attribute("lang", language)
    for chart_id, title in zip(("chart-completions", "chart-budget"), TITLES[language], strict=True):
        chart = page.locator(f"svg#{chart_id}")
        expect(chart).to_be_visible()
        expect(page.get_by_role("img", name=title)).to_be_visible()
        box = chart.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (chart_id, box)
        assert box["width"] >= min(300, width - 60), (chart_id, box)  # scaled to the column, not a thumbnail
    page.screenshot(path=tmp_path / f"dashboard-{width}.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.context.close()
