"""Validators shared by every domain's forms; first of all: no CPR numbers in what users type.

The portal is about courses for staff, never about citizens, but staff write free text (a practice case,
feedback, notes) about their work with families, and coordinators type names, titles and places. A Danish
CPR number (personnummer) is the clearest sign that a citizen's (or a colleague's) personal data is about to
be stored, so such text is refused with a message next to the field. Fields for free text also show a
standing hint (the forms macro reads the field flag `no_personal_data` that `no_cpr_number` sets); fields
that name something (a title, a venue, a person, an e-mail address) carry `no_cpr_number_in_name`, the same
check without that hint.

What counts as a CPR number (docs/privacy.md, "The CPR guard"):

- the text is first normalised: Unicode NFKC (full-width ０１０２０３ become ASCII digits, a no-break space a
  space) and every invisible format character (category Cf: zero-width space and joiners, word joiner, BOM,
  soft hyphen) is dropped, so it is matched as it reads on screen;
- DDMMYY, the three pairs written together or apart, then four digits; between the parts any run of
  separators: white space (also line breaks and tabs), dots, slashes, hyphens and dashes
  (`010203-1234`, `01.02.03-1234`, `010203 - 1234`, `0102 03 1234`, `010203/1234`);
- not part of a longer number: no digit right before or after, nor a digit joined on by a dot, colon, slash
  or dash (`12.05.26 1400-1600` is a date and a time range, `1.234.567` an amount); and DD MM YY written
  apart must not follow another number across separators only (`20 30 01 02` + line break + `2300 København`
  is a phone number in pairs and a postcode);
- DDMMYY a real date in the century that the seventh digit gives (CPR's own rule, so 29 February is checked
  properly). The modulus 11 check is *not* applied: numbers issued since 2007 need not satisfy it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from flask_babel import format_number, gettext
from wtforms.validators import Length, ValidationError

from app.core.i18n import _l

#: What may stand between the parts of a CPR number, any number of them (after NFKC: a no-break space is a
#: space, a full-width hyphen a hyphen): white space incl. line breaks and tabs, dots, slashes, hyphens, dashes.
_SEPARATOR = r"[\s./\\\-\u2010-\u2015\u2212\u2043\u2e3a\u2e3b]"
#: What joins digits into one number when it stands between them without a space ("1400-1600", "12.30").
_JOINER = r"[.:/\\\-\u2010-\u2015\u2212]"

#: DD, MM and YY (each pair written together or with separators), separators, four digits; not inside a longer
#: number. Matched against the normalised text (`_normalise`); the groups are day, month, year and serial.
CPR_CANDIDATE_RE = re.compile(
    rf"(?<!\d)(?<!\d{_JOINER})(\d\d){_SEPARATOR}*(\d\d){_SEPARATOR}*(\d\d){_SEPARATOR}*(\d{{4}})(?!\d)(?!{_JOINER}\d)"
)

#: One separator character, for looking back across a run of them.
_SEPARATOR_CHAR = re.compile(_SEPARATOR)

CPR_MESSAGE = _l("Feltet ser ud til at indeholde et CPR-nummer. Skriv ikke borgeres personoplysninger her.")


def cpr_birth_year(yy: int, seventh_digit: int) -> int:
    """The year of birth from the two-digit year and the first digit of the serial number (CPR's table)."""
    if seventh_digit <= 3:
        return 1900 + yy
    if seventh_digit in (4, 9):
        return 2000 + yy if yy <= 36 else 1900 + yy
    # 5-8
    return 2000 + yy if yy <= 57 else 1800 + yy


def _is_plausible(day: str, month: str, year: str, serial: str) -> bool:
    try:
        date(cpr_birth_year(int(year), int(serial[0])), int(month), int(day))
    except ValueError:
        return False
    return True


def _normalise(text: str) -> tuple[str, list[int] | None]:
    """`text` as it reads: NFKC, without format characters (category Cf); and for each character of the result
    the index of the character of `text` it came from (None: the text is ASCII and stays as it is)."""
    if text.isascii():
        return text, None
    chars: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        # Character by character (the same as NFKC of the whole text for digits and separators), so every
        # character of the result knows where it was written.
        for normalised in unicodedata.normalize("NFKC", char) if char >= "\x80" else char:
            if unicodedata.category(normalised) != "Cf":
                chars.append(normalised)
                origins.append(index)
    return "".join(chars), origins


def _continues_pairs(normalised: str, match: re.Match) -> bool:
    """True for DD MM YY written apart that follow another number across separators only: the end of a phone
    number in pairs and a postcode or year (`20 30 01 02` + line break + `2300 København`), not a CPR number."""
    if match.end(1) == match.start(2) and match.end(2) == match.start(3):
        return False  # DDMMYY written together
    index = match.start() - 1
    while index >= 0 and _SEPARATOR_CHAR.fullmatch(normalised[index]):
        index -= 1
    return index >= 0 and index < match.start() - 1 and normalised[index].isdecimal()


def find_cpr_numbers(text: str | None) -> list[str]:
    """Every plausible CPR number in `text`, as written there (full-width digits, invisible characters and
    line breaks inside it included)."""
    if not text:
        return []
    normalised, origins = _normalise(text)
    found = []
    position = 0
    while (match := CPR_CANDIDATE_RE.search(normalised, position)) is not None:
        if not _is_plausible(*match.groups()) or _continues_pairs(normalised, match):
            position = match.start() + 1  # a shorter candidate may start inside this one
            continue
        start, end = match.span()
        found.append(text[origins[start] : origins[end - 1] + 1] if origins is not None else text[start:end])
        position = end
    return found


def contains_cpr_number(text: str | None) -> bool:
    return bool(find_cpr_numbers(text))


class NoCprNumber:
    """WTForms validator: refuse text that contains a plausible CPR number (see the module docstring).

    With `hint=True` it sets the field flag `no_personal_data`: the forms macro then shows the standing hint
    "Skriv ikke navne, CPR-numre eller andre oplysninger om borgere." under the field. Fields that name
    something (where that hint would read oddly under "Navn") use `hint=False`.
    """

    def __init__(self, message=None, *, hint: bool = True):
        self.message = message
        self.field_flags = {"no_personal_data": True} if hint else {}

    def __call__(self, form, field) -> None:
        data = field.data
        if isinstance(data, str) and contains_cpr_number(data):
            raise ValidationError(self.message or CPR_MESSAGE)


#: The validator for free text (descriptions, notes, the practice case, feedback, reasons):
#: `validators=[..., no_cpr_number]`. Shows the standing hint about citizens' data.
no_cpr_number = NoCprNumber()
#: The same check for fields that name something: a title, a venue, a person's or a unit's name, an e-mail
#: address or a phone number. No standing hint.
no_cpr_number_in_name = NoCprNumber(hint=False)


class MaxLength(Length):
    """At most `max` characters, with the one message every form uses for it: "Skriv højst 5.000 tegn."

    The number follows the UI language ("5.000" / "5,000") and always matches the limit, so no form writes the
    limit twice (once for WTForms, once in its own wording). `maxlength` is still set as a field flag, so the
    input shows the limit to the browser.
    """

    def __init__(self, max: int) -> None:  # noqa: A002 (WTForms' own name for it)
        super().__init__(max=max)

    def __call__(self, form, field) -> None:
        if field.data and len(field.data) > self.max:
            raise ValidationError(too_long_message(self.max))


def too_long_message(max: int) -> str:  # noqa: A002
    """The one message for text over its limit, next to the field, for forms and services alike."""
    return gettext("Skriv højst %(max)s tegn.", max=format_number(max))
