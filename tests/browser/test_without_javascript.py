"""The essentials work with JavaScript switched off: it only enhances (WCAG 4.1, and browsers that block it).

Enrol, cancel, the run form's follow-up proposal (the "Beregn forslag" button instead of the live hint), the
language switch and a phone's navigation, in a Chromium context with `java_script_enabled=False`.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import Enrolment, EnrolmentStatus, StaffRole
from tests import factories
from tests.browser.conftest import COORDINATOR, log_in
from tests.browser.test_journeys import published_run

NO_JS_RUN = "Familierådslagning uden script, hold N"


def _page(chromium, **viewport):
    context = chromium.new_context(
        java_script_enabled=False, locale="da-DK", viewport=viewport or {"width": 1280, "height": 900}
    )
    return context.new_page()


def test_staff_enrol_and_cancel_without_javascript(live, chromium):
    run_id = published_run(live, NO_JS_RUN, weeks_ahead=16)
    with live.app.app_context():
        role = db.session.scalar(select(StaffRole).filter_by(name="Sagsbehandler"))
        person = factories.make_user(
            access_level="staff", name="Nina Noscript", email="noscript@demo.test", staff_role_id=role.id
        )
        person_id = person.id
    page = _page(chromium)
    log_in(page, live, "noscript@demo.test", factories.PASSWORD)
    page.goto(live.url(f"/runs/{run_id}"))
    page.get_by_role("button", name="Tilmeld").click()
    expect(page.get_by_role("main")).to_contain_text("Du er tilmeldt kursusforløbet.")
    with live.app.app_context():
        status = db.session.scalar(select(Enrolment.status).filter_by(course_run_id=run_id, user_id=person_id))
        assert status == EnrolmentStatus.CONFIRMED

    # The cancel button asks for confirmation with JavaScript; without it the button simply cancels.
    page.get_by_role("button", name="Afmeld mig").click()
    with live.app.app_context():
        status = db.session.scalar(select(Enrolment.status).filter_by(course_run_id=run_id, user_id=person_id))
        assert status == EnrolmentStatus.CANCELLED
    page.context.close()


def test_follow_up_proposal_button_and_language_switch_without_javascript(live, chromium):
    page = _page(chromium)
    log_in(page, live, COORDINATOR)
    page.goto(live.url("/runs/new"))
    page.locator("#day2_date").fill("2008-10-01")
    page.get_by_role("button", name="Beregn forslag til opfølgningsdag").click()
    expect(page.locator("#follow_up_date")).to_have_value("2009-01-02")
    expect(page.locator("#follow_up_date-hint")).to_have_text(re.compile(r"^Forslag: 2\. januar 2009 .*nytårsdag"))
    assert page.locator("#error-summary").count() == 0, "the proposal saves nothing and reports no errors"

    page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_have_text("Create course run")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.get_by_role("button", name="Dansk").click()
    page.context.close()


def test_a_phone_without_javascript_shows_the_menu_and_log_out(live, chromium):
    page = _page(chromium, width=390, height=844)
    log_in(page, live, COORDINATOR)
    menu = page.get_by_role("navigation", name="Hovedmenu")
    for item in ("Kursusforløb", "Indsatser", "Udbydere"):
        expect(menu.get_by_role("link", name=item)).to_be_visible()
    expect(page.get_by_role("button", name="Log af")).to_be_visible()
    expect(page.get_by_role("button", name="English")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.context.close()
