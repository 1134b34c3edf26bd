"""The product's three journeys, end to end in the real browser and by keyboard alone.

Every link, field and button is reached with Tab (`tab_to`) and used with Enter, Space or typing; the only
`page.goto` is the first page (the login). The activations (Enter on a link or button) after the login are
counted where the product promises few: staff enrolled in three, the provider's participant list in two.

1. Staff: login -> "Mine kurser" -> enrolled in three activations; the confirmation, "Mine kurser", the
   run's .ics file (read with vobject) and the calendar invitations that the delivery job sends to the
   real SMTP server (one REQUEST per course day, the follow-up day included).
2. Provider: login -> its own run list (never the other provider's runs) -> the participant list (CSV and
   Excel) with the participants' names.
3. Coordinator: a new run in one form (the live follow-up proposal shows while typing teaching day 2),
   saved, published, a participant enrolled, and attendance ticked on a phone.

The package shares one live server: each journey uses runs of its own (found by title), so the other test
files' data stays as the demo made it, and mails are picked out by recipient and run, never by count.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from zoneinfo import ZoneInfo

import holidays
import openpyxl
import pytest
import vobject
from babel.dates import format_date
from dateutil.relativedelta import relativedelta
from playwright.sync_api import expect
from sqlalchemy import select

from app.core import clock
from app.extensions import db
from app.models import (
    Attendance,
    ClosedDay,
    CourseRun,
    Enrolment,
    EnrolmentStatus,
    Programme,
    Provider,
    RunKind,
    RunStatus,
    StaffRole,
    User,
)
from tests.browser.conftest import COORDINATOR, DEMO_PASSWORD, PROVIDER, STAFF, TODAY, new_page
from tests.browser.harness import tab_to

CPH = ZoneInfo("Europe/Copenhagen")
FIC, VILDE = "Familien i Centrum", "Vilde Læreprocesser"
#: The run the staff journey enrols in (made for it: the demo's open runs are full, special or taken).
STAFF_RUN = "Familierådslagning i praksis, hold M"
#: The run the coordinator creates in the browser.
COORDINATOR_RUN = "Familierådslagning i praksis, hold K"
#: The provider journey only reads: the demo's full run.
PROVIDER_RUN = "Tidlig inddragelse, hold A"


# --------------------------------------------------------------------------------------------------
# Keyboard helpers: Tab to it, then Enter / Space / type
# --------------------------------------------------------------------------------------------------


class Keyboard:
    """One page driven by keyboard alone; counts the activations (Enter on a link or button)."""

    def __init__(self, page):
        self.page = page
        self.activations = 0

    def press(self, locator) -> None:
        """Tab to a link or button and press Enter; waits for the page it leads to."""
        tab_to(self.page, locator)
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")
        self.activations += 1

    def press_link(self, name: str, *, within=None) -> None:
        self.press((within or self.page).get_by_role("link", name=name, exact=True))

    def press_button(self, name: str) -> None:
        self.press(self.page.get_by_role("main").get_by_role("button", name=name, exact=True))

    def download(self, locator):
        """Tab to a download link and press Enter: the Download."""
        tab_to(self.page, locator)
        with self.page.expect_download() as info:
            self.page.keyboard.press("Enter")
        self.activations += 1
        return info.value

    def type_into(self, locator, text: str) -> None:
        tab_to(self.page, locator)
        self.page.keyboard.type(text)

    def tick(self, locator) -> None:
        tab_to(self.page, locator)
        self.page.keyboard.press("Space")
        expect(locator).to_be_checked()

    def choose(self, locator, option_text: str) -> None:
        """A <select> by typing the start of the option, as a keyboard user does (type-ahead)."""
        tab_to(self.page, locator)
        self.page.keyboard.type(option_text)
        assert locator.evaluate("s => s.options[s.selectedIndex].text").startswith(option_text)

    def type_date(self, locator, day) -> None:
        """A date input, typed digit by digit in the segment order the browser shows (its placeholder)."""
        order = date_segment_order(self.page)
        parts = {"d": f"{day.day:02d}", "m": f"{day.month:02d}", "y": f"{day.year:04d}"}
        self.type_into(locator, "".join(parts[segment] for segment in order))
        assert locator.input_value() == day.isoformat()

    def log_in(self, live, email: str) -> None:
        """The login form by keyboard (the one page.goto of a journey)."""
        self.page.goto(live.url("/login"))
        self.type_into(self.page.locator("#email"), email)
        self.type_into(self.page.locator("#password"), DEMO_PASSWORD)
        self.press_button("Log ind")
        assert "/login" not in self.page.url, "the demo login works"
        self.activations = 0  # the journeys count from the page after the login


_DATE_ORDER: list[str] = []


def date_segment_order(page) -> str:
    """ "dmy" or "mdy": the order of the date input's segments. Chromium lays them out by the browser's own
    locale, not the page's (Playwright's locale da-DK gives dd-mm-yyyy only when Chromium runs in Danish),
    so ask once: type 03 04 2001 into a scratch date input and see which date it became."""
    if not _DATE_ORDER:
        page.evaluate("""() => {
            const probe = document.createElement('input');
            probe.type = 'date'; probe.id = 'date-order-probe';
            document.body.prepend(probe); probe.focus();
        }""")
        page.keyboard.type("03042001")
        value = page.evaluate("""() => {
            const probe = document.getElementById('date-order-probe');
            const value = probe.value; probe.remove(); return value;
        }""")
        orders = {"2001-03-04": "mdy", "2001-04-03": "dmy"}
        assert value in orders, f"unexpected date input layout: 03 04 2001 became {value!r}"
        _DATE_ORDER.append(orders[value])
    return _DATE_ORDER[0]


@contextmanager
def browser_page(chromium, **options):
    page = new_page(chromium, **options)
    try:
        yield page
    finally:
        page.context.close()


@contextmanager
def proposal_answers_newest_first(page, day2):
    """Hold the form's follow-up-proposal requests and hand the browser their answers newest first: the
    worst order a network can deliver them in. The page must end up showing the proposal for the date
    finally typed, whatever came back for the dates it passed on the way (Chromium fires `change` for each
    complete date while the year is typed: 0002, 0020, 0202, then the real year)."""
    held = []
    pattern = re.compile(r"/runs/follow-up-proposal\?")

    def hold(route):
        held.append(route)

    page.route(pattern, hold)
    try:
        yield
        final = f"teaching_day_2={day2.isoformat()}"
        for _wait in range(100):
            if any(route.request.url.endswith(final) for route in held):
                break
            page.wait_for_timeout(20)
        else:
            raise AssertionError(f"no follow-up proposal was asked for {day2} (requests: {len(held)})")
        page.wait_for_timeout(100)  # any request still on its way
        answers = [(route, route.fetch()) for route in held]
        for route, response in reversed(answers):
            route.fulfill(response=response)
    finally:
        page.unroute(pattern)


def flash(page, text: str):
    """The flash message (a status/alert region in <main>) saying `text`."""
    return page.get_by_role("main").locator(".alert").filter(has_text=text)


# --------------------------------------------------------------------------------------------------
# Data helpers (through the application's own services, inside its app context)
# --------------------------------------------------------------------------------------------------


def current_programme() -> Programme:
    return db.session.scalar(select(Programme).where(Programme.name.like("Tidlig inddragelse af forældre%")))


def run_by_title(title: str) -> CourseRun | None:
    return db.session.scalar(select(CourseRun).filter_by(title=title))


def published_run(live, title: str, weeks_ahead: int) -> int:
    """A published standard run of FIC, open to every staff role, made by the demo's own run factory."""
    from app.calendar.workdays import next_working_day
    from app.courses.services import _closed_days, create_demo_run
    from app.demo import RunSpec, load_reference_data

    with live.app.app_context():
        existing = run_by_title(title)
        if existing is not None:
            return existing.id
        closed = _closed_days()
        start = TODAY + timedelta(weeks=weeks_ahead)
        day1 = next_working_day(start + timedelta(days=(1 - start.weekday()) % 7), closed)
        day2 = next_working_day(day1 + timedelta(days=1), closed)
        spec = RunSpec(
            title,
            FIC,
            RunKind.STANDARD,
            ("Familierådslagning",),
            20,
            0,
            day1,
            day2,
            "FIC, Kursuslokalet, Valby",
            RunStatus.PUBLISHED,
        )
        coordinator = db.session.scalar(select(User).filter_by(email=COORDINATOR))
        run = create_demo_run(coordinator, current_programme(), spec, load_reference_data())
        db.session.commit()
        return run.id


