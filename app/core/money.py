"""Amounts: integers of øre (1/100 DKK) in the database, never floats; and how a typed amount is read.

Reading a typed amount (`parse_kroner`) — the rule, in both UI languages (docs/technical-notes.md#amounts):

- Danish writes "375.000,50" ("." groups thousands, "," is the decimal mark); English writes "375,000.50".
  Each language's own way is always read: in Danish "1.000" is a thousand kroner, in English "1,000" is.
- White space, a trailing "kr."/"kr"/",-"/".-" and a leading or trailing "DKK" are ignored.
- Where both marks appear, the last one is the decimal mark and the other must group thousands
  properly ("1.000,50" and "1,000.50" are both 1000.50 in either language).
- A lone mark followed by one, two, four or more digits can only be a decimal mark ("12.5" and "12,5" are
  12.50 in either language); several of the same mark can only group thousands ("1.000.000").
- **Ambiguous**: a lone mark that is the *other* language's thousands separator followed by exactly three
  digits, after one to three digits — "1,000" in Danish, "1.000" in English. It means a thousand to
  somebody used to the other convention and one krone to somebody used to this one; guessing wrong
  silently changes an amount by a factor of a thousand, so it is refused with `AmbiguousAmount`, whose
  message shows both ways of writing what the user may have meant.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

#: (thousands separator, decimal mark) per UI language; Danish for anything else.
SEPARATORS = {"da": (".", ","), "en": (",", ".")}

_NOISE = re.compile(r"(?i)^dkk|(?:kr\.?|dkk|[.,]-)$")
_WHITESPACE = re.compile(r"[\s\u00a0\u202f]+")


class InvalidAmount(ValueError):
    """The text is not an amount in any convention."""


class AmbiguousAmount(InvalidAmount):
    """The text is an amount in both conventions, with values a thousand apart."""

    def __init__(self, text: str, as_thousands: Decimal, as_decimal: Decimal):
        super().__init__(text)
        self.text = text
        self.as_thousands = as_thousands
        self.as_decimal = as_decimal


def kroner_to_ore(amount: Decimal | int | str) -> int:
    return int((Decimal(str(amount)) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def ore_to_kroner(ore: int | None) -> Decimal:
    return (Decimal(ore or 0) / 100).quantize(Decimal("0.01"))


def _grouped(integer: str, group: str) -> str | None:
    """'1.250.000' -> '1250000' when `integer` groups thousands with `group` properly, else None."""
    if re.fullmatch(rf"\d{{1,3}}({re.escape(group)}\d{{3}})*", integer):
        return integer.replace(group, "")
    return None


def parse_kroner(text: str, language: str = "da") -> Decimal | None:
    """The amount typed as `text` in the UI `language`; None for blank input.

    Raises `AmbiguousAmount` or `InvalidAmount` (see the module's rule). More than two decimals are
    returned as typed: whether øre suffice is the form's rule, with its own message.
    """
    group, mark = SEPARATORS.get(language, SEPARATORS["da"])
    cleaned = _NOISE.sub("", _WHITESPACE.sub("", text or ""))
    if cleaned == "":
        return None
    sign, body = ("-", cleaned[1:]) if cleaned[:1] in "-\u2212" else ("", cleaned)
    if "." in body and "," in body:
        decimal_mark = "." if body.rfind(".") > body.rfind(",") else ","
        integer, _sep, fraction = body.rpartition(decimal_mark)
        grouped = _grouped(integer, "," if decimal_mark == "." else ".")
        if grouped is None or not fraction.isdigit():
            raise InvalidAmount(text)
        number = f"{grouped}.{fraction}"
    elif "." in body or "," in body:
        separator = "." if "." in body else ","
        if body.count(separator) > 1:
            grouped = _grouped(body, separator)
            if grouped is None:
                raise InvalidAmount(text)
            number = grouped
        else:
            integer, _sep, fraction = body.partition(separator)
            if not (integer.isdigit() and fraction.isdigit()):
                raise InvalidAmount(text)
            if len(fraction) != 3 or len(integer) > 3 or integer.startswith("0"):
                number = f"{integer}.{fraction}"  # cannot be a thousands group
            elif separator == group:
                number = integer + fraction  # this language's own thousands separator
            else:
                raise AmbiguousAmount(text, Decimal(sign + integer + fraction), Decimal(f"{sign}{integer}.{fraction}"))
    else:
        number = body
    if not re.fullmatch(r"\d+(\.\d+)?", number):
        raise InvalidAmount(text)
    return Decimal(sign + number)


def format_kroner_input(amount: Decimal, language: str = "da") -> str:
    """An amount as the user would type it back: no grouping, the language's decimal mark, øre if any."""
    _group, mark = SEPARATORS.get(language, SEPARATORS["da"])
    value = Decimal(amount)
    text = str(value.to_integral()) if value == value.to_integral() else f"{value:.2f}"
    return text.replace(".", mark)


def format_kroner_grouped(amount: Decimal, language: str = "da", places: int = 0) -> str:
    """'1.000' / '1,000' (places=0) or '1,00' / '1.00' (places=2): for messages that show an amount."""
    group, mark = SEPARATORS.get(language, SEPARATORS["da"])
    text = f"{Decimal(amount):,.{places}f}"  # Python's own: "," groups, "." marks
    return text.translate(str.maketrans(",.", group + mark))  # one character each
