"""WTForms' and Flask-WTF's built-in messages in the user's language (app/core/form_messages.py): Danish on the
Danish pages, English on the English ones - never WTForms' English on a Danish page."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
import wtforms
from babel.messages.pofile import read_po
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import fields as wtf_fields

import app as app_package
from app.core.form_messages import MESSAGES, PLURAL_MESSAGES
from tests.conftest import csrf_token_from, post_form

WTFORMS_POT = Path(wtforms.__file__).parent / "locale" / "wtforms.pot"
#: Flask-WTF's own messages (flask_wtf/file.py), which wtforms.pot does not hold.
FLASK_WTF_MESSAGES = (
    "File does not have an approved extension: {extensions}",
    "File does not have an approved extension.",
)


def _wtforms_messages() -> list[str | tuple[str, str]]:
    with open(WTFORMS_POT, "rb") as pot:
        return [message.id for message in read_po(pot) if message.id]


def _english_patterns() -> list[re.Pattern]:
    """Every built-in English message (either plural form) as a pattern: placeholders match anything."""
    texts: list[str] = list(FLASK_WTF_MESSAGES)
    for message in _wtforms_messages():
        texts.extend(message if isinstance(message, tuple) else (message,))
    placeholder = re.compile(r"%\(\w+\)[sd]|%s|\{\w+\}")
    return [re.compile(".+".join(re.escape(part) for part in placeholder.split(text))) for text in texts]


ENGLISH = _english_patterns()


def _is_wtforms_english(message: str) -> bool:
    return any(pattern.fullmatch(message) for pattern in ENGLISH)


def test_every_built_in_message_has_a_danish_text():
    """A WTForms upgrade that adds a message fails here until the message has its Danish text."""
    missing = [
        message
        for message in _wtforms_messages()
        if (message[0] not in PLURAL_MESSAGES if isinstance(message, tuple) else message not in MESSAGES)
    ]
    missing += [message for message in FLASK_WTF_MESSAGES if message not in MESSAGES]
    assert not missing


# --- over HTTP ------------------------------------------------------------------------------------------------


def test_the_danish_login_page_says_too_long_in_danish(client):
    response = post_form(client, "/login", {"email": "a" * 250 + "@b.dk", "password": "p" * 201})
    page = response.get_data(as_text=True)
    assert "Skriv højst 254 tegn." in page and "Skriv højst 200 tegn." in page
    assert "Field cannot be longer" not in page


def test_the_english_login_page_says_too_long_in_english(client):
    english = {"headers": {"Accept-Language": "en"}}
    page_html = client.get("/login", **english).get_data(as_text=True)
    response = client.post(
        "/login",
        data={"csrf_token": csrf_token_from(page_html), "email": "a" * 250 + "@b.dk", "password": "p" * 201},
        **english,
    )
    page = response.get_data(as_text=True)
    assert "Enter at most 254 characters." in page
    assert "Enter at most 200 characters." in page
    assert "Skriv højst" not in page


def test_the_password_reset_request_says_too_long_in_danish(client):
    page = post_form(client, "/password/forgot", {"email": "a" * 300}).get_data(as_text=True)
    assert "Skriv højst 254 tegn." in page and "Field cannot" not in page


def test_a_filter_field_that_is_not_a_number_says_so_in_danish_and_english(client, coordinator, login_as):
    login_as(coordinator)
    danish = client.get("/audit?subject_id=abc").get_data(as_text=True)
    assert "Skriv et helt tal." in danish and "Not a valid integer value." not in danish
    english = client.get("/audit?subject_id=abc", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Not a valid integer value." in english and "Skriv et helt tal." not in english


def test_a_length_limit_is_said_one_way_with_the_number_in_the_page_language(client, coordinator, login_as):
    """MaxLength: one message for every form, the limit written as the language writes numbers."""
    login_as(coordinator)
    for language, expected in (("da", "Skriv højst 5.000 tegn."), ("en", "Enter at most 5,000 characters.")):
        headers = {"Accept-Language": language}
        form = client.get("/programmes/new", headers=headers).get_data(as_text=True)
        data = {"csrf_token": csrf_token_from(form), "name": "Et navn", "description": "x" * 5001}
        page = client.post("/programmes/new", data=data, headers=headers).get_data(as_text=True)
        assert expected in page


# --- every form of the app ------------------------------------------------------------------------------------


def _all_forms() -> list[type[FlaskForm]]:
    for module in pkgutil.walk_packages(app_package.__path__, "app."):
        if module.name.endswith("forms"):
            importlib.import_module(module.name)
    found, todo = set(), list(FlaskForm.__subclasses__())
    while todo:
        form = todo.pop()
        if form not in found:
            found.add(form)
            todo.extend(form.__subclasses__())
    return sorted(found, key=lambda form: f"{form.__module__}.{form.__qualname__}")


def _bad_values(form: FlaskForm, kind: str) -> MultiDict:
    """Input that trips the validators: nothing at all, text where a number/date/choice belongs and far too
    long text, or numbers far out of any range."""
    data = MultiDict()
    for field in form:
        if field.type in {"CSRFTokenField", "FileField", "MultipleFileField", "SubmitField"}:
            continue
        if kind == "empty":
            data.add(field.name, "")
        elif kind == "garbage":
            data.add(field.name, "æøå-" + "x" * 100_000)
        else:
            data.add(field.name, "-99999999999999")
            data.add(field.name, "99999999999999")
    return data


@pytest.mark.parametrize("language", ["da", "en"])
def test_no_form_of_the_app_shows_wtforms_english_on_a_danish_page(app, language):
    """Every form, with empty, garbage and out-of-range input, in a request of each language: in Danish no
    error is one of WTForms' English messages; in English the built-in ones are WTForms' English."""
    forms = _all_forms()
    assert len(forms) > 25, "the forms were found"
    english_seen: set[str] = set()
    for form_class in forms:
        for kind in ("empty", "garbage", "range"):
            with app.test_request_context("/", method="POST", headers={"Accept-Language": language}):
                app.preprocess_request()  # the before_request hooks, as a real request runs them
                form = form_class(meta={"csrf": False}, formdata=MultiDict())
                for field in form:
                    if isinstance(field, wtf_fields.SelectFieldBase) and getattr(field, "choices", None) is None:
                        field.choices = [("a", "A")]
                form.process(_bad_values(form, kind))
                try:
                    form.validate()
                except (TypeError, ValueError):  # a field the view would have configured first
                    continue
                messages = [str(m) for errors in form.errors.values() for m in errors if isinstance(m, str)]
                if language == "da":
                    english = [m for m in messages if _is_wtforms_english(m)]
                    assert not english, f"{form_class.__qualname__} ({kind}): {english}"
                else:
                    english_seen.update(m for m in messages if _is_wtforms_english(m))
    if language == "en":
        assert english_seen, "the English pass met WTForms' own messages (e.g. Field cannot be longer ...)"
