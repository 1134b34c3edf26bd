"""Working days in Denmark (app.calendar.workdays): pure functions, no database."""

from __future__ import annotations

from datetime import date

import pytest

from app.calendar.workdays import follow_up_anchor, next_working_day, non_working_reason, public_holiday

GRUNDLOVSDAG_2009 = {date(2009, 6, 5): "Grundlovsdag (lukket fra kl. 12)"}


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2009, 1, 1), "nytårsdag"),
        (date(2009, 4, 9), "skærtorsdag"),
        (date(2009, 4, 10), "langfredag"),
        (date(2009, 4, 12), "påskedag"),
        (date(2009, 4, 13), "anden påskedag"),
        (date(2009, 5, 8), "store bededag"),
        (date(2009, 5, 21), "Kristi himmelfartsdag"),
        (date(2009, 6, 1), "anden pinsedag"),
        (date(2008, 12, 25), "juledag"),
        (date(2008, 12, 26), "anden juledag"),
        (date(2009, 4, 14), None),
        (date(2008, 12, 24), None),  # Juleaftensdag is not a public holiday: a local closed day at most
        (date(2009, 6, 5), None),  # nor is Grundlovsdag
    ],
)
def test_danish_public_holidays(day, expected):
    assert public_holiday(day) == expected


def test_store_bededag_exists_in_2023_but_not_from_2024():
    assert public_holiday(date(2023, 5, 5)) == "store bededag"
    assert public_holiday(date(2024, 4, 26)) is None  # 4th Friday after Easter 2024: an ordinary day now
    assert next_working_day(date(2023, 5, 5)) == date(2023, 5, 8)
    assert next_working_day(date(2024, 4, 26)) == date(2024, 4, 26)


@pytest.mark.parametrize(
    ("day", "danish", "english"),
    [
        (date(2009, 1, 1), "nytårsdag", "New Year's Day"),
        (date(2009, 4, 10), "langfredag", "Good Friday"),
        (date(2023, 5, 5), "store bededag", "Great Prayer Day"),
        (date(2008, 12, 25), "juledag", "Christmas Day"),
    ],
)
def test_holiday_names_in_both_ui_languages(day, danish, english):
    assert public_holiday(day, "da") == danish
    assert public_holiday(day, "en") == english


def test_english_holiday_names_are_asked_for_in_a_locale_the_library_has(monkeypatch):
    """`holidays` names Denmark's holidays in "da" and "en_US" only. Asked for "en", Python 3.11's gettext
    happened to fall back to en_US, while 3.12 and 3.13 answer in Danish: ask for what it offers."""
    import holidays

    asked: list[str] = []
    real = holidays.country_holidays

    def recording(*args, language=None, **kwargs):
        asked.append(language)
        return real(*args, language=language, **kwargs)

    monkeypatch.setattr(holidays, "country_holidays", recording)
    public_holiday(date(1999, 1, 1), "en")  # a year no other test caches
    public_holiday(date(1999, 1, 1), "da")
    assert asked == ["en_US", "da"]
    assert set(asked) <= set(holidays.DK.supported_languages)


def test_holiday_names_follow_the_language_asked_for():
    assert public_holiday(date(2009, 1, 1), "en") == "New Year's Day"
    assert non_working_reason(date(2008, 11, 29), {}, "en") == "Saturday"
    assert non_working_reason(date(2008, 11, 30), {}, "en") == "Sunday"


@pytest.mark.parametrize(
    ("day", "closed", "expected"),
    [
        (date(2008, 11, 29), {}, "lørdag"),
        (date(2008, 11, 30), {}, "søndag"),
        (date(2009, 1, 1), {}, "nytårsdag"),
        (date(2009, 6, 5), GRUNDLOVSDAG_2009, "Grundlovsdag (lukket fra kl. 12)"),
        (date(2009, 6, 5), {}, None),
        (date(2008, 12, 1), {}, None),
        # A public holiday names itself even when it is also entered as a closed day.
        (date(2009, 1, 1), {date(2009, 1, 1): "Lukket"}, "nytårsdag"),
        # A weekend is reported as the weekend, even when a holiday falls on it.
        (date(2009, 4, 12), {}, "søndag"),
    ],
)
def test_non_working_reason(day, closed, expected):
    assert non_working_reason(day, closed) == expected


@pytest.mark.parametrize(
    ("day", "closed", "expected"),
    [
        (date(2008, 12, 1), {}, date(2008, 12, 1)),  # a Monday: itself
        (date(2008, 11, 29), {}, date(2008, 12, 1)),  # Saturday -> Monday
        (date(2008, 11, 30), {}, date(2008, 12, 1)),  # Sunday -> Monday
        (date(2009, 1, 1), {}, date(2009, 1, 2)),  # nytårsdag -> Friday
        (date(2009, 4, 9), {}, date(2009, 4, 14)),  # Easter: Thu, Fri, Sat, Sun, Mon skipped
        (date(2009, 6, 5), GRUNDLOVSDAG_2009, date(2009, 6, 8)),  # closed Friday -> Monday
        (date(2009, 6, 5), {}, date(2009, 6, 5)),  # not closed here: a working day
        (date(2008, 12, 24), [date(2008, 12, 24)], date(2008, 12, 29)),  # closed days as a plain list too
    ],
)
def test_next_working_day(day, closed, expected):
    assert next_working_day(day, closed) == expected


@pytest.mark.parametrize(
    ("teaching_day_2", "months", "expected"),
    [
        (date(2008, 10, 1), 3, date(2009, 1, 1)),
        (date(2008, 8, 31), 3, date(2008, 11, 30)),  # one step: clamped to 30 November
        (date(2008, 11, 30), 3, date(2009, 2, 28)),
        (date(2007, 11, 30), 3, date(2008, 2, 29)),  # leap year
        (date(2008, 11, 29), 3, date(2009, 2, 28)),
        (date(2009, 1, 9), 3, date(2009, 4, 9)),
        (date(2008, 10, 1), 1, date(2008, 11, 1)),
        (date(2008, 10, 1), 6, date(2009, 4, 1)),
    ],
)
def test_follow_up_anchor_adds_calendar_months_in_one_step(teaching_day_2, months, expected):
    assert follow_up_anchor(teaching_day_2, months) == expected


def test_adding_months_one_at_a_time_would_drift_which_is_why_the_rule_adds_them_at_once():
    one_at_a_time = follow_up_anchor(follow_up_anchor(follow_up_anchor(date(2008, 12, 31), 1), 1), 1)
    assert one_at_a_time == date(2009, 3, 28)  # 31 Dec -> 31 Jan -> 28 Feb -> 28 Mar
    assert follow_up_anchor(date(2008, 12, 31), 3) == date(2009, 3, 31)
