"""`compose.invitation_mail()` (what the outbox stores, made without building an EmailMessage) gives the same
bytes as `message_bytes(invitation_message(...))`, the stdlib `email` path the other tests pin (folding,
encoded words, quoted-printable, base64, MIME structure): compared byte for byte on random recipients,
titles, places, kinds, languages, notes, stamps and Message-IDs. The MIME boundaries are random in both;
both draw them from the `random` module in the same order, so a seeded generator makes them equal."""

from __future__ import annotations

import random
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from email.generator import BytesGenerator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.notifications import compose, ical
from app.notifications.compose import FrozenMail, InvitationKind, Recipient
from tests import factories

#: Text as users type it: Danish letters, punctuation that needs quoting in headers (",;<>\"()"), encoded-word
#: look-alikes, long words that force folding, and other Unicode.
_ALPHABET = st.sampled_from(
    list("abcæøåÆØÅ é,;:<>\"'()=?_-.@ 0123456789\u2013\u00bb\u00ab\u00e9\u4e2d\U0001f600\u2028\x85")
)
_TEXT = st.one_of(
    st.text(_ALPHABET, min_size=1, max_size=120),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80),
    st.just("=?utf-8?q?kodet?= Hansen, Jens"),
    st.just("Socialrådgiver " * 9),
)
_STAMPS = st.builds(
    lambda minutes, offset: (
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(minutes=offset))) + timedelta(minutes=minutes)
    ),
    st.integers(0, 60 * 24 * 365),
    st.sampled_from([0, 60, 120, -300]),
)


@pytest.fixture
def run(app):
    return factories.make_course_run(
        title="Tidlig inddragelse",
        provider=factories.make_provider(name="Familien i Centrum"),
        days=(date(2026, 3, 30), date(2026, 4, 14), date(2026, 10, 26)),
        venue="Kursuscenter Valby",
    )


def _both(day, recipient, kind, *, stamp, sequence, note, message_id, seed):
    random.seed(seed)
    msg = compose.invitation_message(
        day,
        recipient,
        kind,
        stamp=stamp,
        run_url="https://kursus.example.dk/runs/7",
        sequence=sequence,
        note=note,
        message_id=message_id,
    )
    old = compose.message_bytes(msg)
    random.seed(seed)
    mail = compose.invitation_mail(
        day, recipient, kind, stamp=stamp, run_url="https://kursus.example.dk/runs/7", sequence=sequence, note=note
    )
    return msg, old, mail, mail.with_message_id(message_id)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=_TEXT,
    local=st.from_regex(r"[a-z0-9]{1,20}([._+-][a-z0-9]{1,20}){0,3}", fullmatch=True),
    language=st.sampled_from([None, "da", "en", "en_GB", "xx"]),
    title=_TEXT,
    venue=_TEXT,
    provider=_TEXT,
    position=st.integers(0, 2),
    kind=st.sampled_from(list(InvitationKind)),
    sequence=st.integers(0, 10_000),
    note=st.one_of(st.none(), _TEXT),
    stamp=_STAMPS,
    message_id=st.one_of(
        st.from_regex(r"<outbox\.[0-9a-f]{32}@[a-z0-9.-]{1,40}>", fullmatch=True),
        st.just("<" + "x" * 90 + "@kursusportalen.example.dk>"),
    ),
    seed=st.integers(0, 2**32),
)
def test_invitation_mail_is_byte_identical_to_the_email_package(
    run, name, local, language, title, venue, provider, position, kind, sequence, note, stamp, message_id, seed
):
    run.title, run.venue, run.provider.name = title, venue, provider
    day = run.days[position]
    recipient = Recipient(email=f"{local}@kommune.example.dk", name=name, language=language)
    try:
        msg, old, mail, new = _both(
            day, recipient, kind, stamp=stamp, sequence=sequence, note=note, message_id=message_id, seed=seed
        )
    except ValueError:  # a line break in the subject (the run's title): refused both ways
        with pytest.raises(ValueError):
            compose.message_bytes(
                compose.invitation_message(day, recipient, kind, stamp=stamp, run_url="https://x.dk/r/7")
            )
        with pytest.raises(ValueError):
            compose.invitation_mail(day, recipient, kind, stamp=stamp, run_url="https://x.dk/r/7")
        return
    assert new == old
    assert mail.subject == " ".join(str(msg["Subject"]).split())  # what the outbox lists


