"""WCAG 2.0/2.1 A and AA on every main page of every access level, in Danish and English, in a real browser.

axe-core (node_modules/axe-core, injected by Playwright) checks each page, and the same pass checks what axe
can't: the `lang` attribute follows the language chosen, the page has a title, one h1 and a main landmark,
and nothing scrolls sideways at 320 CSS px (WCAG 1.4.10 reflow). Key states are checked too: a form with
errors, the waiting-list message, the error pages.

Exceptions: none. Every rule of the wcag2a/wcag2aa/wcag21a/wcag21aa tags runs, and an exception would have to
be listed here with its reason. What axe cannot judge was checked by hand: docs/accessibility.md.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import CourseRun, Programme, Provider, StaffRole, Unit
from tests import factories
from tests.browser.conftest import COORDINATOR, LEADER, PROVIDER, STAFF, log_in, new_page
from tests.browser.harness import describe_violations, focus_is_visible, run_axe, tab_to

LANGUAGES = ("da", "en")
#: The sign-off that ends every page title (the product name is not translated).
TITLE_SUFFIX = " – Kursusportalen"
NARROW = 320


def _ids(live) -> dict:
    """Ids of the demo objects the pages need, looked up by their demo names."""
    with live.app.app_context():
        runs = {r.title: r for r in db.session.scalars(select(CourseRun))}
        hold_a, special = runs["Tidlig inddragelse, hold A"], runs["Netværksmøder i praksis 2.0"]
        programme = db.session.scalar(select(Programme).filter(Programme.name.like("Tidlig inddragelse af%")))
        fic = db.session.scalar(select(Provider).filter_by(name="Familien i Centrum"))
        centre = db.session.scalar(select(Unit).filter_by(name="Socialcenter Amager"))
        return {
            "centre": centre.id,
            "hold_a": hold_a.id,
            "hold_a_day": hold_a.days[0].id,
            "special": special.id,
            "programme": programme.id,
            "fic": fic.id,
        }


def _pages(level: str, ids: dict) -> list[str]:
    run, day, programme = ids["hold_a"], ids["hold_a_day"], ids["programme"]
    if level == "anonymous":
        return ["/login", "/accessibility-statement", "/verify", "/api/v1/docs"]
    if level == "staff":
        return ["/me/courses", "/runs", f"/runs/{run}", f"/runs/{ids['special']}", "/accessibility-statement"]
    if level == "provider":
        return ["/runs", "/runs?q=hold", f"/runs/{run}"]
    if level == "leader":
        return ["/me/courses", "/competence/", f"/competence/units/{ids['centre']}", "/approvals"]
    return [
        "/runs",
        "/runs?status=published&sort=-first_day",
        f"/runs/{run}",
        "/runs/new",
        f"/runs/{run}/edit",
        f"/runs/{run}/enrolments",
        f"/runs/{run}/enrolments?q=an",
        f"/runs/{run}/days/{day}/attendance",
        f"/runs/{run}/participants/downloads",
        f"/runs/{run}/feedback",
        "/programmes/",
        f"/programmes/{programme}",
        f"/programmes/{programme}/dashboard",
        f"/programmes/{programme}/feedback",
        "/programmes/new",
        "/providers/",
        f"/providers/{ids['fic']}",
        "/users",
        "/users?q=jensen",
        "/users/new",
        "/users/import",
        "/units",
        f"/units/{ids['centre']}/edit?q=an",
        "/competence/",
        f"/competence/units/{ids['centre']}",
        f"/competence/units/{ids['centre']}?rolle=x&enhed=",
        "/staff-roles",
        "/methods",
        "/closed-days",
        "/outbox",
        "/settings",
        "/integrations",
        "/integrations/new",
        "/integrations/scim-mappings",
    ]


LOGINS = {"staff": STAFF, "provider": PROVIDER, "coordinator": COORDINATOR, "leader": LEADER}


def check_page(page, problems: list[str], *, language: str) -> None:
    """Everything one page must satisfy; each problem found is added to `problems` with the page's address."""
    where = page.url
    violations = run_axe(page)
    if violations:
        problems.append(f"{where}: axe\n{describe_violations(violations)}")
    facts = page.evaluate(
        """() => ({
            lang: document.documentElement.lang,
            title: document.title,
            h1: document.querySelectorAll('h1').length,
            main: document.querySelectorAll('main').length,
            skip: (document.querySelector('a.skipnav') || {}).hash,
            headings: [...document.querySelectorAll('main h1, main h2, main h3, main h4, main h5, main h6')]
                .filter(h => h.getClientRects().length).map(h => Number(h.tagName[1])),
        })"""
    )
    skipped = [(a, b) for a, b in zip(facts["headings"], facts["headings"][1:], strict=False) if b > a + 1]
    if skipped or facts["headings"][:1] != [1]:
        problems.append(f"{where}: heading levels {facts['headings']} skip a level or don't start with h1")
    if facts["lang"] != language:
        problems.append(f"{where}: <html lang={facts['lang']!r}>, expected {language!r}")
    if not facts["title"].endswith(TITLE_SUFFIX) or len(facts["title"]) <= len(TITLE_SUFFIX):
        problems.append(f"{where}: title {facts['title']!r} does not name the page")
    if facts["h1"] != 1 or facts["main"] != 1:
        problems.append(f"{where}: {facts['h1']} h1 and {facts['main']} main elements, expected one of each")
    if facts["skip"] != "#main-content":
        problems.append(f"{where}: no skip link to the main content")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": NARROW, "height": 800})
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > NARROW:
        problems.append(f"{where}: scrolls sideways at {NARROW} px (content is {scroll_width} px wide)")
    page.set_viewport_size({"width": width, "height": 900})


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("level", ["anonymous", "staff", "provider", "coordinator", "leader"])
def test_every_main_page_passes_wcag_aa(live, chromium, level, language):
    page = new_page(chromium, language=language)
    if level != "anonymous":
        log_in(page, live, LOGINS[level])
    problems: list[str] = []
    pages = _pages(level, _ids(live))
    for path in pages:
        response = page.goto(live.url(path))
        assert response.status == 200, f"{path} answered {response.status} for {level}"
        check_page(page, problems, language=language)
    page.context.close()
    assert not problems, f"{len(problems)} problem(s) on {len(pages)} pages:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_forms_with_errors_pass_wcag_aa(live, chromium, language):
    """The error summary and the messages at each field: the run form, a user form and a failed login."""
    page = new_page(chromium, language=language)
    problems: list[str] = []

    page.goto(live.url("/login"))
    page.locator("#email").fill("nobody@demo.test")
    page.locator("#password").fill("wrong")
    with page.expect_navigation():  # the form posts: read the answer, not the page it was sent from
        page.locator("main form button[type=submit]").click()
    assert page.locator(".alert-error, .form-error").count() > 0, "a failed login shows an error"
    check_page(page, problems, language=language)

    log_in(page, live, COORDINATOR)
    for path in ("/runs/new", "/users/new", "/programmes/new", "/integrations/new"):
        page.goto(live.url(path))
        page.locator("main form[method=post] button[type=submit]").last.click()
        summary = page.locator("#error-summary")
        expect(summary).to_be_visible()  # waits for the posted form's answer (an empty form shows the summary)
        # app.js (deferred) moves the focus to the summary once the page has loaded.
        # (not page.wait_for_function: its string predicate is eval'd in the page, which the CSP forbids)
        expect(summary).to_be_focused()
        first_link = summary.locator("a").first
        target = first_link.get_attribute("href")
        assert page.locator(target).count() == 1, f"{path}: the summary links to its field ({target})"
        assert page.locator(".form-error-message").count() > 0, f"{path}: each field shows its own message"
        check_page(page, problems, language=language)
    page.context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_run_form_warnings_pass_wcag_aa(live, chromium, language):
    """The run form's warning summary and its "Gem alligevel" box: a price over the budget and a Saturday."""
    run_id = _ids(live)["hold_a"]
    page = new_page(chromium, language=language)
    log_in(page, live, COORDINATOR)
    page.goto(live.url(f"/runs/{run_id}/edit"))
    page.locator("#price").fill("99999999")
    day1 = date.fromisoformat(page.locator("#day1_date").input_value())
    saturday = day1 - timedelta(days=(day1.weekday() + 2) % 7)  # the Saturday on or before teaching day 1
    page.locator("#day1_date").fill(saturday.isoformat())
    deadline = page.locator("#enrolment_deadline")
    deadline.fill(min(date.fromisoformat(deadline.input_value()), saturday).isoformat())
    with page.expect_navigation():
        page.locator("main form[method=post] button[type=submit]").last.click()
    summary = page.locator("#warning-summary")
    expect(summary).to_be_focused()
    assert summary.locator("li").count() == 2, "the budget and the Saturday"
    expect(page.locator("#confirm_anyway")).to_be_attached()
    problems: list[str] = []
    check_page(page, problems, language=language)
    page.context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_waiting_list_message_passes_wcag_aa(live, chromium, language):
    """A staff member joins the full run's waiting list: the page says which number they are."""
    with live.app.app_context():
        role = db.session.scalar(select(StaffRole).filter_by(name="Sagsbehandler"))
        person = factories.make_user(
            access_level="staff",
            name=f"Vera Venteliste {language}",
            email=f"venteliste-{language}@demo.test",
            staff_role_id=role.id,
        )
        email = person.email
    run_id = _ids(live)["hold_a"]
    page = new_page(chromium, language=language)
    log_in(page, live, email, factories.PASSWORD)
    page.goto(live.url(f"/runs/{run_id}"))
    join = {"da": "Skriv mig på ventelisten", "en": "Join the waiting list"}[language]
    page.get_by_role("button", name=join).click()
    status = page.locator("main").get_by_text({"da": "på ventelisten", "en": "waiting list"}[language]).first
    expect(status).to_be_visible()  # waits for the enrolment's redirect (is_visible() would read the old page)
    problems: list[str] = []
    check_page(page, problems, language=language)
    page.context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path,status", [("/runs/999999", 404), ("/settings", 403)])