def deliver_all_mail(live) -> None:
    """Run the delivery job until the outbox has nothing due (it sends at most a batch per run)."""
    from scheduler.jobs import send_due_notifications

    with live.app.app_context():
        for _batch in range(100):
            report = send_due_notifications(clock.now())
            assert not report.failed and not report.retried, f"delivery failed: {report}"
            if not report.sent:
                return
    raise AssertionError("the outbox never emptied")


def local_dates(calendar) -> list:
    """The local start dates of a calendar's VEVENTs, each checked to be one day (never a 3-month block)."""
    dates = []
    for event in calendar.vevent_list:
        start = event.dtstart.value.astimezone(CPH)
        end = event.dtend.value.astimezone(CPH)
        assert start.date() == end.date() and start < end, f"{event.summary.value}: {start} - {end}"
        dates.append(start.date())
    return sorted(dates)


def working_day_on_or_after(day):
    """Independent of the app: the first day from `day` that is no weekend, Danish holiday or demo closed day."""
    danish = holidays.country_holidays("DK", years=range(day.year, day.year + 2))
    closed = set(db.session.scalars(select(ClosedDay.day)))
    while day.weekday() >= 5 or day in danish or day in closed:
        day += timedelta(days=1)
    return day


# --------------------------------------------------------------------------------------------------
# 1. Staff: from login to enrolled, in the calendar and invited
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def staff_run(live):
    return published_run(live, STAFF_RUN, weeks_ahead=14)


