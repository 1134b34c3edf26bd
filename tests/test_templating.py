"""The date and money filters remember their results; what they remember must depend on the language and time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask_babel import force_locale

from app.core.templating import dk_date, dk_datetime


def test_dates_in_each_language_even_when_remembered(app):
    with app.test_request_context():
        with force_locale("da"):
            assert dk_date(date(2008, 10, 1)) == "1. oktober 2008"
            assert dk_date(date(2008, 10, 1), "medium") == "1. okt. 2008"
        with force_locale("en"):
            assert dk_date(date(2008, 10, 1)) == "1 October 2008"
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
        assert danish == "1. okt. 2008 kl. 09.30"
        assert english == "1 Oct 2008, 09:30"
        assert dk_datetime(None) == ""


def test_english_dates_are_european_never_us_style(app):
    """Issue 21: "12/7/26, 1:35 PM" reads as 12 July to a Danish reader. English names the month and puts
    the day first, in every named format; times are 24-hour. Danish keeps Babel's own date formats."""
    from app.core.templating import clock_time, dk_time

    day = date(2026, 12, 7)
    moment = datetime(2026, 12, 7, 12, 35, tzinfo=UTC)  # 13.35 in Copenhagen
    with app.test_request_context():
        with force_locale("en"):
            assert dk_date(day, "short") == "7 Dec 2026"
            assert dk_date(day, "medium") == "7 Dec 2026"
            assert dk_date(day) == "7 December 2026"
            assert dk_date(day, "full") == "Monday 7 December 2026"
            assert dk_date(day, "EEEE") == "Monday"
            assert dk_datetime(moment, "short") == "7 Dec 2026, 13:35"
            assert dk_datetime(moment) == "7 Dec 2026, 13:35"
            assert dk_datetime(moment, "HH:mm:ss") == "13:35:00"
            assert dk_datetime(moment, "time") == "13:35"
            assert dk_time(moment.time()) == "12:35"
            assert clock_time(moment.time()) == "12:35"
        with force_locale("da"):
            assert dk_date(day, "short") == "07.12.2026"
            assert dk_date(day, "medium") == "7. dec. 2026"
            assert dk_date(day) == "7. december 2026"
            assert dk_date(day, "full") == "mandag den 7. december 2026"
            assert dk_time(moment.time()) == "kl. 12.35"
            assert clock_time(moment.time()) == "12.35"


def test_danish_moments_say_kl_and_show_no_seconds(app):
    """Issue 21: Babel's Danish "7. dec. 2026 13.35.00" has seconds and no "kl."; every named format now
    reads like the house's times ("kl. 09.00"), and "time" is the time alone for a sentence."""
    moment = datetime(2026, 12, 7, 12, 35, 41, tzinfo=UTC)  # 13.35.41 in Copenhagen
    with app.test_request_context(), force_locale("da"):
        assert dk_datetime(moment, "short") == "7. dec. 2026 kl. 13.35"
        assert dk_datetime(moment) == "7. dec. 2026 kl. 13.35"
        assert dk_datetime(moment, "long") == "7. december 2026 kl. 13.35"
        assert dk_datetime(moment, "full") == "mandag den 7. december 2026 kl. 13.35"
        assert dk_datetime(moment, "time") == "kl. 13.35"


def test_spreadsheet_dates_are_plain_in_every_language(app):
    from app.core.templating import sheet_date, sheet_datetime

    with app.test_request_context(), force_locale("en"):
        assert sheet_date(date(2026, 12, 7)) == "07-12-2026"
        assert sheet_datetime(datetime(2026, 12, 7, 13, 35, 41)) == "07-12-2026 13:35"


