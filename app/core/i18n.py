"""Locale and time-zone selection for Flask-Babel, the templates' gettext, and lazy-gettext re-exports."""

from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_babel import get_locale, get_translations
from flask_babel.speaklater import LazyString
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

LANG_COOKIE = "lang"


def select_locale() -> str:
    """User's saved choice, then the language cookie, then Accept-Language, then Danish."""
    languages = current_app.config["LANGUAGES"]
    try:
        user_locale = getattr(current_user, "locale", None) if current_user else None
    except Exception:  # outside a request (CLI, scheduler): no current user
        user_locale = None
    if isinstance(user_locale, str) and user_locale in languages:
        return user_locale
    if request:
        cookie = request.cookies.get(LANG_COOKIE)
        if cookie is not None and cookie in languages:
            return cookie
        best = request.accept_languages.best_match(languages)
        if best:
            return best
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["TIMEZONE"]


def current_translations():
    """Flask-Babel's translations for the current locale, looked up once per locale and request.

    `flask_babel.get_translations()` walks the context, the domain and `str(locale)` on every call: 25 µs,
    and a run page with 100 participants makes a thousand calls from its templates (a third of its time,
    issue 9). The result is kept on Flask-Babel's own per-context namespace together with the Locale
    object it was made for, and is used only while that very object is the context's locale:
    `force_locale()` (mails in the recipient's language) swaps the object and `refresh()` removes it.
    """
    try:
        namespace = g._flask_babel
        locale = namespace.babel_locale
    except (AttributeError, RuntimeError):  # no locale chosen yet in this context, or no context at all
        return get_translations()
    cached = namespace.__dict__.get("kp_translations")
    if cached is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()
    namespace.kp_translations = (locale, translations)
    return translations


def locale_name() -> str:
    """`str(get_locale())` ("da", "en"), looked up once per locale and request.

    The date, time and money filters ask for it on every call — ~860 times on a run list — and each
    `get_locale()` goes through three context-local proxies and then `str()` builds the identifier from the
    Locale's parts (issue 22). The name is kept on Flask-Babel's per-context namespace beside the Locale object
    it was made from and used only while that very object is the context's locale, as `current_translations()`
    does (`force_locale()` swaps the object, `refresh()` removes it)."""
    try:
        namespace = g._flask_babel
        locale = namespace.babel_locale
    except (AttributeError, RuntimeError):  # no locale chosen yet in this context, or no context at all
        return str(get_locale())
    if locale is None:  # reset (force_locale() restores an unchosen locale as None): Flask-Babel chooses it
        return str(get_locale())
    cached = namespace.__dict__.get("kp_locale_name")
    if cached is not None and cached[0] is locale:
        return cached[1]
    name = str(locale)
    namespace.kp_locale_name = (locale, name)
    return name


def gettext(string: str, **variables) -> str:
    """Flask-Babel's `gettext` for Python code (the same text: translated, then %-formatted only with
    variables) through `current_translations()`: Flask-Babel's own looks the translations up again on every
    call, ~25 µs; the dashboard's charts make ~70 calls a page (issue 22)."""
    text = current_translations().ugettext(string)
    return text % variables if variables else text


def lazy_gettext(string: str, **variables) -> LazyString:
    """Flask-Babel's `lazy_gettext` (the same LazyString, translated each time it is shown, in the language of
    that moment), translating through `gettext` above: enum labels, form labels and navigation are shown
    ~140 times on a run list, each a fresh look-up of the translations through Flask-Babel (issue 22)."""
    return LazyString(gettext, string, **variables)


#: The name forms, models and enums import (`pybabel extract -k _l`).
_l = lazy_gettext


def _format(context, text: str, variables: dict):
    """Jinja's newstyle rule: escape-aware, and always a %-format (so "%%" means "%"), even without variables."""
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 (our own catalogue, as jinja2.ext marks it safe)
    if not variables and "%" not in text:
        return text  # what `text % {}` would give, without the formatting machinery
    return text % variables


@pass_context
def _template_gettext(context, string: str, **variables):
    return _format(context, current_translations().ugettext(string), variables)


@pass_context
def _template_ngettext(context, singular: str, plural: str, num: int, **variables):
    variables.setdefault("num", num)
    return _format(context, current_translations().ungettext(singular, plural, num), variables)


@pass_context
def _template_pgettext(context, string_context: str, string: str, **variables):
    variables.setdefault("context", string_context)
    return _format(context, current_translations().upgettext(string_context, string), variables)


@pass_context
def _template_npgettext(context, string_context: str, singular: str, plural: str, num: int, **variables):
    variables.setdefault("context", string_context)
    variables.setdefault("num", num)
    return _format(context, current_translations().unpgettext(string_context, singular, plural, num), variables)


def install_template_gettext(app: Flask) -> None:
    """The templates' _(), gettext(), ngettext(), pgettext() and npgettext(), replacing what Flask-Babel's
    init_app installed: the same newstyle behaviour as jinja2.ext's (escaping, %-formatting, `num` and
    `context` variables), without its two extra `Context.call`s per call and with current_translations().
    Together 10 µs less per call, a thousand calls on a run page of 100 participants (issue 9)."""
    app.jinja_env.globals.update(
        _=_template_gettext,
        gettext=_template_gettext,
        ngettext=_template_ngettext,
        pgettext=_template_pgettext,
        npgettext=_template_npgettext,
    )
