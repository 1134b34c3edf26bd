"""The coordinator's forms in a real browser (issue 21): a budget overrun on the run form comes back as a
summary at the top that has the focus and links to the "Gem alligevel" box; enrol on someone's behalf finds
the person as the coordinator types, by keyboard alone."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from app.enrolment.models import Enrolment
from app.extensions import db
from app.models import CourseRun, Programme, Provider, StaffRole
from tests import factories
from tests.browser.conftest import COORDINATOR, TODAY, log_in, new_page


def _hold_a(live) -> int:
    with live.app.app_context():
        return db.session.scalar(select(CourseRun.id).filter_by(title="Tidlig inddragelse, hold A"))


def test_a_budget_overrun_is_summarised_at_the_top_focused_and_links_to_the_box(live, chromium):
    run_id = _hold_a(live)
    page = new_page(chromium)
    log_in(page, live, COORDINATOR)
    page.goto(live.url(f"/runs/{run_id}/edit"))
    page.locator("#price").fill("99.999.999")
    with page.expect_navigation():
        page.get_by_role("button", name="Gem kursusforløb", exact=True).last.click()

    summary = page.locator("#warning-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()  # app.js, deferred: waits for it
    expect(summary).to_contain_text("Budgetrammen overskrides")
    assert summary.bounding_box()["y"] < 600, "the summary is at the top, not 1,900 px down"
    assert page.locator("#error-summary").count() == 0

    box = page.locator("#confirm_anyway")
    summary.get_by_role("link", name=re.compile("Gem alligevel")).click()
    expect(page).to_have_url(re.compile(r"#confirm_anyway$"))
    expect(box).to_be_in_viewport()
    page.context.close()


def test_enrol_on_behalf_search_as_you_type_by_keyboard(live, chromium):
    with live.app.app_context():
        role = db.session.scalar(select(StaffRole).filter_by(name="Sagsbehandler"))
        programme = db.session.scalar(select(Programme).filter(Programme.name.like("Tidlig inddragelse af%")))
        fic = db.session.scalar(select(Provider).filter_by(name="Familien i Centrum"))
        start = TODAY + timedelta(days=30)
        run = factories.make_course_run(
            programme=programme,
            provider=fic,
            days=(start, start + timedelta(days=1), start + timedelta(days=92)),
            title="Tastaturholdet",
            enrolment_deadline=start,
        )
        person = factories.make_user(
            access_level="staff", name="Birk Tastesøgesen", email="birk.tast@demo.test", staff_role_id=role.id
        )
        run_id, person_id = run.id, person.id

    page = new_page(chromium)
    log_in(page, live, COORDINATOR)
    page.goto(live.url(f"/runs/{run_id}/enrolments"))
    field = page.locator("#q")
    while not page.evaluate("document.activeElement && document.activeElement.id === 'q'"):
        page.keyboard.press("Tab")
    page.keyboard.type("tastesøg", delay=30)

    button = page.get_by_role("button", name="Tilmeld Birk Tastesøgesen")
    expect(button).to_be_visible()  # fetched as typed: no page load
    expect(field).to_be_focused()
    expect(page.locator("#enrol-results-status")).to_have_text("1 medarbejder matcher »tastesøg«.")
    assert page.url == live.url(f"/runs/{run_id}/enrolments"), "the list came without a page load"

    page.keyboard.press("Tab")  # the "Søg" button
    page.keyboard.press("Tab")  # the person's "Tilmeld"
    expect(button).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("Birk Tastesøgesen er tilmeldt kursusforløbet.")
    with live.app.app_context():
        assert db.session.scalar(select(Enrolment).filter_by(course_run_id=run_id, user_id=person_id)) is not None
    page.context.close()
