"""Forms for closed days (lukkedage): the edit form and the year filter of the list."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired

from app.core.fields import DATE_FORMATS, MAX_YEAR, MIN_YEAR, strip, within_supported_years
from app.core.i18n import _l
from app.core.validators import MaxLength, no_cpr_number


class ClosedDayForm(FlaskForm):
    day = DateField(
        _l("Dato"),
        format=DATE_FORMATS,
        description=_l("En hverdag, der hverken er weekend eller helligdag, f.eks. grundlovsdag den 5. juni."),
        invalid_value_message=_l("Skriv en gyldig dato, f.eks. 05-06-2008."),
        validators=[InputRequired(message=_l("Skriv datoen.")), within_supported_years],
    )
    reason = StringField(
        _l("Begrundelse"),
        filters=[strip],
        description=_l("Vises, når en opfølgningsdag flyttes på grund af lukkedagen, f.eks. »grundlovsdag«."),
        validators=[
            DataRequired(message=_l("Skriv, hvorfor dagen er lukket.")),
            MaxLength(200),
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