@pytest.mark.parametrize("clash", ["", "--{b}", "--{b}--", "x\n--{b}\ny", "--{b}\r\n", "--{b}.0\n--{b}\n"])
def test_boundaries_are_drawn_and_checked_as_the_generator_does(clash):
    """Quoted-printable and base64 bodies never hold a boundary line ('=' is encoded), but the clash rule (a
    '.0' suffix) is the generator's all the same."""
    random.seed(11)
    drawn = "=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "=="
    text = clash.format(b=drawn).encode()
    random.seed(11)
    expected = BytesGenerator._make_boundary(text)
    random.seed(11)
    assert compose._make_boundary(text) == expected


def test_frozen_mail_takes_its_message_id_last(run):
    mail = compose.invitation_mail(
        run.days[0],
        Recipient(email="a@b.dk", name="A"),
        InvitationKind.INVITATION,
        stamp=datetime(2026, 3, 2, 9, tzinfo=UTC),
        run_url="https://x.dk/runs/1",
    )
    assert isinstance(mail, FrozenMail)
    assert b"Message-ID" not in mail.head + mail.tail
    assert b"\r\nMessage-ID: <outbox.1@x.dk>\r\nAuto-Submitted: auto-generated\r\n" in mail.with_message_id(
        "<outbox.1@x.dk>"
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=_TEXT,
    language=st.sampled_from([None, "da", "en", "xx"]),
    subject=_TEXT,
    text=st.one_of(_TEXT, st.text(max_size=400), st.just("linje 1\r\nlinje 2\rlinje 3\n\n")),
    html=st.one_of(st.none(), _TEXT, st.just("<p>æ=ø</p>\n" * 40)),
    stamp=_STAMPS,
    seed=st.integers(0, 2**32),
)
def test_notice_mail_is_byte_identical_to_the_email_package(app, name, language, subject, text, html, stamp, seed):
    recipient = Recipient(email="jens.hansen@kommune.example.dk", name=name, language=language)
    random.seed(seed)
    try:
        msg = compose.notice_message(recipient, subject, text, html, stamp=stamp, message_id="<outbox.1f@x.dk>")
    except ValueError:  # a line break in a header: refused both ways
        with pytest.raises(ValueError):
            compose.notice_mail(recipient, subject, text, html, stamp=stamp)
        return
    old = compose.message_bytes(msg)
    random.seed(seed)
    mail = compose.notice_mail(recipient, subject, text, html, stamp=stamp)
    assert mail.with_message_id("<outbox.1f@x.dk>") == old
    assert mail.subject == " ".join(str(msg["Subject"]).split())


_METHOD_STATUS = [("REQUEST", "CONFIRMED"), ("CANCEL", "CANCELLED"), ("CANCEL", None)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.one_of(st.none(), _TEXT),
    local=st.from_regex(r"[a-z0-9]{1,30}([._+-][a-z0-9]{1,30}){0,3}", fullmatch=True),
    title=_TEXT,
    venue=_TEXT,
    provider=_TEXT,
    position=st.integers(0, 2),
    method_status=st.sampled_from(_METHOD_STATUS),
    sequence=st.integers(0, 10**6),
    note=st.one_of(st.none(), _TEXT),
    language=st.sampled_from([None, "da", "en"]),
    stamp=_STAMPS,
)
def test_the_calendar_built_once_per_content_equals_the_one_built_whole(
    run, monkeypatch, name, local, title, venue, provider, position, method_status, sequence, note, language, stamp
):
    """ical.course_day_calendar builds a day's calendar once and swaps the ATTENDEE, DTSTAMP and SEQUENCE
    lines per recipient: the same bytes as building it whole with icalendar."""
    run.title, run.venue, run.provider.name = title, venue, provider
    method, status = method_status

    def calendar():
        return ical.course_day_calendar(
            run.days[position],
            method=method,
            attendee_email=f"{local}@kommune.example.dk",
            attendee_name=name,
            sequence=sequence,
            stamp=stamp,
            status=status,
            run_url="https://kursus.example.dk/runs/7",
            language=language,
            note=note,
        )

    swapped = calendar()
    with monkeypatch.context() as m:
        m.setattr(ical, "_personalised", ical._built)
        whole = calendar()
    assert swapped == whole