def test_error_pages_pass_wcag_aa(live, chromium, path, status):
    page = new_page(chromium)
    log_in(page, live, STAFF)
    response = page.goto(live.url(path))
    assert response.status == status
    problems: list[str] = []
    check_page(page, problems, language="da")
    page.context.close()
    assert not problems, "\n".join(problems)


def test_skip_link_is_the_first_stop_and_moves_focus_to_the_content(live, page):
    page.goto(live.url("/login"))
    page.keyboard.press("Tab")
    skip = page.locator("a.skipnav")
    assert page.evaluate("document.activeElement.classList.contains('skipnav')")
    expect(skip).to_be_visible()  # the skip link appears when it has the focus
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main-content$"))  # waits: the jump is handled after the key press
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main-content').contains(document.activeElement)"), (
        "the next Tab lands inside the main content"
    )


def test_focus_is_visible_on_links_fields_and_buttons(live, page):
    log_in(page, live, COORDINATOR)
    page.goto(live.url("/runs/new"))
    for locator in (
        page.locator("nav.nav a.nav-link").first,
        page.locator("#title"),
        page.locator("#capacity"),
        page.locator("main button[type=submit]").last,
    ):
        tab_to(page, locator)
        assert focus_is_visible(page), f"{locator} shows no focus indicator"


def test_language_choice_sticks_and_accept_language_decides_the_first_visit(live, chromium):
    page = new_page(chromium, language="en")
    page.goto(live.url("/login"))
    assert page.evaluate("document.documentElement.lang") == "en", "Accept-Language: en gives English"
    with page.expect_navigation():  # the language form posts and redirects back: read the new page, not the old
        page.get_by_role("button", name="Dansk").click()
    assert page.evaluate("document.documentElement.lang") == "da"
    page.goto(live.url("/accessibility-statement"))
    assert page.evaluate("document.documentElement.lang") == "da", "the choice sticks over Accept-Language"
    assert page.locator("h1").inner_text() == "Tilgængelighedserklæring"
    page.context.close()


def test_the_axe_check_can_fail(live, page):
    """The check above is not vacuous: an image without a text alternative on a real page is reported."""
    page.goto(live.url("/login"))
    assert run_axe(page) == []
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/static/x.png\">')")
    assert [v["id"] for v in run_axe(page)] == ["image-alt"]
