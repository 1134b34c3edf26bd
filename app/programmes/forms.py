"""Forms for programmes (indsatser) and their budget allocations (budgetrammer).

Also holds `KronerField`, the amount field that reads Danish number formats ("375.000", "375.000,50").
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import TextInput

from app.core.i18n import _l
from app.core.validators import no_cpr_number
from app.programmes.services import ProgrammeData

#: Dates arrive as ISO from <input type="date">; the Danish forms are accepted from browsers without a date picker.
DATE_FORMATS = ["%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%Y"]
#: Upper bound for amounts: keeps øre far inside a 64-bit integer and catches typing accidents.
MAX_KRONER = Decimal("1000000000")
MAX_TARGET = 100_000


def strip(value):
    """Form filter: trim surrounding white space from text input."""
    return value.strip() if isinstance(value, str) else value


def none_if_empty(value):
    """Form filter: an empty optional text is stored as NULL, not ''."""
    return value or None


def _int_or_none(value) -> int | None:
    """Coerce a select's value to int; anything else becomes None (and fails DataRequired)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class KronerField(DecimalField):
    """An amount in kroner, typed the Danish way or the English way, depending on the UI language.

    Danish: "." groups thousands and "," is the decimal mark ("375.000,50"); a lone "." followed by
    exactly three digits is read as grouping ("375.000" is 375000 kr., as a Danish user means it).
    Rendered as a text input (inputmode=decimal): <input type="number"> would refuse "375.000".
    """

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("places", 2)
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)

    @staticmethod
    def _separators() -> tuple[str, str]:
        """(group, decimal) separators of the current UI language."""
        return (",", ".") if str(get_locale()) == "en" else (".", ",")

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = None
        text = valuelist[0] if isinstance(valuelist[0], str) else ""
        text = re.sub(r"(?i)^dkk|kr\.?$", "", re.sub(r"\s+", "", text))
        if text == "":
            return  # InputRequired reports the missing amount
        number = self._normalise(text)
        if number is None:
            raise ValueError(self.invalid_value_message)
        try:
            self.data = Decimal(number)
        except InvalidOperation as exc:
            raise ValueError(self.invalid_value_message) from exc

    def _normalise(self, text: str) -> str | None:
        """'375.000,50' -> '375000.50' (Danish); None when the text is not a plain number."""
        group, mark = self._separators()
        grouped = rf"-?\d{{1,3}}({re.escape(group)}\d{{3}})+"
        if mark in text:
            integer, _sep, fraction = text.partition(mark)
            if group in integer:
                if not re.fullmatch(grouped, integer):
                    return None
                integer = integer.replace(group, "")
            text = f"{integer}.{fraction}"
        elif re.fullmatch(grouped, text):
            text = text.replace(group, "")
        # Anything else must now be plain digits; Danish "12.5" passes as a decimal point typed the English way.
        return text if re.fullmatch(r"-?\d+(\.\d+)?", text) else None

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        value = Decimal(self.data)
        text = str(value.to_integral()) if value == value.to_integral() else f"{value:.2f}"
        return text.replace(".", self._separators()[1])


def readable(form, field):
    """Stop the chain when the input could not be read: its own message is shown, not a range error too."""
    if field.process_errors:
        raise StopValidation()


def at_most_two_decimals(form, field):
    """Amounts are stored in øre: more than two decimals cannot be represented."""
    if field.data is None or abs(field.data) > MAX_KRONER:
        return  # NumberRange reports it (and quantize would overflow on absurd input)
    if field.data != field.data.quantize(Decimal("0.01")):
        raise ValidationError(_l("Beløbet kan højst have to decimaler (øre)."))


