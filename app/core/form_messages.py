"""WTForms' and Flask-WTF's built-in messages in the user's language ("Feltet må højst ..." not "Field cannot be
longer than 254 characters" on the Danish login page).

WTForms ships no Danish catalogue, so Flask-WTF (which asks WTForms' own catalogues in the request's locale)
answered Danish users in English wherever a validator has no message of its own. Here every built-in message
(WTForms' `wtforms.pot` and Flask-WTF's file validators) has a Danish text, marked for our catalogue as any
other user-facing text; translations/en gives the English back, word for word as WTForms writes it.
`FormTranslations` hands them to Flask-WTF: Flask-WTF looks for a translations object on the request
(`request.wtforms_translations`, its per-request cache) before loading WTForms' own, and `init_app` puts ours
there at the start of every request. tests/test_form_messages.py checks that every message WTForms has is here.

Messages stay templates: WTForms fills in %(min)d, %(max)d, %(values)s ... after translating, so the Danish
texts keep the placeholders.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request

from app.core.i18n import _l, current_translations

#: WTForms' message (its msgid) -> the Danish text (our msgid).
MESSAGES = {
    "Invalid field name '%s'.": _l("Ugyldigt feltnavn '%s'."),
    "Field must be equal to %(other_name)s.": _l("Feltet skal være det samme som %(other_name)s."),
    "Field must be between %(min)d and %(max)d characters long.": _l("Skriv mellem %(min)d og %(max)d tegn."),
    "Number must be at least %(min)s.": _l("Tallet skal være mindst %(min)s."),
    "Number must be at most %(max)s.": _l("Tallet må højst være %(max)s."),
    "Number must be between %(min)s and %(max)s.": _l("Tallet skal være mellem %(min)s og %(max)s."),
    "Date must be at least %(min)s.": _l("Datoen må tidligst være %(min)s."),
    "Date must be at most %(max)s.": _l("Datoen må senest være %(max)s."),
    "Date must be between %(min)s and %(max)s.": _l("Datoen skal ligge mellem %(min)s og %(max)s."),
    "This field is required.": _l("Feltet skal udfyldes."),
    "Invalid input.": _l("Feltets indhold er ikke gyldigt."),
    "Invalid email address.": _l("Skriv en gyldig e-mailadresse."),
    "Invalid IP address.": _l("Skriv en gyldig IP-adresse."),
    "Invalid Mac address.": _l("Skriv en gyldig MAC-adresse."),
    "Invalid URL.": _l("Skriv en gyldig webadresse."),
    "Invalid UUID.": _l("Skriv et gyldigt UUID."),
    "Invalid value, must be one of: %(values)s.": _l("Ugyldig værdi. Vælg en af: %(values)s."),
    "Invalid value, can't be any of: %(values)s.": _l("Ugyldig værdi. Værdien må ikke være en af: %(values)s."),
    "This field cannot be edited.": _l("Feltet kan ikke ændres."),
    "This field is disabled and cannot have a value.": _l("Feltet er slået fra og kan ikke have en værdi."),
    "Invalid CSRF Token.": _l("Formularen er udløbet. Prøv igen."),
    "CSRF token missing.": _l("Formularen er udløbet. Prøv igen."),
    "CSRF failed.": _l("Formularen er udløbet. Prøv igen."),
    "CSRF token expired.": _l("Formularen er udløbet. Prøv igen."),
    "Invalid Choice: could not coerce.": _l("Vælg en af mulighederne på listen."),
    "Choices cannot be None.": _l("Feltet har ingen valgmuligheder."),
    "Not a valid choice.": _l("Vælg en af mulighederne på listen."),
    "Invalid choice(s): one or more data inputs could not be coerced.": _l("Vælg kun blandt mulighederne på listen."),
    "Not a valid datetime value.": _l("Skriv et gyldigt tidspunkt."),
    "Not a valid date value.": _l("Skriv en gyldig dato."),
    "Not a valid time value.": _l("Skriv et gyldigt klokkeslæt."),
    "Not a valid week value.": _l("Skriv en gyldig uge."),
    "Not a valid integer value.": _l("Skriv et helt tal."),
    "Not a valid decimal value.": _l("Skriv et tal."),
    "Not a valid float value.": _l("Skriv et tal."),
    # Flask-WTF's file validators (flask_wtf/file.py); FileSize's message is made with the sizes in it before
    # it is translated, so it cannot be looked up: give FileSize a message of its own where it is used.
    "File does not have an approved extension: {extensions}": _l("Filen skal være af typen: {extensions}"),
    "File does not have an approved extension.": _l("Filen er ikke af en tilladt type."),
}

#: WTForms' plural messages (its singular msgid) -> the Danish singular and plural, in the request's language.
PLURAL_MESSAGES: dict[str, Callable[[int], str]] = {
    "Field must be at least %(min)d character long.": lambda n: current_translations().ungettext(
        "Skriv mindst %(min)d tegn.", "Skriv mindst %(min)d tegn.", n
    ),
    "Field cannot be longer than %(max)d character.": lambda n: current_translations().ungettext(
        "Skriv højst %(max)d tegn.", "Skriv højst %(max)d tegn.", n
    ),
    "Field must be exactly %(max)d character long.": lambda n: current_translations().ungettext(
        "Skriv præcis %(max)d tegn.", "Skriv præcis %(max)d tegn.", n
    ),
    "'%(value)s' is not a valid choice for this field.": lambda n: current_translations().ungettext(
        "'%(value)s' er ikke en af mulighederne på listen.", "'%(value)s' er ikke blandt mulighederne på listen.", n
    ),
}


class FormTranslations:
    """The translations object Flask-WTF asks (`ugettext`, `ungettext`): WTForms' English message in, the
    message in the request's language out. A message not in the tables is returned as WTForms wrote it."""

    def ugettext(self, string: str) -> str:
        danish = MESSAGES.get(string)
        return string if danish is None else str(danish)

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        translate = PLURAL_MESSAGES.get(singular)
        if translate is None:
            return singular if n == 1 else plural
        return translate(n)


FORM_TRANSLATIONS = FormTranslations()


def init_app(app: Flask) -> None:
    """Every request's forms speak its language (see the module docstring)."""

    @app.before_request
    def _form_translations() -> None:
        request.wtforms_translations = FORM_TRANSLATIONS  # type: ignore[attr-defined]