def test_template_gettext_follows_the_locale_within_one_request(app):
    """app.core.i18n remembers the translations per request; force_locale (a mail in the recipient's
    language, rendered in someone else's request) and the request's own locale must still win."""
    from flask import render_template_string

    page = (
        "{{ _('Mødt') }}|{{ ngettext('%(num)s deltager har gennemført (mødt op på alle tre kursusdage).', "
        "'%(num)s deltagere har gennemført (mødt op på alle tre kursusdage).', n) }}|{{ _('Deltagere') }}"
    )
    with app.test_request_context(headers={"Accept-Language": "da"}):
        one = render_template_string(page, n=1)
        assert one == "Mødt|1 deltager har gennemført (mødt op på alle tre kursusdage).|Deltagere"
        with force_locale("en"):
            assert (
                render_template_string(page, n=2)
                == "Present|2 participants have completed (attended all three course days).|Participants"
            )
        assert render_template_string(page, n=2).startswith("Mødt|2 deltagere")


def test_template_gettext_escapes_and_formats_like_jinja(app):
    """Newstyle gettext: variables are escaped into the (safe) translation, "%%" is a percent sign even
    without variables, and an unknown msgid comes back as itself."""
    from flask import render_template_string

    with app.test_request_context(headers={"Accept-Language": "da"}):
        assert render_template_string("{{ _('Hej %(name)s', name='<b>Bo</b>') }}") == "Hej &lt;b&gt;Bo&lt;/b&gt;"
        assert render_template_string("{{ _('100%% sikkert') }}") == "100% sikkert"
        assert render_template_string("{{ _('<i>uoversat</i>') }}") == "<i>uoversat</i>"
        assert render_template_string("{{ pgettext('måned', 'Maj') }}") == "Maj"


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("da", "Seneste invitation blev sendt 7. dec. 2026 kl. 13.35. En ny invitation"),
        ("en", "The latest invitation was sent on 7 Dec 2026, 13:35. A new invitation"),
    ],
)
def test_a_page_names_a_moment_without_seconds(client, login_as, coordinator, language, sentence):
    """The user page, as a coordinator reads it in each language: the invitation's moment in Copenhagen time."""
    from tests import factories

    user = factories.make_user(password=None, invitation_sent_at=datetime(2026, 12, 7, 12, 35, 41))
    coordinator.locale = language
    login_as(coordinator)
    page = client.get(f"/users/{user.id}/edit").get_data(as_text=True)
    assert sentence in page


def test_amounts_in_each_language_formatted_once_and_remembered(app, monkeypatch):
    """The dashboard shows hundreds of amounts (issue 22): each amount is put into words by Babel once per
    language, and the remembered text is still the right one for each language."""
    from app.core import templating

    templating._format_money.cache_clear()
    calls = []
    real = templating.babel_format_decimal
    monkeypatch.setattr(
        templating, "babel_format_decimal", lambda *args, **kw: calls.append(kw["locale"]) or real(*args, **kw)
    )
    with app.test_request_context():
        for _ in range(3):
            with force_locale("da"):
                assert templating.money(37_500_050) == "375.000,50 kr."
                assert templating.money(None) == "0 kr."
            with force_locale("en"):
                assert templating.money(37_500_050) == "DKK 375,000.50"
    assert sorted(calls) == ["da", "da", "en"]


def test_a_days_hours_say_kl_once(app):
    """ "kl. 09.00–15.30", not "kl. 09.00–kl. 15.30" (pages, mails, calendars and the sign-in sheet share it)."""
    from datetime import time

    from app.core.templating import time_range

    with app.test_request_context():
        with force_locale("da"):
            assert time_range(time(9), time(15, 30)) == "kl. 09.00–15.30"
        with force_locale("en"):
            assert time_range(time(9), time(15, 30)) == "09:00–15:30"


