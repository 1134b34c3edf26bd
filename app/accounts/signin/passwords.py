"""The password policy: applied wherever a password is *set* (account page, reset, invitation, the
coordinator's user form, `flask users create`), never when logging in.

- at least PASSWORD_MIN_LENGTH characters (config, 12 by default) and at most PASSWORD_MAX_LENGTH (128);
  any characters, spaces included (passphrases are welcome), no composition rules (ASVS 5.0 V6.2);
- not guessable: zxcvbn (offline, ships its own lists of common passwords, names and words) must score it
  at least PASSWORD_MIN_SCORE (config, 3 of 0-4), with the user's own name and email as extra words to
  look for, so "Sara Sagsbehandler 2024" is refused for Sara.

The messages are Danish msgids (translated per request) meant to be shown next to the password field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import current_app, has_app_context
from flask_babel import gettext as _
from zxcvbn import zxcvbn

from app.core.exceptions import ValidationFailed
from app.core.validators import too_long_message

DEFAULT_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
DEFAULT_MIN_SCORE = 3
#: zxcvbn refuses more than 72 characters (its running time grows with the length): the first 72 decide.
_ZXCVBN_MAX_INPUT = 72
#: Words everybody here would try first.
_SITE_WORDS = ("kursusportalen", "kursus", "kommune", "københavn", "kobenhavn", "socialforvaltningen")


def min_length() -> int:
    return (
        int(current_app.config.get("PASSWORD_MIN_LENGTH", DEFAULT_MIN_LENGTH))
        if has_app_context()
        else (DEFAULT_MIN_LENGTH)
    )


def min_score() -> int:
    return (
        int(current_app.config.get("PASSWORD_MIN_SCORE", DEFAULT_MIN_SCORE))
        if has_app_context()
        else (DEFAULT_MIN_SCORE)
    )


def user_inputs(name: str | None = None, email: str | None = None) -> list[str]:
    """The words of a user's name and email (local part and domain pieces) that zxcvbn should penalise."""
    words: list[str] = []
    for text in (name, email):
        if text:
            words.append(text.lower())
            words.extend(part for part in re.split(r"[\s@._+-]+", text.lower()) if len(part) >= 3)
            words.append(re.sub(r"[\s._+-]+", "", text.lower().split("@")[0]))  # "nina.ny" -> "ninany"
    if has_app_context():
        municipality = current_app.config.get("MUNICIPALITY_NAME") or ""
        words.extend(part for part in municipality.lower().split() if len(part) >= 3)
    words.extend(_SITE_WORDS)
    return list(dict.fromkeys(words))


def password_problems(password: str | None, *, inputs: Iterable[str] = ()) -> list[str]:
    """What is wrong with `password` as a new password, in Danish; empty when it is acceptable."""
    password = password or ""
    if not password:
        return [_("Skriv en adgangskode.")]
    if not password.strip():
        return [_("Adgangskoden må ikke kun bestå af mellemrum.")]
    minimum = min_length()
    if len(password) < minimum:
        return [_("Adgangskoden skal være på mindst %(min)s tegn.", min=minimum)]
    if len(password) > PASSWORD_MAX_LENGTH:
        return [too_long_message(PASSWORD_MAX_LENGTH)]
    result = zxcvbn(password[:_ZXCVBN_MAX_INPUT], user_inputs=list(inputs))
    if result["score"] >= min_score():
        return []
    return [_("Adgangskoden er for let at gætte."), _hint(result)]


def _hint(result: dict) -> str:
    """A Danish hint in place of zxcvbn's English feedback, chosen from what made the password weak."""
    patterns = {match.get("pattern") for match in result.get("sequence", [])}
    dictionary_names = {match.get("dictionary_name") for match in result.get("sequence", [])}
    warning = (result.get("feedback") or {}).get("warning") or ""
    if "user_inputs" in dictionary_names:
        return _("Den må ikke indeholde dit navn, din e-mailadresse eller ord som Kursusportalen.")
    if "common" in warning.lower() or "passwords" in dictionary_names:
        return _("Den er blandt de mest brugte adgangskoder. Vælg noget, andre ikke ville gætte.")
    if "repeat" in patterns or "sequence" in patterns:
        return _("Undgå gentagelser og rækkefølger som aaa, abc og 1234.")
    if "date" in patterns or "regex" in patterns:
        return _("Undgå årstal og datoer – de er lette at gætte.")
    if "spatial" in patterns:
        return _("Undgå tastaturmønstre som qwerty og asdf.")
    return _("Brug f.eks. tre eller fire tilfældige ord med mellemrum eller bindestreg imellem.")


def check_new_password(
    password: str | None,
    *,
    name: str | None = None,
    email: str | None = None,
    field: str = "password",
) -> str:
    """`password` if it meets the policy. :raises ValidationFailed: the problems, under `field`."""
    problems = password_problems(password, inputs=user_inputs(name, email))
    if problems:
        raise ValidationFailed({field: problems})
    return password  # type: ignore[return-value]


def policy_description() -> str:
    """The one-line rule shown under every new-password field."""
    return _(
        "Mindst %(min)s tegn. Brug gerne en sætning eller flere ord – undgå dit navn og almindelige adgangskoder.",
        min=min_length(),
    )
