"""Forms for closed days (lukkedage): the edit form and the year filter of the list."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from app.core.i18n import _l
from app.core.validators import no_cpr_number

#: Dates arrive as ISO from <input type="date">; the Danish forms are accepted from browsers without a date picker.
DATE_FORMATS = ["%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%Y"]
MIN_YEAR, MAX_YEAR = 2000, 2100


def strip(value):
    """Form filter: trim surrounding white space from text input."""
    return value.strip() if isinstance(value, str) else value


def within_supported_years(form, field):
    """Holiday tables and the planning horizon make sense for 2000-2100 only."""
    if field.data is not None and not MIN_YEAR <= field.data.year <= MAX_YEAR:
        raise ValidationError(_l("Datoen skal ligge mellem år 2000 og 2100."))


class ClosedDayForm(FlaskForm):
    day = DateField(
        _l("Dato"),
        format=DATE_FORMATS,
        description=_l("En hverdag, der hverken er weekend eller helligdag, f.eks. Grundlovsdag den 5. juni."),
        invalid_value_message=_l("Skriv datoen som en dato, f.eks. 2008-06-05."),
        validators=[InputRequired(message=_l("Skriv datoen.")), within_supported_years],
    )
    reason = StringField(
        _l("Begrundelse"),
        filters=[strip],
        description=_l('Vises, når en opfølgningsdag flyttes på grund af lukkedagen, f.eks. "Grundlovsdag".'),
        validators=[
            DataRequired(message=_l("Skriv hvorfor dagen er lukket.")),
            Length(max=200, message=_l("Begrundelsen må højst være 200 tegn.")),
            no_cpr_number,
        ],
    )


class ClosedDayFilterForm(FlaskForm):
    """GET filter of the list (no CSRF: it changes nothing). `year.choices` are set by the view."""

    class Meta:
        csrf = False

    year = SelectField(
        _l("År"),
        default="",
        invalid_choice_message=_l("Vælg et år på listen."),
    )

    def set_year_choices(self, years) -> None:
        """Offer `years` (newest first), plus a valid year asked for in the URL (e.g. after a delete)."""
        asked = self.year.data
        years = set(years)
        if isinstance(asked, str) and asked.isdigit() and MIN_YEAR <= int(asked) <= MAX_YEAR:
            years.add(int(asked))
        self.year.choices = [("", _l("Alle år"))] + [(str(y), str(y)) for y in sorted(years, reverse=True)]

    def selected_year(self) -> int | None:
        """The chosen year, or None for all years (also when the value was not valid)."""
        if not self.year.errors and self.year.data and self.year.data.isdigit():
            return int(self.year.data)
        return None


class CalendarTokenForm(FlaskForm):
    """Create or replace the personal feed address: a CSRF-protected form with only its button."""
