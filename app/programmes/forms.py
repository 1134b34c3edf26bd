"""Forms for programmes (indsatser) and their budget allocations (budgetrammer)."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    NumberRange,
    Optional,
    ValidationError,
)

from app.accounts.directory.forms import IdSelectField
from app.core.fields import DATE_FORMATS, KronerField, at_most_two_decimals, int_or_none, none_if_empty, readable, strip
from app.core.i18n import _l
from app.core.validators import MaxLength, no_cpr_number, no_cpr_number_in_name
from app.programmes.services import ProgrammeData

#: Upper bound for amounts: keeps øre far inside a 64-bit integer and catches typing accidents.
MAX_KRONER = Decimal("1000000000")
MAX_TARGET = 100_000


def _target_field(label, description, *, invalid_message, required_message) -> IntegerField:
    """A programme target: a whole number from 0 (no target) to MAX_TARGET."""
    return IntegerField(
        label,
        description=description,
        invalid_value_message=invalid_message,
        validators=[
            InputRequired(message=required_message),
            readable,
            NumberRange(min=0, max=MAX_TARGET, message=_l("Antallet skal være mellem 0 og 100.000.")),
        ],
    )


class ProgrammeForm(FlaskForm):
    name = StringField(
        _l("Navn"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Skriv indsatsens navn.")),
            MaxLength(200),
            no_cpr_number_in_name,
        ],
    )
    description = TextAreaField(
        _l("Beskrivelse"),
        filters=[strip, none_if_empty],
        validators=[
            Optional(),
            MaxLength(5000),
            no_cpr_number,
        ],
    )
    starts_on = DateField(
        _l("Startdato"),
        format=DATE_FORMATS,
        invalid_value_message=_l("Skriv en gyldig startdato, f.eks. 01-01-2008."),
        validators=[InputRequired(message=_l("Skriv indsatsens startdato."))],
    )
    ends_on = DateField(
        _l("Slutdato"),
        format=DATE_FORMATS,
        invalid_value_message=_l("Skriv en gyldig slutdato, f.eks. 31-12-2009."),
        validators=[InputRequired(message=_l("Skriv indsatsens slutdato."))],
    )
    target_deadline = DateField(
        _l("Frist for målene"),
        format=DATE_FORMATS,
        description=_l("Den dato, hvor målene gøres op, f.eks. udgangen af 2009."),
        invalid_value_message=_l("Skriv en gyldig frist, f.eks. 31-12-2009."),
        validators=[InputRequired(message=_l("Skriv fristen for målene."))],
    )
    target_runs = _target_field(
        _l("Mål: gennemførte kursusforløb"),
        _l("Aktivitetsmål: antal kursusforløb, der skal være gennemført inden fristen."),
        invalid_message=_l("Skriv antallet af kursusforløb som et helt tal."),
        required_message=_l("Skriv antallet af kursusforløb (0, hvis der ikke er et mål)."),
    )
    target_completed_staff = _target_field(
        _l("Mål: medarbejdere, der har gennemført"),
        _l("Resultatmål: antal medarbejdere, der skal have gennemført et kursus inden fristen."),
        invalid_message=_l("Skriv antallet af medarbejdere som et helt tal."),
        required_message=_l("Skriv antallet af medarbejdere (0, hvis der ikke er et mål)."),
    )
    effect_target = TextAreaField(
        _l("Effektmål"),
        filters=[strip, none_if_empty],
        description=_l("F.eks. at tilbagemeldingerne på opfølgningsdagene viser øget brug af metoderne."),
        validators=[Optional(), MaxLength(5000), no_cpr_number],
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
            NumberRange(min=0, max=MAX_KRONER, message=_l("Beløbet skal være mellem 0 og 1.000.000.000 kr.")),
            at_most_two_decimals(_l("Beløbet kan højst have to decimaler (øre).")),
        ],
    )


class BudgetAllocationForm(FlaskForm):
    """A new budget allocation: provider × year × amount. `provider_id.choices` are set by the view."""

    provider_id = SelectField(
        _l("Udbyder"),
        coerce=int_or_none,
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


class CompetenceFilterForm(FlaskForm):
    """The competence overview's filters (a GET form: no CSRF): one staff role, one unit of the overview."""

    class Meta:
        csrf = False

    rolle = IdSelectField(_l("Stillingsbetegnelse"), validators=[Optional()])
    enhed = IdSelectField(_l("Enhed"), validators=[Optional()], description=_l("Med underenheder"))
