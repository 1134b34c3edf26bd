"""The personal calendar feed (GET /calendar/<token>.ics), the per-run .ics download (GET /runs/<id>.ics) and
creating/replacing the feed address (POST /me/calendar-token). Feeds are read back with icalendar AND an
independent parser (vobject)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time

import icalendar
import pytest
import vobject

from app.calendar import feeds
from app.courses import services as course_services
from app.courses.models import RunStatus
from app.enrolment import services as enrolment_services
from app.enrolment.models import EnrolmentStatus
from app.extensions import db
from app.notifications.ical import event_uid, informational_uid
from tests import factories
from tests.conftest import post_action
from tests.querycount import recorded_statements

TODAY = date(2026, 3, 1)
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
#: Teaching days either side of the spring change (29 March 2026), the follow-up day after the autumn one
#: (25 October 2026).
DST_DAYS = (date(2026, 3, 27), date(2026, 3, 30), date(2026, 10, 26))
BASE_URL = "https://kursus.example.dk"


@pytest.fixture(autouse=True)
def fixed_clock(app, monkeypatch):
    monkeypatch.setattr("app.core.clock.today", lambda: TODAY)
    monkeypatch.setattr("app.core.clock.utcnow", lambda: NOW)
    app.config["BASE_URL"] = BASE_URL


@pytest.fixture
def role(app):
    return factories.make_staff_role("Sagsbehandler")


@pytest.fixture
def me(role):
    return factories.make_user(access_level="staff", staff_role=role, name="Sofie Sagsbehandler", email="sofie@test.dk")


@pytest.fixture
def provider(app):
    return factories.make_provider(name="Vilde Læreprocesser")


def make_run(role, provider=None, days=DST_DAYS, **kw):
    kw.setdefault("enrolment_deadline", TODAY)
    return factories.make_course_run(provider=provider, days=days, eligible_roles=[role], **kw)


@pytest.fixture
def run(role, provider):
    return make_run(role, provider, title="Tidlig inddragelse, hold Å", venue="Kursuscenter Valby")


def enrol(run, user):
    enrolment = enrolment_services.enrol(user, run.id, user, NOW, TODAY)
    db.session.commit()
    return enrolment


def cancel(enrolment, actor):
    enrolment_services.cancel(actor, enrolment.id, NOW, TODAY)
    db.session.commit()


def with_token(user) -> str:
    token = feeds.ensure_token(user)
    db.session.commit()
    return token


def parse(data: bytes):
    """(icalendar calendar, its VEVENTs by UID, vobject calendar, its VEVENTs by UID); UIDs unique."""
    cal = icalendar.Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    by_uid = {str(e["UID"]): e for e in events}
    assert len(by_uid) == len(events), "a UID appears twice"
    vcals = list(vobject.readComponents(data.decode("utf-8")))
    assert len(vcals) == 1
    vevents = vcals[0].contents.get("vevent", [])
    vby_uid = {v.uid.value: v for v in vevents}
    assert len(vby_uid) == len(vevents) == len(events)
    return cal, by_uid, vcals[0], vby_uid


def get_feed(client, token, **kw):
    return client.get(f"/calendar/{token}.ics", **kw)


def html(response) -> str:
    return response.get_data(as_text=True)


# --- the feed's content -----------------------------------------------------------------------------------


def test_feed_has_one_event_per_course_day_with_the_invitation_uids(client, run, me, role, provider):
    other = make_run(role, provider, days=(date(2026, 5, 5), date(2026, 5, 6), date(2026, 8, 5)), title="Hold B")
    enrol(run, me)
    enrol(other, me)
    token = with_token(me)

    response = get_feed(client, token)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "private"
    assert response.headers["ETag"].startswith('"')
    assert response.last_modified is not None
    data = response.get_data()
    cal, events, vcal, vevents = parse(data)

    assert "METHOD" not in cal and "method" not in vcal.contents
    assert b"METHOD" not in data and b"ATTENDEE" not in data and b"ORGANIZER" not in data
    assert vcal.contents["x-wr-calname"][0].value == "Kursusportalen: mine kursusdage"
    assert vcal.contents["x-published-ttl"][0].value == "PT1H"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in data
    expected = {event_uid(day) for r in (run, other) for day in r.days}
    assert set(events) == set(vevents) == expected
    assert data.count(b"BEGIN:VEVENT") == 6
    assert all(str(e["STATUS"]) == "CONFIRMED" for e in events.values())
    v = vevents[event_uid(run.days[0])]
    assert v.summary.value == "Tidlig inddragelse, hold Å – 1. undervisningsdag"
    assert v.location.value == "Kursuscenter Valby"
    assert f"{BASE_URL}/runs/{run.id}" in v.description.value


def test_times_are_right_in_utc_across_both_dst_changes(client, run, me, role, provider):
    autumn = make_run(role, provider, days=(date(2026, 10, 22), date(2026, 10, 23), date(2027, 1, 25)))
    enrol(run, me)
    enrol(autumn, me)
    _, events, _, vevents = parse(get_feed(client, with_token(me)).get_data())

    def times(day):
        event, vevent = events[event_uid(day)], vevents[event_uid(day)]
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert (start, end) == (vevent.dtstart.value, vevent.dtend.value)
        assert start.utcoffset().total_seconds() == 0
        return start, end

    # 09.00-15.30 Copenhagen: UTC+1 before 29 March and after 25 October, UTC+2 between.
    assert times(run.days[0]) == (datetime(2026, 3, 27, 8, 0, tzinfo=UTC), datetime(2026, 3, 27, 14, 30, tzinfo=UTC))
    assert times(run.days[1]) == (datetime(2026, 3, 30, 7, 0, tzinfo=UTC), datetime(2026, 3, 30, 13, 30, tzinfo=UTC))
    assert times(autumn.days[1]) == (
        datetime(2026, 10, 23, 7, 0, tzinfo=UTC),
        datetime(2026, 10, 23, 13, 30, tzinfo=UTC),
    )
    assert times(run.days[2]) == (datetime(2026, 10, 26, 8, 0, tzinfo=UTC), datetime(2026, 10, 26, 14, 30, tzinfo=UTC))


def test_waiting_list_and_requested_enrolments_are_not_in_the_feed(client, run, me, role, provider):
    full = make_run(
        role, provider, capacity=1, title="Fuldt hold", days=(date(2026, 5, 5), date(2026, 5, 6), date(2026, 8, 5))
    )
    (seated,) = factories.make_eligible_staff(full, 1)
    enrol(full, seated)
    approval = make_run(
        role,
        provider,
        requires_approval=True,
        title="Kræver godkendelse",
        days=(date(2026, 6, 2), date(2026, 6, 3), date(2026, 9, 2)),
    )
    assert enrol(full, me).status == EnrolmentStatus.WAITLISTED
    assert enrol(approval, me).status == EnrolmentStatus.REQUESTED
    enrol(run, me)

    _, events, _, _ = parse(get_feed(client, with_token(me)).get_data())
    assert set(events) == {event_uid(day) for day in run.days}


def test_days_lost_after_having_a_seat_are_cancelled(client, run, me, role, provider, coordinator):
    cancelled_run = make_run(
        role, provider, title="Aflyst hold", days=(date(2026, 5, 5), date(2026, 5, 6), date(2026, 8, 5))
    )
    moved_from = make_run(
        role, provider, title="Flyttet fra", days=(date(2026, 6, 2), date(2026, 6, 3), date(2026, 9, 2))
    )
    moved_to = make_run(
        role,
        provider,
        title="Flyttet til",
        programme=moved_from.programme,
        days=(date(2026, 6, 9), date(2026, 6, 10), date(2026, 9, 9)),
    )
    left_queue = make_run(
        role,
        provider,
        title="Venteliste forladt",
        capacity=1,
        days=(date(2026, 7, 7), date(2026, 7, 8), date(2026, 10, 7)),
    )
    (seated,) = factories.make_eligible_staff(left_queue, 1)
    enrol(left_queue, seated)

    cancel(enrol(run, me), me)  # confirmed, then cancelled by me
    enrol(cancelled_run, me)
    course_services.cancel_course_run(coordinator, cancelled_run)  # the whole run is cancelled
    db.session.commit()
    moved = enrol(moved_from, me)
    enrolment_services.move(coordinator, moved.id, moved_to.id, NOW, TODAY)
    db.session.commit()
    waiting = enrol(left_queue, me)
    assert waiting.status == EnrolmentStatus.WAITLISTED
    cancel(waiting, me)  # never had a seat: not in the calendar at all

    _, events, _, vevents = parse(get_feed(client, with_token(me)).get_data())

    def status(day):
        assert str(events[event_uid(day)]["STATUS"]) == vevents[event_uid(day)].status.value
        return vevents[event_uid(day)].status.value

    assert [status(d) for d in run.days] == ["CANCELLED"] * 3
    assert [status(d) for d in cancelled_run.days] == ["CANCELLED"] * 3
    assert [status(d) for d in moved_from.days] == ["CANCELLED"] * 3
    assert [status(d) for d in moved_to.days] == ["CONFIRMED"] * 3
    assert not any(event_uid(d) in events for d in left_queue.days)
    assert len(events) == 12
    summary = vevents[event_uid(run.days[0])].summary.value
    assert summary == "Aflyst: Tidlig inddragelse, hold Å – 1. undervisningsdag"
    # The cancelled run's days carry the raised SEQUENCE, so they win over what the client held.
    assert vevents[event_uid(cancelled_run.days[0])].sequence.value == "1"


def test_a_follow_up_day_withdrawn_after_an_absence_is_cancelled_in_the_feed_too(client, run, me, coordinator):
    """The feed agrees with the mails: after the follow-up job, an absence on a teaching day withdraws the
    follow-up day (app.enrolment.invitations), and the feed then shows it cancelled."""
    enrolment = enrol(run, me)
    run.follow_up_confirmed_at = NOW
    db.session.commit()
    day_1 = run.days[0]
    enrolment_services.record_attendance(coordinator, day_1.id, [], datetime(2026, 3, 27, 15, tzinfo=UTC), day_1.day)
    db.session.commit()
    assert enrolment.status == EnrolmentStatus.CONFIRMED
    _, _events, _, vevents = parse(get_feed(client, with_token(me)).get_data())
    assert [vevents[event_uid(d)].status.value for d in run.days] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]


def test_re_enrolling_after_cancelling_gives_each_day_once_confirmed(client, run, me):
    cancel(enrol(run, me), me)
    enrol(run, me)
    _, events, _, _ = parse(get_feed(client, with_token(me)).get_data())
    assert set(events) == {event_uid(d) for d in run.days}
    assert {str(e["STATUS"]) for e in events.values()} == {"CONFIRMED"}


def test_a_completed_run_stays_in_the_feed(client, run, me):
    enrol(run, me)
    run.status = RunStatus.COMPLETED
    db.session.commit()
    _, events, _, _ = parse(get_feed(client, with_token(me)).get_data())
    assert {str(e["STATUS"]) for e in events.values()} == {"CONFIRMED"}
    assert len(events) == 3


def test_the_feed_follows_the_users_language(client, run, me):
    me.locale = "en"
    enrol(run, me)
    _, _, _, vevents = parse(get_feed(client, with_token(me)).get_data())
    assert vevents[event_uid(run.days[2])].summary.value.endswith("– Follow-up day")
    assert "Monday 26 October 2026" in vevents[event_uid(run.days[2])].description.value


def test_an_empty_feed_is_still_a_calendar(client, me):
    cal, events, vcal, _ = parse(get_feed(client, with_token(me)).get_data())
    assert events == {}
    # RFC 5545 §3.6: at least one component; a VTIMEZONE alone is a valid special form. And a name.
    (zone,) = cal.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Copenhagen"
    assert [c.name for c in cal.subcomponents] == ["VTIMEZONE"]
    assert str(cal["X-WR-CALNAME"]) == "Kursusportalen: mine kursusdage"
    assert vcal.contents["x-wr-calname"][0].value == "Kursusportalen: mine kursusdage"


# --- the address --------------------------------------------------------------------------------------------


def test_unknown_malformed_and_replaced_tokens_are_404(client, run, me):
    enrol(run, me)
    old = with_token(me)
    assert get_feed(client, old).status_code == 200
    assert get_feed(client, "x" * 43).status_code == 404
    assert get_feed(client, "ikke-et-token").status_code == 404
    assert get_feed(client, "a'b").status_code == 404

    new = feeds.regenerate_token(me)
    db.session.commit()
    assert new != old and len(new) >= 43
    assert get_feed(client, old).status_code == 404
    assert get_feed(client, new).status_code == 200


def test_a_deactivated_users_feed_is_404(client, run, me):
    enrol(run, me)
    token = with_token(me)
    me.active = False
    db.session.commit()
    assert get_feed(client, token).status_code == 404


def test_if_none_match_answers_304_until_the_content_changes(client, run, me, coordinator):
    enrol(run, me)
    token = with_token(me)
    first = get_feed(client, token)
    etag = first.headers["ETag"]
    assert get_feed(client, token).headers["ETag"] == etag  # the same data gives the same bytes

    unchanged = get_feed(client, token, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.get_data() == b""
    assert unchanged.headers["ETag"] == etag and unchanged.headers["Cache-Control"] == "private"
    assert get_feed(client, token, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert get_feed(client, token, headers={"If-None-Match": '"something-else"'}).status_code == 200

    # A moved course day (only the day's row changes) gives new bytes and a new ETag.
    run.days[1].starts_at = time(10)
    run.days[1].sequence += 1
    db.session.commit()
    changed = get_feed(client, token, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    vevent = parse(changed.get_data())[3][event_uid(run.days[1])]
    assert vevent.dtstart.value == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert vevent.sequence.value == "1"


def test_the_feed_costs_the_same_number_of_queries_for_1_or_8_runs(client, run, me, role, provider):
    def count() -> int:
        db.session.commit()
        db.session.expire_all()  # nothing loaded yet, as in a fresh request
        with recorded_statements() as statements:
            assert get_feed(client, token).status_code == 200
        return len(statements)

    enrol(run, me)
    token = with_token(me)
    few = count()
    for n in range(7):
        other = make_run(
            role,
            factories.make_provider(),
            title=f"Forløb {n}",
            days=(date(2026, 5, 4 + n), date(2026, 5, 12 + n), date(2026, 8, 4 + n)),
        )
        enrolment = enrol(other, me)
        if n % 2:
            cancel(enrolment, me)
    many = count()
    assert many == few
    assert few <= 4  # the user by token, the enrolments with their runs and providers, the days, withdrawn days


def test_the_token_is_never_logged(client, login_as, run, me, caplog):
    enrol(run, me)
    login_as(me)
    with caplog.at_level(logging.DEBUG):
        post_action(client, "/me/calendar-token", from_url="/me/courses")
        db.session.refresh(me)
        token = me.calendar_token
        assert get_feed(client, token).status_code == 200
        assert get_feed(client, token + "x").status_code == 404
        post_action(client, "/me/calendar-token", from_url="/me/courses")
    db.session.refresh(me)
    assert token not in caplog.text and me.calendar_token not in caplog.text
    assert f"user {me.id}" in caplog.text


# --- creating and replacing the address -------------------------------------------------------------------


def test_my_courses_offers_to_create_the_address_and_get_creates_nothing(client, login_as, run, me):
    enrol(run, me)
    login_as(me)
    page = html(client.get("/me/courses"))
    db.session.refresh(me)
    assert me.calendar_token is None
    assert '<h2 id="kalender">Kalender</h2>' in page
    assert "Opret kalenderadresse" in page and "Lav ny adresse" not in page
    assert "webcal://" not in page and 'id="kalenderadresse"' not in page
    assert "kalenderinvitation pr. mail" in page
    assert "to gange i din kalender" in page  # subscribing AND accepting the invitations: duplicates
    assert "Står du på venteliste eller afventer du godkendelse" in page
    assert client.get("/me/calendar-token").status_code == 405


def test_posting_creates_then_replaces_the_address(client, login_as, run, me):
    enrol(run, me)
    login_as(me)
    response = post_action(client, "/me/calendar-token", from_url="/me/courses")
    assert response.status_code == 302
    assert response.location == "/me/courses#kalender"
    db.session.refresh(me)
    first = me.calendar_token
    assert first

    page = html(client.get("/me/courses"))
    assert "Din kalenderadresse er oprettet." in page
    url = f"{BASE_URL}/calendar/{first}.ics"
    assert '<label class="form-label" for="kalenderadresse">' in page
    assert f'id="kalenderadresse" value="{url}" readonly' in page
    assert f'href="webcal://kursus.example.dk/calendar/{first}.ics"' in page
    assert "Lav ny adresse" in page and "Opret kalenderadresse" not in page
    assert "Den gamle adresse holder så op med at virke" in page

    post_action(client, "/me/calendar-token", from_url="/me/courses")
    assert "Den gamle adresse virker ikke længere" in html(client.get("/me/courses"))
    db.session.refresh(me)
    assert me.calendar_token != first
    assert get_feed(client, first).status_code == 404
    assert get_feed(client, me.calendar_token).status_code == 200


def test_posting_without_the_csrf_token_is_refused(client, login_as, me):
    login_as(me)
    assert client.post("/me/calendar-token").status_code == 400
    assert client.post("/me/calendar-token", data={"csrf_token": "forged"}).status_code == 400
    db.session.refresh(me)
    assert me.calendar_token is None


def test_anonymous_cannot_post_and_other_levels_may(client, login_as, coordinator):
    response = client.post("/me/calendar-token")
    assert response.status_code in (302, 400)
    assert coordinator.calendar_token is None
    login_as(coordinator)
    response = post_action(client, "/me/calendar-token", from_url="/runs")
    assert response.status_code == 302 and response.location == "/"
    db.session.refresh(coordinator)
    assert coordinator.calendar_token


def test_the_address_is_https_except_on_a_developers_machine(app, client, login_as, me):
    with_token(me)
    login_as(me)
    app.config["BASE_URL"] = "http://kursus.kommune.dk/portal/"
    assert f'value="https://kursus.kommune.dk/portal/calendar/{me.calendar_token}.ics"' in html(
        client.get("/me/courses")
    )
    app.config["BASE_URL"] = "http://127.0.0.1:5000"
    assert f'value="http://127.0.0.1:5000/calendar/{me.calendar_token}.ics"' in html(client.get("/me/courses"))


# --- one run as .ics ----------------------------------------------------------------------------------------


def test_run_download_for_someone_who_may_see_the_run(client, login_as, run, me):
    login_as(me)
    response = client.get(f"/runs/{run.id}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "private"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="Tidlig inddragelse hold Aa.ics"; '
        "filename*=UTF-8''Tidlig%20inddragelse%20hold%20%C3%85.ics"
    )
    cal, events, vcal, vevents = parse(response.get_data())
    assert "METHOD" not in cal and "method" not in vcal.contents
    # No seat: the dates as information that can't pass for one (other UIDs, TENTATIVE; docs/calendar.md).
    assert set(events) == {informational_uid(d) for d in run.days}
    assert {v.status.value for v in vevents.values()} == {"TENTATIVE"}
    # Not 'Tidlig inddragelse, hold Å': icalendar leaves the comma unescaped there (feeds.calendar_name).
    assert vcal.contents["x-wr-calname"][0].value == "Tidlig inddragelse – hold Å"
    assert str(cal["X-WR-CALNAME"]) == "Tidlig inddragelse – hold Å"
    # /runs/<id> is still the run page; its link says the file holds no seat.
    page = client.get(f"/runs/{run.id}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert f'href="/runs/{run.id}.ics"' in html(page) and "Datoerne som kalenderfil (.ics, uden plads)" in html(page)
    # With a seat: the seat's own events, the invitations' UIDs, and the link says "add to calendar".
    enrol(run, me)
    _, events, _, vevents = parse(client.get(f"/runs/{run.id}.ics").get_data())
    assert set(events) == {event_uid(d) for d in run.days}
    assert {v.status.value for v in vevents.values()} == {"CONFIRMED"}
    assert "Føj til kalender (.ics)" in html(client.get(f"/runs/{run.id}"))


def test_run_download_shows_my_own_cancellation(client, login_as, run, me):
    cancel(enrol(run, me), me)
    login_as(me)
    _, _, _, vevents = parse(client.get(f"/runs/{run.id}.ics").get_data())
    assert {v.status.value for v in vevents.values()} == {"CANCELLED"}


def test_a_plain_title_gives_a_plain_filename(client, login_as, coordinator, role):
    odd = make_run(role, title='Hold "A"/B\r\n2026')
    login_as(coordinator)
    response = client.get(f"/runs/{odd.id}.ics")
    assert response.headers["Content-Disposition"] == 'attachment; filename="Hold A B 2026.ics"'


def test_run_download_is_404_for_those_who_may_not_see_the_run(client, login_as, run, role, provider_user):
    other_role = factories.make_staff_role("Ungemedarbejder")
    outsider = factories.make_user(access_level="staff", staff_role=other_role)
    login_as(outsider)
    assert client.get(f"/runs/{run.id}.ics").status_code == 404
    draft = make_run(role, status=RunStatus.DRAFT)
    (eligible,) = factories.make_eligible_staff(draft, 1)
    login_as(eligible)
    assert client.get(f"/runs/{draft.id}.ics").status_code == 404
    assert client.get(f"/runs/{run.id}.ics").status_code == 200
    login_as(provider_user)  # Familien i Centrum's user; `run` belongs to another provider object
    assert run.provider_id != provider_user.provider_id
    assert client.get(f"/runs/{run.id}.ics").status_code == 404
    assert client.get("/runs/999999.ics").status_code == 404


def test_run_download_for_coordinator_and_own_provider(
    client, login_as, coordinator, role, fic_provider, provider_user
):
    own = make_run(role, fic_provider)
    login_as(provider_user)
    assert client.get(f"/runs/{own.id}.ics").status_code == 200
    login_as(coordinator)
    assert client.get(f"/runs/{own.id}.ics").status_code == 200
    own.status = RunStatus.CANCELLED
    db.session.commit()
    _, _, _, vevents = parse(client.get(f"/runs/{own.id}.ics").get_data())
    assert {v.status.value for v in vevents.values()} == {"CANCELLED"}


def test_anonymous_run_download_goes_to_login(client, run):
    response = client.get(f"/runs/{run.id}.ics")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_my_courses_links_each_visible_run_to_its_ics(client, login_as, run, me, role, provider):
    cancelled = make_run(
        role, provider, title="Aflyst hold", days=(date(2026, 5, 5), date(2026, 5, 6), date(2026, 8, 5))
    )
    enrol(run, me)
    enrol(cancelled, me)
    cancelled.status = RunStatus.CANCELLED
    db.session.commit()
    login_as(me)
    page = html(client.get("/me/courses"))
    assert f'href="/runs/{run.id}.ics"' in page
    assert f'href="/runs/{cancelled.id}.ics"' not in page  # staff can't open a cancelled run
    assert page.count("Føj til kalender (.ics)") == 1
