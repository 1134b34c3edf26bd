"""Certificates of completion in a browser: the staff member's download link on Mine kurser, and the public
verification page's three answers (valid, no longer valid, unknown code) in both languages, each passing the
accessibility checks of test_accessibility (axe, one h1, reflow at 320 px)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.core import clock
from app.extensions import db
from tests import factories
from tests.browser.conftest import log_in, new_page
from tests.browser.test_accessibility import LANGUAGES, check_page

EMAIL = "bevis@demo.test"
NAME = "Bodil Bevisholder"


@pytest.fixture(scope="module")
def codes(live) -> dict[str, str]:
    """A run of its own that ended ten days ago: Bodil completed it (her certificate's code), Viggo completed
    it too but his certificate has been withdrawn."""
    from app.certificates import services

    with live.app.app_context():
        today = clock.today()
        run = factories.make_course_run(
            days=(today - timedelta(days=100), today - timedelta(days=99), today - timedelta(days=10)),
            title="Bevisforløbet",
        )
        people = {
            "valid": factories.make_user(name=NAME, email=EMAIL),
            "withdrawn": factories.make_user(name="Viggo Tilbagekaldt", email="viggo@demo.test"),
        }
        enrolments = {}
        for key, person in people.items():
            enrolments[key] = factories.make_enrolment(run, person)
            for day in run.days:
                factories.make_attendance(enrolments[key], day)
        issued = services.issue(enrolments.values(), clock.utcnow())
        services.withdraw_for_user(people["withdrawn"].id, clock.utcnow())
        db.session.commit()
        return {key: services.display_code(issued[e.id].code) for key, e in enrolments.items()}


def test_mine_kurser_offers_the_certificate(live, chromium, codes):
    page = new_page(chromium)
    log_in(page, live, EMAIL, factories.PASSWORD)
    page.goto(live.url("/me/courses"))
    page.locator("details.my-courses-past summary").click()
    link = page.get_by_role("link", name=re.compile(r"^Hent kursusbevis \(PDF\)\s*: Bevisforløbet$"))
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith(".pdf")
    assert "kursusbevis" in download.value.suggested_filename
    page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_verification_page_answers_pass_wcag_aa(live, chromium, codes, language):
    page = new_page(chromium, language=language)
    problems: list[str] = []
    page.goto(live.url("/verify"))
    check_page(page, problems, language=language)

    def submit(code: str) -> None:
        page.goto(live.url("/verify"))
        page.locator("#code").fill(code)
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()

    submit(codes["valid"].lower())
    result = page.locator("#resultat")
    expect(result).to_be_visible()
    expect(result).to_contain_text(NAME)
    expect(result).to_contain_text("Bevisforløbet")
    check_page(page, problems, language=language)

    submit(codes["withdrawn"])
    expect(page.locator("#resultat")).to_be_visible()
    expect(page.locator("#resultat")).not_to_contain_text("Viggo")
    check_page(page, problems, language=language)

    submit("2345-6789-ABCD")
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#code-error")).to_be_visible()
    check_page(page, problems, language=language)
    page.context.close()
    assert not problems, "\n".join(problems)
