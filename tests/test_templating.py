"""The date filters remember their results; what they remember must depend on the language and time zone."""
from __future__ import annotations

from datetime import UTC, date, datetime

from flask_babel import force_locale

from app.core.templating import dk_date, dk_datetime


def test_dates_in_each_language_even_when_remembered(app):
    with app.test_request_context():
        with force_locale("da"):
            assert dk_date(date(2008, 10, 1)) == "1. oktober 2008"
            assert dk_date(date(2008, 10, 1), "medium") == "1. okt. 2008"
        with force_locale("en"):
            assert dk_date(date(2008, 10, 1)) == "October 1, 2008"
        with force_locale("da"):
            assert dk_date(date(2008, 10, 1)) == "1. oktober 2008"
        assert dk_date(None) == ""


def test_moments_in_copenhagen_time_in_each_language(app):
    moment = datetime(2008, 10, 1, 7, 30, tzinfo=UTC)  # 09.30 summer time in Copenhagen
    with app.test_request_context():
        with force_locale("da"):
            danish = dk_datetime(moment, "short")
        with force_locale("en"):
            english = dk_datetime(moment, "short")
        assert "09.30" in danish and "01.10.2008" in danish
        assert "9:30" in english and english != danish
        assert dk_datetime(None) == ""
