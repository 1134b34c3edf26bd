"""Leader approval (issue 24) in a real browser: the demo leader finds the pending request of her caseworker
under "Godkendelser" (with the run's dates and cost), and a reason that is too long is shown next to the
field, the request left as it was; the page with the error passes axe in both languages. The shared demo
world is left unchanged (the request stays pending for the other browser tests and the screenshots)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LEADER, log_in, new_page
from tests.browser.harness import describe_violations, run_axe


@pytest.mark.parametrize("language", ["da", "en"])
def test_the_leader_finds_the_request_and_a_too_long_reason_is_refused(live, chromium, language):
    page = new_page(chromium, language=language)
    log_in(page, live, LEADER)
    page.goto(live.url("/me/courses"))
    entry = page.locator('.navigation-menu a[href="/approvals"]').first
    expect(entry).to_be_attached()  # the leader's menu entry
    page.goto(live.url("/approvals"))
    card = page.locator("section.card", has_text="Mads Medarbejder")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Netværksmøder i praksis 2.0")
    expect(card).to_contain_text("50.000 kr. for hele forløbet" if language == "da" else "DKK 50,000 for the whole run")
    reason = card.locator("textarea")
    expect(reason).to_have_attribute("maxlength", "500")  # the browser stops at 500; a crafted request may not
    reason.evaluate("el => el.removeAttribute('maxlength')")
    reason.fill("x" * 501)
    with page.expect_navigation():
        card.get_by_role("button", name="Afvis" if language == "da" else "Reject").click()
    card = page.locator("section.card", has_text="Mads Medarbejder")
    expect(card.locator(".form-error textarea")).to_be_visible()
    expect(card.locator("textarea")).to_have_attribute("aria-invalid", "true")
    violations = run_axe(page)
    assert not violations, describe_violations(violations)
    page.context.close()