def test_the_locale_is_named_once_per_request_and_follows_force_locale(app, monkeypatch):
    """The date and time filters ask for the language on every call, ~860 times on a run list (issue 22): the
    Locale is turned into its name once per request, and force_locale (a mail in the recipient's language,
    rendered in someone else's request) still switches it and switches back."""
    from datetime import time

    from babel.core import Locale

    from app.core.templating import clock_time, time_range

    names = []
    real = Locale.__str__
    monkeypatch.setattr(Locale, "__str__", lambda self: names.append(self.language) or real(self))
    with app.test_request_context(headers={"Accept-Language": "da"}):
        for _ in range(50):
            assert dk_date(date(2026, 12, 7), "medium") == "7. dec. 2026"
            assert time_range(time(9), time(15, 30)) == "kl. 09.00–15.30"
        with force_locale("en"):
            assert dk_date(date(2026, 12, 7), "medium") == "7 Dec 2026"
            assert clock_time(time(9)) == "09:00"
        assert dk_date(date(2026, 12, 7), "medium") == "7. dec. 2026"
        assert clock_time(time(9)) == "09.00"
    assert len(names) <= 10, names  # a few (Babel names it too when it formats), not ~250 (one per call)


def test_python_gettext_is_flask_babels_looked_up_once(app, monkeypatch):
    """app.core.i18n.gettext (the dashboard's charts, ~70 texts a page; issue 22) says what Flask-Babel's
    gettext says, in the request's language or a forced one, and asks Flask-Babel for the translations a
    few times per request (once per locale), not once per text."""
    import flask_babel

    from app.core import i18n

    lookups = []
    real = flask_babel.Domain.get_translations
    monkeypatch.setattr(flask_babel.Domain, "get_translations", lambda self: lookups.append(None) or real(self))
    with app.test_request_context(headers={"Accept-Language": "da"}):
        for _ in range(30):
            assert i18n.gettext("Mødt") == "Mødt"
            assert i18n.gettext("Frist %(date)s", date="7. dec. 2026") == "Frist 7. dec. 2026"
            assert i18n.gettext("100%% sikkert") == "100%% sikkert"  # no variables: not %-formatted, as Flask-Babel
        with force_locale("en"):
            assert i18n.gettext("Mødt") == "Present"
            assert i18n.gettext("Frist %(date)s", date="7 Dec 2026") == "Deadline 7 Dec 2026"
        assert i18n.gettext("Mødt") == "Mødt"
    assert len(lookups) <= 4, len(lookups)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert i18n.gettext("Frist %(date)s", date="x") == flask_babel.gettext("Frist %(date)s", date="x")


def test_lazy_texts_are_flask_babels_looked_up_once(app, monkeypatch):
    """The lazy texts of forms, enums and the navigation (app.core.i18n._l; ~140 on a run list, issue 22) read
    as Flask-Babel's lazy_gettext would, in the language of the moment they are shown — also outside a request
    — and ask Flask-Babel for the translations once per locale, not once per text shown."""
    import flask_babel
    from flask_babel.speaklater import LazyString

    from app.core.i18n import _l

    present, numbered = _l("Mødt"), _l("%(n)s. undervisningsdag", n=2)
    assert isinstance(present, LazyString)
    with app.app_context():
        assert str(present) == str(flask_babel.lazy_gettext("Mødt"))
    lookups = []
    real = flask_babel.Domain.get_translations
    monkeypatch.setattr(flask_babel.Domain, "get_translations", lambda self: lookups.append(None) or real(self))
    with app.test_request_context(headers={"Accept-Language": "da"}):
        for _ in range(50):
            assert str(present) == "Mødt"
            assert f"{numbered}" == "2. undervisningsdag"
        with force_locale("en"):
            assert str(present) == "Present"
            assert str(numbered) == "Teaching day 2"
    assert len(lookups) <= 4, len(lookups)


def test_the_locale_is_chosen_when_a_forced_one_ends_before_any_was_chosen(app):
    """A mail in the recipient's language sent before the page chose its own (force_locale() then puts back
    None): the page's dates are still in the request's language, never Babel's "unknown locale 'None'"."""
    moment = datetime(2026, 12, 7, 12, 35, tzinfo=UTC)
    with app.test_request_context(headers={"Accept-Language": "da"}):
        with force_locale("en"):
            assert dk_datetime(moment, "time") == "13:35"
        assert dk_datetime(moment, "time") == "kl. 13.35"
        assert dk_date(date(2026, 12, 7), "medium") == "7. dec. 2026"