def test_staff_member_enrols_in_three_activations_and_gets_the_days_in_the_calendar(
    live, chromium, smtp, staff_run, tmp_path
):
    with live.app.app_context():
        run = db.session.get(CourseRun, staff_run)
        days = [d.day for d in run.days]
        assert run.seats_left > 0 and len(days) == 3

    with browser_page(chromium) as page:
        keys = Keyboard(page)
        keys.log_in(live, STAFF)
        assert page.url == live.url("/me/courses"), "a staff member's home page is Mine kurser"
        expect(page.get_by_role("heading", level=1)).to_have_text("Mine kurser")

        keys.press_link("Kursusforløb", within=page.get_by_role("navigation", name="Hovedmenu"))
        keys.press_link(STAFF_RUN)
        keys.press_button("Tilmeld")
        assert keys.activations == 3, "enrolled in three activations after the login"

        expect(flash(page, f"Du er tilmeldt {STAFF_RUN}.")).to_be_visible()
        panel = page.get_by_role("region", name="Din tilmelding", exact=True)
        expect(panel).to_contain_text("Du er tilmeldt kursusforløbet.")
        expect(panel.locator(".badge")).to_have_text("Tilmeldt")

        keys.press_link("Se alle dine kurser")
        assert page.url == live.url("/me/courses")
        mine = page.get_by_role("region", name=STAFF_RUN, exact=True)
        expect(mine).to_contain_text("Tilmeldt")
        for day in days:
            expect(mine).to_contain_text(format_date(day, "long", locale="da"))

        # Named "Føj til kalender (.ics): <title>" by its sr-only tail (Chromium puts a space before the colon).
        ics_name = re.compile(rf"^Føj til kalender \(\.ics\)\s?: {re.escape(STAFF_RUN)}$")
        ics = keys.download(mine.get_by_role("link", name=ics_name))
        assert ics.suggested_filename.endswith(".ics")
        path = tmp_path / ics.suggested_filename
        ics.save_as(path)

    calendar = vobject.readOne(path.read_text(encoding="utf-8"))
    assert local_dates(calendar) == days, "the .ics holds the run's three course days, one event each"
    assert all(event.dtstart.value.astimezone(CPH).hour == 9 for event in calendar.vevent_list)

    deliver_all_mail(live)
    invitations = [
        mail.message for mail in smtp.received if STAFF in mail.rcpt_tos and STAFF_RUN in str(mail.message["Subject"])
    ]
    invited: list = []
    for message in invitations:
        parts = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
        assert len(parts) == 1, f"{message['Subject']}: one text/calendar part"
        assert parts[0].get_param("method") == "REQUEST"
        invitation = vobject.readOne(parts[0].get_content())
        assert invitation.method.value == "REQUEST"
        invited.extend(local_dates(invitation))
    assert sorted(invited) == days, (
        f"one invitation (REQUEST) per course day, the follow-up day {days[2]} included; got {sorted(invited)}"
    )


# --------------------------------------------------------------------------------------------------
# 2. Provider: from login to the downloaded participant list
# --------------------------------------------------------------------------------------------------


