"""Mine kurser on a phone (390 px, issue 21): each run is a card whose key facts — the title, the three dates,
the venue, the status and the cancel button — lie inside the viewport, nothing scrolls sideways, the past
runs are folded away until opened, and cancelling asks first (the run page's question) and lands back here."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from app.core import clock
from app.core.templating import dk_date
from app.extensions import db
from app.models import CourseRun, StaffRole
from tests import factories
from tests.browser.conftest import log_in
from tests.browser.test_accessibility import check_page
from tests.browser.test_journeys import browser_page, flash, published_run

PHONE = 390
SOON = "Mine kurser på telefonen, hold 1"
LATER = "Mine kurser på telefonen, hold 2 med en meget lang titel der skal brydes pænt"
EMAIL = "telefon@demo.test"


def _scene(live) -> tuple[int, int, list[str]]:
    """A person of their own on two upcoming runs (the sooner enrolled last) and one cancelled run."""
    from app.enrolment import services

    soon = published_run(live, SOON, weeks_ahead=10)
    later = published_run(live, LATER, weeks_ahead=14)
    left = published_run(live, "Mine kurser på telefonen, afmeldt", weeks_ahead=12)
    with live.app.app_context():
        role = db.session.scalar(select(StaffRole).filter_by(name="Sagsbehandler"))
        person = factories.make_user(access_level="staff", name="Tine Telefon", email=EMAIL, staff_role_id=role.id)
        for run_id in (later, soon, left):
            services.enrol(person, run_id, person, clock.utcnow(), clock.today())
        enrolment = services.active_enrolment(person.id, left)
        services.cancel(person, enrolment.id, clock.utcnow(), clock.today())
        db.session.commit()
        with live.app.test_request_context(headers={"Accept-Language": "da"}):
            dates = [dk_date(d.day) for d in db.session.get(CourseRun, soon).days]
    return soon, later, dates


def _inside(page, locator) -> None:
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE, (locator, box)


def test_my_courses_on_a_phone(live, chromium):
    soon, later, dates = _scene(live)
    with browser_page(chromium, width=PHONE, height=844, mobile=True) as phone:
        log_in(phone, live, EMAIL, factories.PASSWORD)
        phone.goto(live.url("/me/courses"))
        expect(phone.get_by_role("heading", level=1)).to_have_text("Mine kurser")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            "Mine kurser scrolls sideways on a phone"
        )

        cards = phone.locator("section.my-course")
        expect(cards.first.get_by_role("heading", level=3)).to_have_text(SOON)  # the soonest first
        card = cards.filter(has=phone.get_by_role("heading", name=SOON))
        _inside(phone, card.get_by_role("heading", name=SOON))
        for day in dates:
            _inside(phone, card.get_by_text(day, exact=False))
        _inside(phone, card.get_by_text("FIC, Kursuslokalet, Valby").first)
        _inside(phone, card.locator(".badge").first)
        expect(card.locator(".badge").first).to_have_text("Tilmeldt")
        _inside(phone, card.get_by_role("button", name="Afmeld mig"))
        _inside(phone, cards.filter(has=phone.get_by_role("heading", name=LATER)).get_by_role("heading", name=LATER))

        # The cancelled run is folded away below, and opens without JavaScript's help (a <details>).
        past = phone.locator("details.my-courses-past")
        expect(past.locator("summary")).to_have_text("Tidligere kurser (1)")
        expect(past.get_by_role("heading", name="Mine kurser på telefonen, afmeldt")).to_be_hidden()
        past.locator("summary").click()
        expect(past.get_by_role("heading", name="Mine kurser på telefonen, afmeldt")).to_be_visible()

        # Cancel: the run page's question first, then back here with the run among the past ones.
        questions: list[str] = []
        phone.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
        with phone.expect_navigation():
            card.get_by_role("button", name="Afmeld mig").click()
        expect(flash(phone, f"Du er afmeldt {SOON}.")).to_be_visible()
        assert questions == [f"Vil du afmelde dig {SOON}?"]
        expect(phone.locator("details.my-courses-past summary")).to_have_text("Tidligere kurser (2)")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # axe and the page checks of test_accessibility with the past runs open, in both languages.
    problems: list[str] = []
    for language, summary in (("da", "Tidligere kurser (2)"), ("en", "Past courses (2)")):
        with browser_page(chromium, language=language) as page:
            log_in(page, live, EMAIL, factories.PASSWORD)
            page.goto(live.url("/me/courses"))
            page.locator("details.my-courses-past summary").click()
            expect(page.locator("details.my-courses-past summary")).to_have_text(summary)
            expect(page.locator("details.my-courses-past section.my-course").first).to_be_visible()
            check_page(page, problems, language=language)
    assert not problems, "\n".join(problems)
