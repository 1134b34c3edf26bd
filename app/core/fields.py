"""Form pieces every domain's forms use: filters, select helpers, the date formats and the amount field.

One home for each: the forms import them from here (they were copied into four forms modules once, and the
two copies of the amount field read "1,000" differently).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from flask_babel import get_locale
from wtforms import DecimalField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import TextInput

from app.core.i18n import _l
from app.core.money import AmbiguousAmount, InvalidAmount, format_kroner_grouped, format_kroner_input, parse_kroner

#: <input type="date"> sends ISO; the Danish ways of writing a date are accepted from browsers without a picker.
DATE_FORMATS = ["%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%Y"]
#: Holiday tables and the planning horizon make sense for these years only; dates outside are typing
#: accidents (and year 9999 + 3 months does not exist).
MIN_YEAR, MAX_YEAR = 2000, 2100


def strip(value):
    """Filter: trim surrounding white space from text input."""
    return value.strip() if isinstance(value, str) else value


def none_if_empty(value):
    """Filter: an empty optional text is stored as NULL, not ''."""
    return value or None


def int_or_none(value) -> int | None:
    """Coerce a select's value to int; anything else (junk, the blank choice) becomes None."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def id_choices(blank_label, records: Iterable[tuple[int, str]]) -> list[SelectChoice]:
    """A blank choice, then one per (id, label) pair."""
    return [SelectChoice("", blank_label)] + [SelectChoice(str(record_id), label) for record_id, label in records]


def within_supported_years(form, field) -> None:
    """Validator: a date between MIN_YEAR and MAX_YEAR."""
    if field.data is not None and not MIN_YEAR <= field.data.year <= MAX_YEAR:
        raise ValidationError(_l("Datoen skal ligge mellem år %(min)s og %(max)s.", min=MIN_YEAR, max=MAX_YEAR))


def readable(form, field):
    """Stop the chain when the input could not be read: its own message is shown, not a range error too."""
    if field.process_errors:
        raise StopValidation()


def at_most_two_decimals(message):
    """Validator: amounts are stored in øre, so more than two decimals cannot be represented."""

    def check(form, field):
        if field.data is not None and field.data * 100 != (field.data * 100).to_integral_value():
            raise ValidationError(message)

    return check


def _language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "da"


def ambiguous_amount_message(error: AmbiguousAmount, language: str):
    """What the user may have meant, written both unambiguous ways in their language."""
    thousands = format_kroner_grouped(error.as_thousands, language)
    if error.as_decimal * 100 != (error.as_decimal * 100).to_integral_value():
        return _l(
            "Mener du %(thousands)s kr.? Skriv det som %(thousands)s – et beløb kan højst have to decimaler (øre).",
            thousands=thousands,
        )
    return _l(
        "Er det %(thousands)s kr. eller %(decimal)s kr.? Skriv beløbet som %(thousands)s eller %(decimal)s.",
        thousands=thousands,
        decimal=format_kroner_grouped(error.as_decimal, language, places=2),
    )


class KronerField(DecimalField):
    """An amount in kroner, typed the way of the UI language: Danish "375.000,50", English "375,000.50".

    The rule, ambiguous input included, is `app.core.money.parse_kroner`'s. Input that cannot be read gets
    `invalid_value_message` (or, when ambiguous, a message showing both readings), and the field's
    validators are then skipped, so no range error follows a reading error. A text input
    (inputmode=decimal): <input type="number"> would refuse "375.000".
    """

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("places", 2)
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = None
        text = valuelist[0] if isinstance(valuelist[0], str) else ""
        try:
            self.data = parse_kroner(text, _language())  # None for blank input: InputRequired reports it
        except AmbiguousAmount as error:
            raise ValueError(ambiguous_amount_message(error, _language())) from error
        except InvalidAmount as error:
            raise ValueError(self.invalid_value_message) from error

    def pre_validate(self, form):
        readable(form, self)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return format_kroner_input(Decimal(self.data), _language())
