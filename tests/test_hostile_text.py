"""User text that tries to break out of every output: pages, mail headers, .ics files, CSV, XLSX and PDF.

A person's name, a run's title and venue and a provider's name hold markup, a header injection (CRLF +
`Bcc:`), `;` and `,` (iCalendar and CSV separators), double quotes and a spreadsheet formula, plus a very
long name and Danish letters. The data is written directly (not through the forms, which may refuse some
of it), so the outputs are tested against the worst that could be stored.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header

import pypdf
import pytest
import vobject
from openpyxl import load_workbook

from app.calendar import feeds
from app.extensions import db
from app.notifications import compose
from app.notifications.compose import InvitationKind, Recipient
from app.notifications.ical import one_line
from app.reporting import exports
from tests import factories
from tests.querycount import assert_rows

HOSTILE = 'Jens <script>alert(1)</script>; DROP\r\nBcc: evil@example.com "quoted" =HYPERLINK("x")'
TITLE = 'Forløb <img src=x onerror=alert(1)>; Ærø, "hold 1"\r\nX-Injected: yes'
VENUE = 'Toftegårds Allé 7; 2500 Valby, "sal 2" <b>\\n</b>\nDROP TABLE'
PROVIDER = 'Familien <i>i</i> Centrum; "FIC" =1+1'
LONG_NAME = "Åse Ærø Østergård-" + "Kristiansdatter" * 12  # 198 characters, fits users.name (200)
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
#: After the tests' frozen clock (tests/clock.py, 2 March 2026): the run is open and on the staff's list.
DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))
STAMP = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)


@pytest.fixture
def scene(app):
    role = factories.make_staff_role("Sagsbehandler")
    unit = factories.make_unit("=cmd|' /C calc'!A0")
    provider = factories.make_provider(name=PROVIDER)
    run = factories.make_course_run(
        provider=provider, days=DAYS, title=TITLE, venue=VENUE, enrolment_deadline=date(2026, 4, 1)
    )
    run.eligible_roles.append(role)
    db.session.commit()
    hostile = factories.make_user(name=HOSTILE, email="jens@test.dk", staff_role=role, unit=unit)
    long = factories.make_user(name=LONG_NAME, email="aase@test.dk", staff_role=role, unit=unit)
    enrolments = [
        factories.make_enrolment(run, hostile, note='@SUM(1+1); "x"\r\n=2'),
        factories.make_enrolment(run, long, note="\tgemt"),
    ]
    return run, hostile, long, enrolments


# --- pages -------------------------------------------------------------------------------------------


#: The hostile texts as the pages must show them, escaped: each page is first checked to show its hostile
#: row at all (a run list emptied by a passed deadline would otherwise pass the escaping check on nothing).
ESCAPED_TITLE = "&lt;img src=x onerror=alert(1)&gt;"
ESCAPED_PROVIDER = "Familien &lt;i&gt;i&lt;/i&gt; Centrum"


def test_pages_show_hostile_text_escaped(client, login_as, coordinator, scene):
    run, hostile, _long, enrolments = scene
    login_as(coordinator)
    for url, shown in (
        (f"/runs/{run.id}", ESCAPED_TITLE),
        ("/runs", ESCAPED_TITLE),
        ("/users", ESCAPED_SCRIPT),
        ("/providers/", ESCAPED_PROVIDER),
        (f"/providers/{run.provider_id}", ESCAPED_PROVIDER),
        (f"/enrolments/{enrolments[0].id}/history", ESCAPED_SCRIPT),
        (f"/runs/{run.id}/enrolments", ESCAPED_TITLE),  # the on-behalf enrolment form
    ):
        page = client.get(url).get_data(as_text=True)
        assert_rows(page, re.escape(shown), 1, where=url)
        assert "<script>alert(1)</script>" not in page, url
        assert "<img src=x" not in page, url
        assert "<i>i</i>" not in page, url
    page = client.get(f"/runs/{run.id}").get_data(as_text=True)
    assert ESCAPED_SCRIPT in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Familien &lt;i&gt;i&lt;/i&gt; Centrum" in page


def test_staff_pages_show_hostile_text_escaped(client, login_as, scene):
    run, hostile, _long, _enrolments = scene
    login_as(hostile)
    for url in ("/me/courses", f"/runs/{run.id}", "/runs"):
        page = client.get(url).get_data(as_text=True)
        assert_rows(page, re.escape(ESCAPED_TITLE), 1, where=url)  # the run is listed: the check has a subject
        assert "<script>alert(1)</script>" not in page, url
        assert "<img src=x" not in page, url
    for url in ("/me/courses", f"/runs/{run.id}"):
        assert "&lt;img src=x onerror=alert(1)&gt;" in client.get(url).get_data(as_text=True), url
    assert ESCAPED_SCRIPT in client.get("/me/courses").get_data(as_text=True)  # the user menu shows the name


# --- mail --------------------------------------------------------------------------------------------

EXPECTED_HEADERS = sorted(
    [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "Auto-Submitted",
        "MIME-Version",
        "Content-Type",
        "Content-Language",
    ]
)


def _parse(msg):
    raw = compose.message_bytes(msg)
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998
        assert b"\r" not in line and b"\n" not in line
    return raw, message_from_bytes(raw, policy=policy.default)


def _check_to(raw: bytes, parsed, name: str) -> None:
    """Exactly one address, the right one, and the display name decodes (RFC 2047) to the name exactly."""
    (address,) = parsed["To"].addresses
    assert address.addr_spec == "jens@test.dk"
    # Python's own parser puts a space between adjacent encoded-words (RFC 2047 6.2 says to ignore it),
    # so the exact name is read back with the RFC-faithful decoder.
    assert " ".join(address.display_name.split()).replace(" ", "") == one_line(name).replace(" ", "")
    value = message_from_bytes(raw, policy=policy.compat32)["To"].replace("\r\n", "")  # unfold (RFC 5322 2.2.3)
    assert str(make_header(decode_header(value))).strip() == f"{one_line(name)} <jens@test.dk>"


#: A surname-first name as HR systems write it: Python's folder made three recipients of it.
COMMA_NAME = "Hansen, Jens Peter Kristian Oestergaard Madsen-Christiansen, Socialraadgiver"


@pytest.mark.parametrize("name", [HOSTILE, LONG_NAME, COMMA_NAME, "Sara Sagsbehandler", "A" * 150])
def test_invitation_mail_headers_cannot_be_injected(scene, name):
    run = scene[0]
    recipient = Recipient(email="jens@test.dk", name=name, language="da")
    msg = compose.invitation_message(
        run.days[0], recipient, InvitationKind.INVITATION, stamp=STAMP, run_url="https://kursus.example.dk/runs/1"
    )
    raw, parsed = _parse(msg)
    assert sorted(parsed.keys()) == EXPECTED_HEADERS
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None
    _check_to(raw, parsed, name)
    assert str(parsed["Subject"]) == one_line(str(parsed["Subject"]))
    assert one_line(TITLE) in str(parsed["Subject"])
    assert b"Bcc:" not in raw.split(b"\r\n\r\n", 1)[0]
    assert b"X-Injected" not in raw.split(b"\r\n\r\n", 1)[0]
    html = parsed.get_body(("html",)).get_content()
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_notice_mail_headers_cannot_be_injected(app):
    recipient = Recipient(email="jens@test.dk", name=HOSTILE)
    msg = compose.notice_message(recipient, f"Venteliste: {TITLE}", "Tekst", stamp=STAMP)
    raw, parsed = _parse(msg)
    assert sorted(parsed.keys()) == sorted([*EXPECTED_HEADERS, "Content-Transfer-Encoding"])  # one text part
    _check_to(raw, parsed, HOSTILE)
    assert str(parsed["Subject"]) == one_line(f"Venteliste: {TITLE}")


# --- calendar ----------------------------------------------------------------------------------------


def _lines_fit(body: bytes) -> None:
    """RFC 5545 3.1: lines of at most 75 octets (without the CRLF), CRLF line ends."""
    assert not body.replace(b"\r\n", b"").count(b"\n")
    for line in body.split(b"\r\n"):
        assert len(line) <= 75, line


#: iCalendar TEXT has no carriage return: a stored CR LF comes back as the newline it stood for.
TITLE_READ = TITLE.replace("\r\n", "\n")


def _events(body: bytes):
    _lines_fit(body)
    calendar = vobject.readOne(body.decode("utf-8"))
    return calendar.vevent_list


@pytest.mark.parametrize("name", [HOSTILE, LONG_NAME])
def test_invitation_ics_round_trips_the_fields(scene, name):
    run = scene[0]
    day = run.days[0]
    msg = compose.invitation_message(
        day,
        Recipient(email="jens@test.dk", name=name),
        InvitationKind.INVITATION,
        stamp=STAMP,
        run_url="https://kursus.example.dk/runs/1",
    )
    (event,) = _events(compose.calendar_of(msg))
    assert event.summary.value == f"{TITLE_READ} – {day.label}"
    assert event.location.value == VENUE
    assert f"Kursusforløb: {TITLE_READ}" in event.description.value
    assert f"Udbyder: {PROVIDER}" in event.description.value
    (attendee,) = event.attendee_list
    assert attendee.value.lower() == "mailto:jens@test.dk"
    assert attendee.params["CN"] == [one_line(name).replace('"', "'")]


def test_run_download_and_feed_round_trip_the_fields(scene):
    run, hostile, _long, _enrolments = scene
    events = _events(feeds.render_run(run, hostile))
    assert {e.summary.value for e in events} == {f"{TITLE_READ} – {d.label}" for d in run.days}
    assert {e.location.value for e in events} == {VENUE}
    feeds.ensure_token(hostile)
    db.session.commit()
    events = _events(feeds.render_feed(hostile).body)
    assert {e.summary.value for e in events} == {f"{TITLE_READ} – {d.label}" for d in run.days}
    assert {e.location.value for e in events} == {VENUE}


def test_run_ics_file_name_is_safe(client, login_as, coordinator, scene):
    run = scene[0]
    login_as(coordinator)
    disposition = client.get(f"/runs/{run.id}.ics").headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert '"' not in disposition.split('filename="', 1)[1].rstrip('"').split('"', 1)[0]


# --- participant lists -------------------------------------------------------------------------------


def test_csv_keeps_separators_and_quotes_and_neutralises_formulas(client, login_as, coordinator, scene):
    run, hostile, long, _enrolments = scene
    login_as(coordinator)
    response = client.get(f"/runs/{run.id}/participants.csv")
    assert response.status_code == 200
    assert "\r\n" not in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    by_email = {row[1]: row for row in rows[1:]}
    header = rows[0]
    jens, aase = by_email["jens@test.dk"], by_email["aase@test.dk"]
    assert all(len(row) == len(header) for row in rows)
    assert jens[0] == HOSTILE  # ';', quotes, CR LF survive inside one quoted cell; starts with "J": as it is
    assert aase[0] == LONG_NAME
    note = header.index("Bemærkning")
    assert jens[note] == "'" + '@SUM(1+1); "x"\r\n=2'
    assert aase[note] == "'\tgemt"
    assert jens[header.index("Enhed")] == "'=cmd|' /C calc'!A0"
    for row in rows:
        for cell in row:
            assert not cell.startswith(exports.FORMULA_TRIGGERS), cell


def test_xlsx_never_holds_a_formula_and_marks_formula_text(client, login_as, coordinator, scene):
    run = scene[0]
    login_as(coordinator)
    response = client.get(f"/runs/{run.id}/participants.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.get_data()))
    seen = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    assert cell.data_type == "s", (cell.coordinate, cell.value)
                    seen.add(cell.value)
                    if cell.value.startswith(exports.FORMULA_TRIGGERS):
                        # Excel's own "leading apostrophe": the cell stays text even after editing it.
                        assert cell.quotePrefix, (sheet.title, cell.coordinate, cell.value)
    # XML reads a stored CR LF back as LF (XML 1.0 2.11): the line break itself survives
    assert {HOSTILE.replace("\r\n", "\n"), LONG_NAME, "=cmd|' /C calc'!A0"} <= seen


def test_pdf_sign_in_sheet_prints_hostile_names(client, login_as, coordinator, scene):
    run = scene[0]
    login_as(coordinator)
    response = client.get(f"/runs/{run.id}/participants.pdf")
    assert response.status_code == 200
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.get_data())).pages)
    flat = "".join(text.split())  # a long name wraps in its box
    assert "Jens<script>alert(1)</script>;DROP" in flat
    assert LONG_NAME[:40].replace(" ", "") in flat  # cut with an ellipsis at the box's edge, not over the next column


def test_certificates_print_hostile_and_long_names_one_page_each(client, login_as, coordinator, scene):
    run, _, _, enrolments = scene
    for enrolment in enrolments:
        for day in run.days:
            factories.make_attendance(enrolment, day)
    login_as(coordinator)
    response = client.get(f"/runs/{run.id}/certificates.pdf")
    assert response.status_code == 200
    pages = ["".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(response.get_data())).pages]
    assert (
        len(pages) == 2
    )  # a 198-character name and a long title wrap; they never push the code onto a page of its own
    hostile = next(p for p in pages if "Jens<script>" in p)
    long = next(p for p in pages if LONG_NAME[:20].replace(" ", "") in p)
    assert "Jens<script>alert(1)</script>;DROPBcc:evil@example.com" in hostile  # the line break printed as a space
    assert LONG_NAME.replace(" ", "") in long  # wrapped in full, never cut
    for page in pages:
        assert "Forløb<imgsrc=xonerror=alert(1)>;Ærø" in page and "Kontrolkode:" in page
