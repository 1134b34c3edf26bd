"""A mail's HTML part as a reader sees it: rendered in Chromium (page.set_content, no server), it is in a
sans-serif font, its button is visible and readable, it fits a phone's width, and axe finds nothing
(issue 21). The structure is checked without a browser in tests/notifications/test_mail_html.py."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import expect

from app.notifications import compose
from app.notifications.compose import InvitationKind, Recipient
from tests import factories
from tests.browser.conftest import new_page
from tests.browser.harness import describe_violations, run_axe

RUN_URL = "https://kursus.example.dk/runs/7"
BUTTON = {"da": "Åbn kursusforløbet i Kursusportalen", "en": "Open the course run in Kursusportalen"}
#: Rules about whole web pages that a mail body is not: it has no landmarks of its own, the client's frame does.
PAGE_ONLY_RULES = ("region", "landmark-one-main", "page-has-heading-one", "bypass")


def first_invitation_html(language: str) -> str:
    run = factories.make_course_run(
        title="Tidlig inddragelse, hold Æ",
        days=(date(2026, 3, 30), date(2026, 4, 14), date(2026, 10, 26)),
        venue="Kursuscenter Valby, Toftegårds Allé 7",
    )
    recipient = Recipient("soeren@test.dk", "Søren Ærbø-Åsted", language)
    msg = compose.invitation_message(
        run.days[0], recipient, InvitationKind.INVITATION, stamp=datetime(2026, 3, 2, 9, tzinfo=UTC), run_url=RUN_URL
    )
    (html,) = [part for part in msg.walk() if part.get_content_type() == "text/html"]
    return html.get_content()


@pytest.mark.parametrize("language", ["da", "en"])
@pytest.mark.parametrize("width", [1280, 375])
def test_the_invitation_reads_well_in_a_browser(app, chromium, language, width):
    html = first_invitation_html(language)
    page = new_page(chromium, language=language, width=width, mobile=width < 600)
    try:
        page.set_content(html)
        button = page.get_by_role("link", name=BUTTON[language])
        expect(button).to_be_visible()
        assert button.get_attribute("href") == RUN_URL
        style = button.evaluate(
            "a => { const s = getComputedStyle(a), cell = getComputedStyle(a.parentElement);"
            " return [s.color, cell.backgroundColor, a.getBoundingClientRect().height]; }"
        )
        assert style[0] == "rgb(255, 255, 255)" and style[1] == "rgb(0, 77, 153)"  # white on the portal's blue
        assert style[2] >= 44  # a target a finger can hit
        fonts = page.evaluate(
            "() => [...document.querySelectorAll('p, td, th, li, a')]"
            ".filter(e => e.textContent.trim()).map(e => getComputedStyle(e).fontFamily)"
        )
        assert fonts and all(font.endswith("sans-serif") for font in fonts), set(fonts)
        expect(page.locator("li")).to_have_count(3)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width  # no sideways scrolling
        violations = run_axe(page, disable=PAGE_ONLY_RULES)
        assert not violations, describe_violations(violations)
    finally:
        page.context.close()