def test_provider_downloads_the_participant_list_in_two_activations(live, chromium, tmp_path):
    with live.app.app_context():
        run = run_by_title(PROVIDER_RUN)
        first_day = run.first_day
        participants = Counter(
            e.user.name
            for e in db.session.scalars(
                select(Enrolment).filter_by(course_run_id=run.id, status=EnrolmentStatus.CONFIRMED)
            )
        )
        visible = select(CourseRun.title).join(Provider).where(CourseRun.status != RunStatus.DRAFT)
        own_titles = set(db.session.scalars(visible.where(Provider.name == FIC)))
        other_titles = set(db.session.scalars(visible.where(Provider.name == VILDE)))
    assert participants and other_titles

    with browser_page(chromium) as page:
        keys = Keyboard(page)
        keys.log_in(live, PROVIDER)
        assert page.url == live.url("/runs"), "a provider's home page is its run list"
        expect(page.get_by_role("main")).to_contain_text(f"Kursusforløb, som {FIC} holder.")
        listed = set(
            page.get_by_role("table", name="Kursusforløb", exact=True)
            .locator("tbody tr td:first-child a")
            .all_inner_texts()
        )
        assert own_titles <= listed, f"missing own runs: {own_titles - listed}"
        assert not listed & other_titles, f"another provider's runs are shown: {listed & other_titles}"

        keys.press_link(PROVIDER_RUN)
        csv_file = keys.download(page.get_by_role("link", name="Deltagerliste (CSV)"))
        assert keys.activations == 2, "the participant list in two activations after the login"

        # Not counted: the same list as Excel.
        xlsx_file = keys.download(page.get_by_role("link", name="Deltagerliste (Excel)"))
        csv_path, xlsx_path = tmp_path / "list.csv", tmp_path / "list.xlsx"
        csv_file.save_as(csv_path)
        xlsx_file.save_as(xlsx_path)

    for download, extension in ((csv_file, "csv"), (xlsx_file, "xlsx")):
        name = download.suggested_filename
        assert re.fullmatch(rf"Tidlig inddragelse hold A {first_day.isoformat()} deltagere\.{extension}", name), name

    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, for Danish Excel"
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert Counter(r["Navn"] for r in rows if r["Status"] == "Tilmeldt") == participants

    # From bytes: a read-only workbook on a path keeps the file open until garbage collection.
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_path.read_bytes()), read_only=True)
    values = list(workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    name_column = values[0].index("Navn")
    assert Counter(row[name_column] for row in values[1:] if row[name_column]) == participants


# --------------------------------------------------------------------------------------------------
# 3. Coordinator: create, publish, fill, and tick attendance on a phone
# --------------------------------------------------------------------------------------------------


def teaching_day_2_with_moved_follow_up():
    """The first weekday after today whose + 3 months is a Saturday: the proposal must move it."""
    day = TODAY + timedelta(days=1)
    while not (day.weekday() < 5 and (day + relativedelta(months=3)).weekday() == 5):
        day += timedelta(days=1)
    return day


def test_coordinator_creates_publishes_fills_and_ticks_attendance_on_a_phone(live, chromium):
    day1, day2 = TODAY, teaching_day_2_with_moved_follow_up()
    anchor = day2 + relativedelta(months=3)
    with live.app.app_context():
        assert run_by_title(COORDINATOR_RUN) is None, "the coordinator journey's run is new"
        follow_up = working_day_on_or_after(anchor)
    problems: list[str] = []

    with browser_page(chromium) as page:
        keys = Keyboard(page)
        keys.log_in(live, COORDINATOR)
        assert page.url == live.url("/runs"), "the coordinator's home page is the run list"
        keys.press_link("Kursusforløb", within=page.get_by_role("navigation", name="Hovedmenu"))
        keys.press_link("Opret kursusforløb")
        assert page.url == live.url("/runs/new")

        keys.choose(page.locator("#programme_id"), "Tidlig inddragelse af forældre")
        keys.choose(page.locator("#provider_id"), FIC)
        keys.type_into(page.locator("#title"), COORDINATOR_RUN)
        keys.tick(page.get_by_role("checkbox", name="Familierådslagning", exact=True))
        keys.tick(page.get_by_role("checkbox", name="Sagsbehandler", exact=True))
        keys.type_into(page.locator("#capacity"), "12")
        keys.type_date(page.locator("#enrolment_deadline"), day1)
        keys.type_into(page.locator("#venue"), "Socialcenter Amager, mødelokale 1")
        keys.type_into(page.locator("#price"), "0")
        keys.type_date(page.locator("#day1_date"), day1)
        with proposal_answers_newest_first(page, day2):
            keys.type_date(page.locator("#day2_date"), day2)
            page.keyboard.press("Tab")  # on to the next field: the date is chosen

        # The live proposal (app.js). Checked at the end, so the rest of the journey is still walked.
        hint = page.locator("#follow_up_date-hint")
        try:
            expect(hint).to_have_text(re.compile(r"^Forslag: "), timeout=3000)
        except AssertionError:
            problems.append(
                f"the follow-up hint after typing teaching day 2 says {hint.inner_text()!r}, "
                "not the proposal (a stale answer for a half-typed year came last)"
            )
        else:
            expect(hint).to_contain_text(format_date(follow_up, "long", locale="da"))
            expect(hint).to_contain_text("som er lørdag")
            expect(hint).to_contain_text("flyttet til næste arbejdsdag")

        # Enter in a field saves: the form's default button is "Gem kursusforløb", not "Beregn forslag".
        tab_to(page, page.locator("#follow_up_venue"))
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(flash(page, f"Kursusforløbet {COORDINATOR_RUN} er oprettet som kladde.")).to_be_visible()
        expect(page.get_by_role("heading", level=1)).to_have_text(COORDINATOR_RUN)
        expect(page.get_by_role("main")).to_contain_text(
            f"Forslag: {format_date(follow_up, 'long', locale='da')} (undervisningsdag 2 + 3 måneder = "
            f"{format_date(anchor, 'long', locale='da')}, som er lørdag"
        )
        run_url = page.url
        with live.app.app_context():
            run = run_by_title(COORDINATOR_RUN)
            run_id, day1_id = run.id, run.days[0].id
            assert run.status == RunStatus.DRAFT
            assert [d.day for d in run.days] == [day1, day2, follow_up]
            assert [r.name for r in run.eligible_roles] == ["Sagsbehandler"]

        confirms: list[str] = []
        page.once("dialog", lambda dialog: (confirms.append(dialog.message), dialog.accept()))
        keys.press_button("Offentliggør")
        assert confirms and confirms[0].startswith(f"Offentliggør {COORDINATOR_RUN}?"), confirms
        expect(flash(page, f"Kursusforløbet {COORDINATOR_RUN} er offentliggjort.")).to_be_visible()

        # A caseworker enrols (the service the staff's own "Tilmeld" uses, here on the coordinator's behalf).
        from app.enrolment import services

        with live.app.app_context():
            coordinator = db.session.scalar(select(User).filter_by(email=COORDINATOR))
            caseworker = db.session.scalar(
                select(User)
                .join(StaffRole, User.staff_role_id == StaffRole.id)
                .where(StaffRole.name == "Sagsbehandler", User.email.like("medarbejder1%@demo.test"))
                .order_by(User.email.desc())
                .limit(1)
            )
            enrolment = services.enrol(coordinator, run_id, caseworker, clock.utcnow(), clock.today())
            db.session.commit()
            assert enrolment.status == EnrolmentStatus.CONFIRMED
            enrolment_id, name, coordinator_id = enrolment.id, caseworker.name, coordinator.id

        page.reload()
        confirmed = page.get_by_role("table", name="Tilmeldte deltagere")
        expect(confirmed.get_by_role("rowheader", name=name, exact=True)).to_be_visible()
        expect(page.get_by_role("region", name="Deltagere", exact=True)).to_contain_text("1 af 12 pladser er besat")
        assert page.url.startswith(run_url)

    with browser_page(chromium, width=390, height=844, mobile=True) as phone:
        keys = Keyboard(phone)
        keys.log_in(live, COORDINATOR)
        keys.press_link(COORDINATOR_RUN)
        keys.press_link("Registrér fremmøde for 1. undervisningsdag")
        assert phone.url == live.url(f"/runs/{run_id}/days/{day1_id}/attendance")
        expect(phone.get_by_role("heading", level=1)).to_have_text("Fremmøde: 1. undervisningsdag")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            "the attendance page does not scroll sideways on a phone"
        )

        keys.tick(phone.get_by_role("checkbox", name=re.compile(rf"^{re.escape(name)}\b")))
        keys.press_button("Gem fremmøde")
        expect(flash(phone, "Fremmødet for 1. undervisningsdag er gemt: 1 af 1 mødt.")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    with live.app.app_context():
        mark = db.session.scalar(select(Attendance).filter_by(enrolment_id=enrolment_id, course_day_id=day1_id))
        assert mark is not None and mark.present is True
        assert mark.recorded_by_id == coordinator_id
    assert not problems, "\n".join(problems)
