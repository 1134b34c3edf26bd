"""Validators shared by every domain's forms; first of all: no citizens' CPR numbers in free text.

The portal is about courses for staff, never about citizens, but staff write free text (a practice case,
feedback, notes) about their work with families. A Danish CPR number (personnummer) is the clearest sign
that a citizen's personal data is about to be stored, so such text is refused with a message next to the
field, and every field with the validator shows a standing hint (the forms macro reads the field flag
`no_personal_data` that the validator sets).

What counts as a plausible CPR number: DDMMYY followed by four digits, written together, with one dash
or one space between the two parts (`010180-1234`, `010180 1234`, `0101801234`); DDMMYY must be a real
date in the century that the seventh digit gives (CPR's own rule, so 29 February is checked properly);
and the ten digits must not be part of a longer run of digits (an account or order number). The modulus
11 check is *not* applied: numbers issued since 2007 need not satisfy it.
"""

from __future__ import annotations

import re
from datetime import date

from wtforms.validators import ValidationError

from app.core.i18n import _l

#: Six digits, an optional single dash (ASCII or Unicode hyphen/dashes) or space, four digits; no digit on either side.
CPR_CANDIDATE_RE = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})[-\u2010\u2011\u2012\u2013\u2014 \u00a0]?(\d{4})(?!\d)")

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


def find_cpr_numbers(text: str | None) -> list[str]:
    """Every plausible CPR number in `text`, as written there."""
    if not text:
        return []
    return [match.group(0) for match in CPR_CANDIDATE_RE.finditer(text) if _is_plausible(*match.groups())]


def contains_cpr_number(text: str | None) -> bool:
    return bool(find_cpr_numbers(text))


class NoCprNumber:
    """WTForms validator: refuse text that contains a plausible CPR number (see the module docstring).

    Sets the field flag `no_personal_data`: the forms macro then shows the standing hint "Skriv ikke navne,
    CPR-numre eller andre oplysninger om borgere." under the field.
    """

    field_flags = {"no_personal_data": True}

    def __init__(self, message=None):
        self.message = message

    def __call__(self, form, field) -> None:
        data = field.data
        if isinstance(data, str) and contains_cpr_number(data):
            raise ValidationError(self.message or CPR_MESSAGE)


#: The validator instance to put on a field: `validators=[..., no_cpr_number]`.
no_cpr_number = NoCprNumber()
