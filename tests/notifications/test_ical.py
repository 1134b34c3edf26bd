"""iTIP calendar objects for course days, read back with icalendar AND an independent parser (vobject)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from flask import has_request_context
from flask_babel import get_locale

from app.extensions import db
from app.notifications import ical
from tests import factories

CPH = ZoneInfo("Europe/Copenhagen")
STAMP = datetime(2026, 3, 1, 13, 5, 30, 123456, tzinfo=CPH)  # = 12:05:30Z
RUN_URL = "https://kursus.example.dk/runs/7"


@pytest.fixture
def run(app):
    return factories.make_course_run(
        title="Tidlig inddragelse, hold A",
        provider=factories.make_provider(name="Familien i Centrum"),
        days=(date(2026, 3, 30), date(2026, 4, 14), date(2026, 10, 26)),
        venue="Kursuscenter Valby, Toftegårds Allé 7",
    )


def invitation(day, **kw) -> bytes:
    args = {
        "method": "REQUEST",
        "attendee_email": "sara@test.dk",
        "attendee_name": "Sara Sørensen",
        "sequence": day.sequence,
        "stamp": STAMP,
        "status": "CONFIRMED",
        "run_url": RUN_URL,
        "language": "da",
    }
    args.update(kw)
    return ical.course_day_calendar(day, **args)


def parse(data: bytes):
    """(icalendar calendar, its one VEVENT, vobject calendar, its one VEVENT); asserts there is exactly one."""
    assert isinstance(data, bytes)
    cal = icalendar.Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    vcals = list(vobject.readComponents(data.decode("utf-8")))
    assert len(vcals) == 1
    vevents = vcals[0].contents.get("vevent", [])
    assert len(vevents) == 1
    return cal, events[0], vcals[0], vevents[0]


def test_request_has_every_property_an_invitation_needs(run):
    day = run.days[0]
    data = invitation(day)
    cal, event, vcal, vevent = parse(data)

    assert cal["VERSION"] == "2.0" and vcal.version.value == "2.0"
    assert "Kursusportalen" in str(cal["PRODID"])
    assert cal["CALSCALE"] == "GREGORIAN"
    assert cal["METHOD"] == "REQUEST" and vcal.method.value == "REQUEST"
    assert "UID" not in cal  # a plain Calendar(): no calendar-level UID in iMIP
    assert data.count(b"BEGIN:VEVENT") == 1
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")

    uid = f"courseday-{day.ical_uid}@kursusportalen.local"
    assert str(event["UID"]) == uid and vevent.uid.value == uid
    assert event["SEQUENCE"] == 0 and vevent.sequence.value == "0"
    # DTSTAMP: the given moment in UTC, whole seconds.
    assert event.decoded("DTSTAMP") == datetime(2026, 3, 1, 12, 5, 30, tzinfo=UTC)
    assert vevent.dtstamp.value == datetime(2026, 3, 1, 12, 5, 30, tzinfo=UTC)
    assert b"DTSTAMP:20260301T120530Z" in data
    assert str(event["STATUS"]) == "CONFIRMED" and vevent.status.value == "CONFIRMED"
    assert str(event["TRANSP"]) == "OPAQUE" and vevent.transp.value == "OPAQUE"
    assert vevent.summary.value == "Tidlig inddragelse, hold A – 1. undervisningsdag"
    assert str(event["SUMMARY"]) == vevent.summary.value
    assert vevent.location.value == "Kursuscenter Valby, Toftegårds Allé 7"
    assert vevent.url.value == RUN_URL

    description = vevent.description.value
    assert str(event["DESCRIPTION"]) == description
    for expected in (
        "Tidlig inddragelse, hold A",
        "Udbyder: Familien i Centrum",
        "1. undervisningsdag",
        "mandag den 30. marts 2026",
        "kl. 09.00–15.30",
        "Sted: Kursuscenter Valby, Toftegårds Allé 7",
        RUN_URL,
        "Du afmelder dig i Kursusportalen",
    ):
        assert expected in description


def test_the_attendee_is_the_only_recipient_and_the_organizer_is_the_functional_mailbox(run):
    _, event, _, vevent = parse(invitation(run.days[0]))

    attendees = event.get("ATTENDEE")
    assert not isinstance(attendees, list)  # exactly one
    assert str(attendees) == "mailto:sara@test.dk"
    assert attendees.params["CN"] == "Sara Sørensen"
    assert attendees.params["ROLE"] == "REQ-PARTICIPANT"
    assert attendees.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendees.params["RSVP"] == "FALSE"

    assert len(vevent.contents["attendee"]) == 1
    vattendee = vevent.attendee
    assert vattendee.value == "mailto:sara@test.dk"
    assert vattendee.params == {
        "CN": ["Sara Sørensen"],
        "ROLE": ["REQ-PARTICIPANT"],
        "PARTSTAT": ["NEEDS-ACTION"],
        "RSVP": ["FALSE"],
    }

    assert str(event["ORGANIZER"]) == "mailto:kursusportalen@kursusportalen.local"
    assert len(vevent.contents["organizer"]) == 1
    assert vevent.organizer.value == "mailto:kursusportalen@kursusportalen.local"
    assert vevent.organizer.params["CN"] == ["Kursusportalen"]


def test_organizer_and_uid_domain_can_be_given_or_come_from_the_config(app, run):
    day = run.days[0]
    _, _, _, vevent = parse(
        invitation(day, organizer_email="kurser@kk.dk", organizer_name="Kurser, KK", uid_domain="kk.dk")
    )
    assert vevent.organizer.value == "mailto:kurser@kk.dk"
    assert vevent.organizer.params["CN"] == ["Kurser, KK"]
    assert vevent.uid.value == f"courseday-{day.ical_uid}@kk.dk"

    app.config.update(CALENDAR_ORGANIZER_EMAIL="kalender@kk.dk", CALENDAR_UID_DOMAIN="kurser.kk.dk")
    _, _, _, vevent = parse(invitation(day))
    assert vevent.organizer.value == "mailto:kalender@kk.dk"
    assert vevent.uid.value == f"courseday-{day.ical_uid}@kurser.kk.dk"
    assert ical.event_uid(day) == vevent.uid.value


@pytest.mark.parametrize(
    ("day", "start_utc", "end_utc"),
    [
        # Winter time (UTC+1) until Sunday 29 March 2026 02:00 ...
        (date(2026, 3, 27), datetime(2026, 3, 27, 8, 0, tzinfo=UTC), datetime(2026, 3, 27, 14, 30, tzinfo=UTC)),
        # ... summer time (UTC+2) after it: 09:00 local = 07:00Z.
        (date(2026, 3, 30), datetime(2026, 3, 30, 7, 0, tzinfo=UTC), datetime(2026, 3, 30, 13, 30, tzinfo=UTC)),
        # Summer time until Sunday 25 October 2026 03:00 ...
        (date(2026, 10, 23), datetime(2026, 10, 23, 7, 0, tzinfo=UTC), datetime(2026, 10, 23, 13, 30, tzinfo=UTC)),
        # ... winter time after it: 09:00 local = 08:00Z.
        (date(2026, 10, 26), datetime(2026, 10, 26, 8, 0, tzinfo=UTC), datetime(2026, 10, 26, 14, 30, tzinfo=UTC)),
    ],
)
def test_times_are_utc_instants_of_copenhagen_wall_clock_across_dst(run, day, start_utc, end_utc):
    course_day = run.days[0]
    course_day.day = day  # 09.00-15.30 local
    data = invitation(course_day)
    _, event, _, vevent = parse(data)

    assert event.decoded("DTSTART") == start_utc and event.decoded("DTEND") == end_utc
    assert vevent.dtstart.value == start_utc and vevent.dtend.value == end_utc
    assert f"DTSTART:{start_utc:%Y%m%dT%H%M%S}Z".encode() in data
    assert f"DTEND:{end_utc:%Y%m%dT%H%M%S}Z".encode() in data
    assert b"TZID" not in data and b"VTIMEZONE" not in data
    # Read back in Copenhagen: what the coordinator typed.
    assert vevent.dtstart.value.astimezone(CPH).time() == time(9, 0)
    assert vevent.dtend.value.astimezone(CPH).time() == time(15, 30)


def test_an_update_keeps_the_uid_and_raises_the_sequence_even_when_date_title_and_place_change(run):
    day = run.days[1]
    _, first, _, vfirst = parse(invitation(day))

    day.day = date(2026, 4, 21)
    day.starts_at = time(10, 0)
    day.venue = "Rådhuset, lokale 12"
    run.title = "Tidlig inddragelse, hold B"
    day.sequence += 1
    db.session.commit()
    _, second, vcal, vsecond = parse(invitation(day, stamp=datetime(2026, 3, 2, 9, tzinfo=UTC)))

    assert vcal.method.value == "REQUEST"
    assert vsecond.uid.value == vfirst.uid.value == str(first["UID"]) == str(second["UID"])
    assert int(vsecond.sequence.value) == 1 > int(vfirst.sequence.value) == 0
    assert second["SEQUENCE"] == 1
    assert vsecond.dtstart.value == datetime(2026, 4, 21, 8, 0, tzinfo=UTC)
    assert vsecond.location.value == "Rådhuset, lokale 12"
    assert vsecond.summary.value == "Tidlig inddragelse, hold B – 2. undervisningsdag"


def test_each_day_has_its_own_uid_from_its_stored_opaque_id(run):
    uids = {parse(invitation(day))[3].uid.value for day in run.days}
    assert len(uids) == 3
    for day in run.days:
        uid = ical.event_uid(day)
        assert uid == f"courseday-{day.ical_uid}@kursusportalen.local"


def test_cancel_of_the_whole_day_has_status_cancelled_and_no_request(run):
    day = run.days[0]
    data = invitation(day, method="CANCEL", status="CANCELLED", sequence=day.sequence + 1)
    cal, event, vcal, vevent = parse(data)

    assert cal["METHOD"] == "CANCEL" and vcal.method.value == "CANCEL"
    assert b"REQUEST" not in data
    assert str(event["STATUS"]) == "CANCELLED" and vevent.status.value == "CANCELLED"
    assert vevent.uid.value == f"courseday-{day.ical_uid}@kursusportalen.local"
    assert vevent.sequence.value == "1"
    assert vevent.attendee.value == "mailto:sara@test.dk"
    assert vevent.organizer.value == "mailto:kursusportalen@kursusportalen.local"
    assert "Kursusdagen er aflyst." in vevent.description.value
    assert "Afmelding" not in vevent.description.value


def test_cancel_for_one_attendee_has_no_status(run):
    day = run.days[2]
    data = invitation(day, method="CANCEL", status=None, sequence=3)
    cal, event, vcal, vevent = parse(data)

    assert vcal.method.value == "CANCEL"
    assert b"REQUEST" not in data
    assert "STATUS" not in event and "status" not in vevent.contents
    assert b"STATUS" not in data
    assert vevent.sequence.value == "3"
    assert [a.value for a in vevent.contents["attendee"]] == ["mailto:sara@test.dk"]
    assert "Du deltager ikke længere i denne kursusdag." in vevent.description.value


@pytest.mark.parametrize(
    ("method", "status"),
    [("REQUEST", "CANCELLED"), ("REQUEST", None), ("CANCEL", "CONFIRMED"), ("PUBLISH", "CONFIRMED"), ("", None)],
)
def test_method_and_status_must_fit_together(run, method, status):
    with pytest.raises(ValueError):
        invitation(run.days[0], method=method, status=status)


@pytest.mark.parametrize(
    "kw",
    [
        {"sequence": -1},
        {"sequence": 1.0},
        {"sequence": True},
        {"stamp": datetime(2026, 3, 1, 12, 0)},  # naive
        {"attendee_email": "not an address"},
        {"attendee_email": ""},
    ],
)
def test_bad_arguments_are_refused(run, kw):
    with pytest.raises(ValueError):
        invitation(run.days[0], **kw)


def test_names_cannot_break_the_parameter_syntax(run):
    data = invitation(run.days[0], attendee_name='Ole "Bo" Jensen;\r\nX-EVIL:1, ROLE=CHAIR')
    _, event, _, vevent = parse(data)
    assert b"X-EVIL:1\r\n" not in data
    assert vevent.attendee.params["CN"] == ["Ole 'Bo' Jensen; X-EVIL:1, ROLE=CHAIR"]
    assert vevent.attendee.params["ROLE"] == ["REQ-PARTICIPANT"]
    assert event["ATTENDEE"].params["CN"] == "Ole 'Bo' Jensen; X-EVIL:1, ROLE=CHAIR"


def test_texts_follow_the_recipients_language_in_a_plain_app_context(run):
    assert not has_request_context()
    _, _, _, vevent = parse(invitation(run.days[1], language="en"))
    assert vevent.summary.value == "Tidlig inddragelse, hold A – Teaching day 2"
    assert "Tuesday 14 April 2026" in vevent.description.value
    assert "09:00–15:30" in vevent.description.value
    assert str(get_locale()) == "da"  # forced only while rendering

    _, _, _, vevent = parse(invitation(run.days[2], language=None))  # no preference: Danish
    assert vevent.summary.value == "Tidlig inddragelse, hold A – Opfølgningsdag"
    assert "mandag den 26. oktober 2026" in vevent.description.value


def test_texts_follow_the_recipient_not_the_request(app, run):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert str(get_locale()) == "en"
        _, _, _, vevent = parse(invitation(run.days[0], language="da"))
        assert vevent.summary.value.endswith("– 1. undervisningsdag")
        assert "mandag den 30. marts 2026" in vevent.description.value
        _, _, _, vevent = parse(invitation(run.days[0], language="en_GB"))
        assert vevent.summary.value.endswith("– Teaching day 1")
        assert str(get_locale()) == "en"


def test_normalise_language(app):
    assert ical.normalise_language("en") == "en"
    assert ical.normalise_language("en-GB") == "en"
    assert ical.normalise_language("da_DK") == "da"
    assert ical.normalise_language("de") == "da"
    assert ical.normalise_language(None) == "da"
    assert ical.normalise_language("") == "da"


def test_the_day_venue_overrides_the_run_venue(run):
    day = run.days[2]
    day.venue = "Opfølgning: Rådhuset, sal 3"
    _, _, _, vevent = parse(invitation(day))
    assert vevent.location.value == "Opfølgning: Rådhuset, sal 3"


# --- the personal feed ---------------------------------------------------------------------------------


def test_feed_is_a_published_snapshot_without_method_or_attendees(run):
    first, second, follow_up = run.days
    second.sequence = 2
    entries = [
        ical.FeedEntry(first, run_url=RUN_URL),
        ical.FeedEntry(second, status="CANCELLED"),
        ical.FeedEntry(follow_up, sequence=5),
    ]
    data = ical.feed_calendar(entries, name="Mine kursusdage – Sara", stamp=STAMP)

    cal = icalendar.Calendar.from_ical(data)
    vcal = vobject.readOne(data.decode("utf-8"))
    assert "METHOD" not in cal and "method" not in vcal.contents
    assert b"METHOD" not in data and b"ATTENDEE" not in data
    assert vcal.contents["x-wr-calname"][0].value == "Mine kursusdage – Sara"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in data
    assert vcal.contents["refresh-interval"][0].params == {"VALUE": ["DURATION"]}
    assert vcal.contents["x-published-ttl"][0].value == "PT1H"
    assert "UID" not in cal

    events = cal.walk("VEVENT")
    vevents = vcal.vevent_list
    assert len(events) == len(vevents) == 3
    by_uid = {v.uid.value: v for v in vevents}
    for day in run.days:  # the same UIDs as the invitations
        assert parse(invitation(day))[3].uid.value in by_uid

    v1, v2, v3 = (by_uid[ical.event_uid(d)] for d in run.days)
    assert v1.status.value == "CONFIRMED" and v1.sequence.value == "0"
    assert v1.summary.value == "Tidlig inddragelse, hold A – 1. undervisningsdag"
    assert RUN_URL in v1.description.value and "Du afmelder dig i Kursusportalen" in v1.description.value
    assert v2.status.value == "CANCELLED" and v2.sequence.value == "2"
    assert v2.summary.value == "Aflyst: Tidlig inddragelse, hold A – 2. undervisningsdag"
    assert "Kursusdagen er aflyst." in v2.description.value
    assert v3.sequence.value == "5"
    assert v3.dtstart.value == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    assert all("attendee" not in v.contents and "organizer" not in v.contents for v in vevents)


def test_feed_in_english_and_empty(run):
    data = ical.feed_calendar([ical.FeedEntry(run.days[0])], name="My course days", stamp=STAMP, language="en")
    vcal = vobject.readOne(data.decode("utf-8"))
    assert vcal.vevent.summary.value.endswith("– Teaching day 1")
    assert "Monday 30 March 2026" in vcal.vevent.description.value

    empty = ical.feed_calendar([], name="Mine kursusdage", stamp=STAMP)
    assert icalendar.Calendar.from_ical(empty).walk("VEVENT") == []
    assert "vevent" not in vobject.readOne(empty.decode("utf-8")).contents


def test_feed_refuses_an_unknown_status(run):
    with pytest.raises(ValueError):
        ical.feed_calendar([ical.FeedEntry(run.days[0], status="TENTATIVE")], name="x", stamp=STAMP)
