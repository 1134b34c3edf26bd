"""Locale and time-zone selection for Flask-Babel, and lazy-gettext re-exports."""
from __future__ import annotations

from flask import current_app, request
from flask_babel import lazy_gettext as _l  # noqa: F401  (re-exported for forms/models)
from flask_login import current_user

LANG_COOKIE = "lang"


def select_locale() -> str:
    """User's saved choice, then the language cookie, then Accept-Language, then Danish."""
    languages = current_app.config["LANGUAGES"]
    try:
        user_locale = getattr(current_user, "locale", None) if current_user else None
    except Exception:  # outside a request (CLI, scheduler): no current user
        user_locale = None
    if user_locale in languages:
        return user_locale
    if request:
        cookie = request.cookies.get(LANG_COOKIE)
        if cookie in languages:
            return cookie
        best = request.accept_languages.best_match(languages)
        if best:
            return best
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["TIMEZONE"]