class ProgrammeForm(FlaskForm):
    name = StringField(
        _l("Navn"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Skriv indsatsens navn.")),
            Length(max=200, message=_l("Navnet må højst være 200 tegn.")),
        ],
    )
    description = TextAreaField(
        _l("Beskrivelse"),
        filters=[strip, none_if_empty],
        validators=[
            Optional(),
            Length(max=5000, message=_l("Beskrivelsen må højst være 5000 tegn.")),
            no_cpr_number,
        ],
    )
    starts_on = DateField(
        _l("Startdato"),
        format=DATE_FORMATS,
        invalid_value_message=_l("Skriv startdatoen som en dato, f.eks. 2008-01-01."),
        validators=[InputRequired(message=_l("Skriv indsatsens startdato."))],
    )
    ends_on = DateField(
        _l("Slutdato"),
        format=DATE_FORMATS,
        invalid_value_message=_l("Skriv slutdatoen som en dato, f.eks. 2009-12-31."),
        validators=[InputRequired(message=_l("Skriv indsatsens slutdato."))],
    )
    target_deadline = DateField(
        _l("Frist for målene"),
        format=DATE_FORMATS,
        description=_l("Den dato målene gøres op på, f.eks. udgangen af 2009."),
        invalid_value_message=_l("Skriv fristen som en dato, f.eks. 2009-12-31."),
        validators=[InputRequired(message=_l("Skriv fristen for målene."))],
    )
    target_runs = IntegerField(
        _l("Mål: gennemførte kursusforløb"),
        description=_l("Aktivitetsmål: antal kursusforløb, der skal være gennemført inden fristen."),
        invalid_value_message=_l("Skriv antallet af kursusforløb som et helt tal."),
        validators=[
            InputRequired(message=_l("Skriv antallet af kursusforløb (0, hvis der ikke er et mål).")),
            readable,
            NumberRange(min=0, max=MAX_TARGET, message=_l("Antallet skal være mellem 0 og 100.000.")),
        ],
    )
    target_completed_staff = IntegerField(
        _l("Mål: medarbejdere, der har gennemført"),
        description=_l("Resultatmål: antal medarbejdere, der skal have gennemført et kursus inden fristen."),
        invalid_value_message=_l("Skriv antallet af medarbejdere som et helt tal."),
        validators=[
            InputRequired(message=_l("Skriv antallet af medarbejdere (0, hvis der ikke er et mål).")),
            readable,
            NumberRange(min=0, max=MAX_TARGET, message=_l("Antallet skal være mellem 0 og 100.000.")),
        ],
    )
    effect_target = TextAreaField(
        _l("Effektmål"),
        filters=[strip, none_if_empty],
        description=_l("F.eks.: tilbagemeldingerne på opfølgningsdagene viser øget brug af metoderne."),
        validators=[Optional(), Length(max=5000, message=_l("Effektmålet må højst være 5000 tegn.")), no_cpr_number],
    )

    def as_data(self) -> ProgrammeData:
        return ProgrammeData(
            name=self.name.data,
            description=self.description.data,
            starts_on=self.starts_on.data,
            ends_on=self.ends_on.data,
            target_deadline=self.target_deadline.data,
            target_runs=self.target_runs.data,
            target_completed_staff=self.target_completed_staff.data,
            effect_target=self.effect_target.data,
        )


def _amount_field() -> KronerField:
    return KronerField(
        _l("Beløb i kroner"),
        description=_l("F.eks. 375.000 eller 375.000,50."),
        invalid_value_message=_l("Skriv beløbet som et tal i kroner, f.eks. 375.000."),
        validators=[
            InputRequired(message=_l("Skriv beløbet i kroner.")),
            readable,
            NumberRange(min=0, max=MAX_KRONER, message=_l("Beløbet skal være mellem 0 og 1.000.000.000 kr.")),
            at_most_two_decimals,
        ],
    )


class BudgetAllocationForm(FlaskForm):
    """A new budget allocation: provider × year × amount. `provider_id.choices` are set by the view."""

    provider_id = SelectField(
        _l("Udbyder"),
        coerce=_int_or_none,
        validate_choice=False,  # checked below, with a Danish message
        validators=[DataRequired(message=_l("Vælg en udbyder."))],
    )
    year = IntegerField(
        _l("År"),
        invalid_value_message=_l("Skriv året som et helt tal, f.eks. 2008."),
        validators=[
            InputRequired(message=_l("Skriv året.")),
            readable,
            NumberRange(min=2000, max=2100, message=_l("Året skal være mellem 2000 og 2100.")),
        ],
    )
    amount = _amount_field()

    def validate_provider_id(self, field):
        if field.data is not None and field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Vælg en af de aktive udbydere på listen."))


class BudgetAmountForm(FlaskForm):
    """Change the amount of an existing allocation (provider and year stay)."""

    amount = _amount_field()
