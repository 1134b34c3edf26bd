"""Forms for course runs (one form for the run and its three days), the run-list filters and methods."""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.core.fields import (
    DATE_FORMATS,
    MAX_YEAR,
    MIN_YEAR,
    KronerField,
    at_most_two_decimals,
    id_choices,
    int_or_none,
    strip,
    within_supported_years,
)
from app.core.i18n import _l
from app.core.money import kroner_to_ore, ore_to_kroner
from app.core.validators import MaxLength, no_cpr_number, no_cpr_number_in_name
from app.core.widgets import FastSelect
from app.courses.models import CourseRun, RunKind, RunStatus
from app.courses.services import (
    MAX_CAPACITY,
    TITLE_MAX_LENGTH,
    VENUE_MAX_LENGTH,
    CourseDayData,
    CourseRunData,
    MethodData,
    schedule_errors,
)

#: <input type="time"> sends 09:00; "09.00" is how a Dane writes it.
TIME_FORMATS = ["%H:%M", "%H.%M"]
MAX_PRICE_KRONER = Decimal("100000000")

#: (form prefix, legend) of the three days, in order.
DAY_PREFIXES = (
    ("day1", _l("1. undervisningsdag")),
    ("day2", _l("2. undervisningsdag")),
    ("follow_up", _l("Opfølgningsdag")),
)


class _OptionalCheckbox(CheckboxInput):
    """One checkbox of a group: "choose at least one" is the group's rule, not each box's, so no
    `required` attribute (which would tell a screen reader every box must be ticked)."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("required", False)
        return super().__call__(field, **kwargs)


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (the forms macro renders it as a fieldset)."""

    widget = ListWidget(prefix_label=False)
    option_widget = _OptionalCheckbox()


def _date_field(label, required_message=None, invalid_message=None, description=None):
    """A date; required when `required_message` is given."""
    validators = [InputRequired(message=required_message)] if required_message else [Optional()]
    return DateField(
        label,
        format=DATE_FORMATS,
        validators=[*validators, within_supported_years],
        invalid_value_message=invalid_message or _l("Skriv en gyldig dato, f.eks. 01-10-2008."),
        description=description,
    )


def _time_field(label, default: time, required_message, invalid_message):
    return TimeField(
        label,
        format=TIME_FORMATS,
        default=default,
        validators=[InputRequired(message=required_message)],
        invalid_value_message=invalid_message,
    )


def _venue_field():
    return StringField(
        _l("Sted"),
        filters=[strip],
        validators=[
            Optional(),
            MaxLength(VENUE_MAX_LENGTH),
            no_cpr_number_in_name,
        ],
        description=_l("Kun hvis dagen holdes et andet sted end kursusforløbets sted."),
    )


FOLLOW_UP_HINT = _l(
    "Lad feltet stå tomt for at bruge forslaget: 2. undervisningsdag + 3 måneder, flyttet til næste "
    "arbejdsdag (weekender, helligdage og lukkedage springes over)."
)


class CourseRunForm(FlaskForm):
    """A course run with its two teaching days and its follow-up day."""

    programme_id = SelectField(
        _l("Indsats"),
        coerce=int_or_none,
        validators=[DataRequired(message=_l("Vælg en indsats."))],
        invalid_choice_message=_l("Vælg en indsats på listen."),
    )
    provider_id = SelectField(
        _l("Udbyder"),
        coerce=int_or_none,
        validators=[DataRequired(message=_l("Vælg en udbyder."))],
        invalid_choice_message=_l("Vælg en aktiv udbyder på listen."),
    )
    title = StringField(
        _l("Titel"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Skriv kursusforløbets titel.")),
            MaxLength(TITLE_MAX_LENGTH),
            no_cpr_number_in_name,
        ],
    )
    description = TextAreaField(
        _l("Beskrivelse"),
        filters=[strip],
        validators=[
            Optional(),
            MaxLength(5000),
            no_cpr_number,
        ],
    )
    kind = RadioField(
        _l("Type"),
        choices=[SelectChoice(kind.value, kind.label) for kind in RunKind],
        default=RunKind.STANDARD.value,
        validators=[InputRequired(message=_l("Vælg kursusforløbets type."))],
        invalid_choice_message=_l("Vælg en af typerne."),
        description=_l(
            "Særlige kursusforløb om netværksmøder er praksisbaserede: deltageren holder et rigtigt netværksmøde og "
            "tager udgangspunkt i en opgave fra sin egen praksis."
        ),
    )
    methods = MultiCheckboxField(
        _l("Metoder"),
        coerce=int_or_none,
        validators=[DataRequired(message=_l("Vælg mindst én metode."))],
        invalid_value_message=_l("Vælg metoder på listen."),
        invalid_choice_message=_l("Vælg metoder på listen."),
    )
    staff_roles = MultiCheckboxField(
        _l("Åben for disse stillingsbetegnelser"),
        coerce=int_or_none,
        validators=[DataRequired(message=_l("Vælg mindst én stillingsbetegnelse."))],
        invalid_value_message=_l("Vælg stillingsbetegnelser på listen."),
        invalid_choice_message=_l("Vælg stillingsbetegnelser på listen."),
    )
    capacity = IntegerField(
        _l("Antal pladser"),
        validators=[
            InputRequired(message=_l("Skriv antal pladser.")),
            NumberRange(min=1, max=MAX_CAPACITY, message=_l("Antal pladser skal være mellem 1 og 1.000.")),
        ],
        invalid_value_message=_l("Antal pladser skal være et helt tal."),
        render_kw={"inputmode": "numeric"},
    )
    requires_approval = BooleanField(
        _l("Kræver godkendelse"),
        description=_l(
            "Medarbejdernes tilmeldinger venter, til kursuskoordinatoren godkender eller afviser dem. "
            "Tilmeldinger, som koordinatoren selv laver, kræver ikke godkendelse."
        ),
    )
    requires_leader_approval = BooleanField(
        _l("Kræver lederens godkendelse"),
        description=_l(
            "Medarbejderens nærmeste leder godkender eller afviser tilmeldingen. Sammen med »Kræver godkendelse« "
            "godkender kursuskoordinatoren bagefter. Har medarbejderen ingen leder, godkender koordinatoren."
        ),
    )
    enrolment_deadline = _date_field(
        _l("Tilmeldingsfrist"),
        required_message=_l("Skriv tilmeldingsfristen."),
        invalid_message=_l("Skriv tilmeldingsfristen som en gyldig dato, f.eks. 15-09-2008."),
        description=_l("Sidste dag, medarbejderne kan tilmelde sig. Senest 1. undervisningsdag."),
    )
    venue = StringField(
        _l("Sted"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Skriv, hvor kursusforløbet holdes.")),
            MaxLength(VENUE_MAX_LENGTH),
            no_cpr_number_in_name,
        ],
    )
    price = KronerField(
        _l("Pris i kroner"),
        validators=[
            InputRequired(message=_l("Skriv prisen (0, hvis kursusforløbet er gratis).")),
            NumberRange(min=0, max=MAX_PRICE_KRONER, message=_l("Prisen skal være mellem 0 og 100.000.000 kr.")),
            at_most_two_decimals(_l("Prisen kan højst have to decimaler (øre).")),
        ],
        invalid_value_message=_l("Skriv prisen som et tal, f.eks. 187.500 eller 187.500,50."),
        description=_l("Hele kursusforløbets pris. Den tæller med i udbyderens budget for året."),
    )
    #: Shown (and required) only when saving would take the provider over its budget for the year or a
    #: date looks wrong (app.courses.services.date_warnings): one confirmation for all of that submission.
    confirm_anyway = BooleanField(
        _l("Gem alligevel"),
        description=_l("Sæt kryds, hvis du har tjekket advarslerne, og kursusforløbet skal gemmes som det er."),
    )

    day1_date = _date_field(
        _l("Dato"),
        required_message=_l("Skriv datoen for 1. undervisningsdag."),
        invalid_message=_l("Skriv en gyldig dato for 1. undervisningsdag, f.eks. 30-09-2008."),
    )
    day1_start = _time_field(
        _l("Start"),
        time(9, 0),
        _l("Skriv starttidspunktet for 1. undervisningsdag."),
        _l("Skriv et gyldigt starttidspunkt for 1. undervisningsdag, f.eks. 09.00."),
    )
    day1_end = _time_field(
        _l("Slut"),
        time(15, 30),
        _l("Skriv sluttidspunktet for 1. undervisningsdag."),
        _l("Skriv et gyldigt sluttidspunkt for 1. undervisningsdag, f.eks. 15.30."),
    )
    day1_venue = _venue_field()
    day2_date = _date_field(
        _l("Dato"),
        required_message=_l("Skriv datoen for 2. undervisningsdag."),
        invalid_message=_l("Skriv en gyldig dato for 2. undervisningsdag, f.eks. 01-10-2008."),
    )
    day2_start = _time_field(
        _l("Start"),
        time(9, 0),
        _l("Skriv starttidspunktet for 2. undervisningsdag."),
        _l("Skriv et gyldigt starttidspunkt for 2. undervisningsdag, f.eks. 09.00."),
    )
    day2_end = _time_field(
        _l("Slut"),
        time(15, 30),
        _l("Skriv sluttidspunktet for 2. undervisningsdag."),
        _l("Skriv et gyldigt sluttidspunkt for 2. undervisningsdag, f.eks. 15.30."),
    )
    day2_venue = _venue_field()
    follow_up_date = _date_field(
        _l("Dato"),
        invalid_message=_l("Skriv en gyldig dato for opfølgningsdagen, f.eks. 02-01-2009, eller lad feltet stå tomt."),
        description=FOLLOW_UP_HINT,
    )
    follow_up_start = _time_field(
        _l("Start"),
        time(9, 0),
        _l("Skriv starttidspunktet for opfølgningsdagen."),
        _l("Skriv et gyldigt starttidspunkt for opfølgningsdagen, f.eks. 09.00."),
    )
    follow_up_end = _time_field(
        _l("Slut"),
        time(15, 30),
        _l("Skriv sluttidspunktet for opfølgningsdagen."),
        _l("Skriv et gyldigt sluttidspunkt for opfølgningsdagen, f.eks. 15.30."),
    )
    follow_up_venue = _venue_field()

    def set_choices(self, programmes, providers, methods, staff_roles, placeholder_programme, placeholder_provider):
        self.programme_id.choices = id_choices(placeholder_programme, [(p.id, p.name) for p in programmes])
        self.provider_id.choices = id_choices(placeholder_provider, [(p.id, p.name) for p in providers])
        self.methods.choices = [SelectChoice(str(m.id), m.name) for m in methods]
        self.staff_roles.choices = [SelectChoice(str(r.id), r.name) for r in staff_roles]

    def day_fields(self):
        """(legend, date, start, end, venue) per day, for the template."""
        return [
            (legend, self[f"{p}_date"], self[f"{p}_start"], self[f"{p}_end"], self[f"{p}_venue"])
            for p, legend in DAY_PREFIXES
        ]

    def validate(self, extra_validators=None) -> bool:
        """Field validation, then the rules between the dates and times (shared with the services)."""
        valid = super().validate(extra_validators)

        def value(name):
            return None if self[name].errors else self[name].data

        problems = schedule_errors(
            day1=value("day1_date"),
            day2=value("day2_date"),
            follow_up=value("follow_up_date"),
            enrolment_deadline=value("enrolment_deadline"),
            times={p: (value(f"{p}_start"), value(f"{p}_end")) for p, _legend in DAY_PREFIXES},
        )
        for name, messages in problems.items():
            self[name].errors = [*self[name].errors, *messages]
        return valid and not problems

    @staticmethod
    def initial_data(run: CourseRun) -> dict:
        """The form's values for an existing run. A follow-up day that equals the stored proposal is
        left blank, so it keeps following the proposal when teaching day 2 moves."""
        data = {
            "programme_id": run.programme_id,
            "provider_id": run.provider_id,
            "title": run.title,
            "description": run.description,
            "kind": run.kind.value,
            "methods": [m.id for m in run.methods],
            "staff_roles": [r.id for r in run.eligible_roles],
            "capacity": run.capacity,
            "requires_approval": run.requires_approval,
            "requires_leader_approval": run.requires_leader_approval,
            "enrolment_deadline": run.enrolment_deadline,
            "venue": run.venue,
            "price": ore_to_kroner(run.price_ore),
        }
        days = {d.position: d for d in run.days}
        for position, (prefix, _legend) in enumerate(DAY_PREFIXES, 1):
            course_day = days.get(position)
            if course_day is None:
                continue
            data[f"{prefix}_date"] = course_day.day
            data[f"{prefix}_start"] = course_day.starts_at
            data[f"{prefix}_end"] = course_day.ends_at
            data[f"{prefix}_venue"] = course_day.venue
        if not run.follow_up_overridden and run.follow_up_proposed_on is not None:
            data["follow_up_date"] = None
        return data

    def as_data(self) -> CourseRunData:
        """The validated form as the services' input."""

        def day(prefix: str) -> CourseDayData:
            return CourseDayData(
                day=self[f"{prefix}_date"].data,
                starts_at=self[f"{prefix}_start"].data,
                ends_at=self[f"{prefix}_end"].data,
                venue=self[f"{prefix}_venue"].data or None,
            )

        return CourseRunData(
            programme_id=self.programme_id.data,
            provider_id=self.provider_id.data,
            title=self.title.data,
            description=self.description.data or None,
            kind=RunKind(self.kind.data),
            method_ids=tuple(self.methods.data),
            staff_role_ids=tuple(self.staff_roles.data),
            capacity=self.capacity.data,
            enrolment_deadline=self.enrolment_deadline.data,
            venue=self.venue.data,
            price_ore=kroner_to_ore(self.price.data),
            teaching_day_1=day("day1"),
            teaching_day_2=day("day2"),
            follow_up=day("follow_up"),
            requires_approval=bool(self.requires_approval.data),
            requires_leader_approval=bool(self.requires_leader_approval.data),
        )


class RunFilterForm(FlaskForm):
    """The run list's filters (a GET form: no CSRF). Invalid values are ignored, with a message."""

    class Meta:
        csrf = False

    q = StringField(
        _l("Søg i titel og beskrivelse"),
        filters=[strip],
        validators=[Optional(), MaxLength(200)],
    )
    programme = SelectField(
        _l("Indsats"),
        widget=FastSelect(),
        coerce=int_or_none,
        validate_choice=True,
        invalid_choice_message=_l("Den valgte indsats findes ikke."),
    )
    method = SelectField(
        _l("Metode"),
        widget=FastSelect(),
        coerce=int_or_none,
        invalid_choice_message=_l("Den valgte metode findes ikke."),
    )
    provider = SelectField(
        _l("Udbyder"),
        widget=FastSelect(),
        coerce=int_or_none,
        invalid_choice_message=_l("Den valgte udbyder findes ikke."),
    )
    venue = StringField(
        _l("Sted"),
        description=_l("F.eks. en by eller en adresse."),
        filters=[strip],
        validators=[Optional(), MaxLength(200)],
    )
    status = SelectField(
        _l("Status"),
        widget=FastSelect(),
        choices=[SelectChoice("", _l("Alle"))] + [SelectChoice(s.value, s.label) for s in RunStatus],
        default="",
        invalid_choice_message=_l("Vælg en status på listen."),
    )
    kind = SelectField(
        _l("Type"),
        widget=FastSelect(),
        choices=[SelectChoice("", _l("Alle"))] + [SelectChoice(k.value, k.label) for k in RunKind],
        default="",
        invalid_choice_message=_l("Vælg en type på listen."),
    )
    month = SelectField(
        _l("Starter i"),
        widget=FastSelect(),
        default="",
        invalid_choice_message=_l("Vælg en måned på listen."),
    )
    year = SelectField(
        _l("År"),
        widget=FastSelect(),
        coerce=int_or_none,
        invalid_choice_message=_l("Vælg et år på listen."),
    )
    free = BooleanField(_l("Kun kursusforløb med ledige pladser"))

    def set_choices(self, *, programmes, providers, methods, years, months, any_label) -> None:
        """`months`: (year, month, label) triples; the others (id, name) pairs or years."""
        self.programme.choices = id_choices(any_label, programmes)
        self.provider.choices = id_choices(any_label, providers)
        self.method.choices = id_choices(any_label, methods)
        self.year.choices = [SelectChoice("", any_label)] + [SelectChoice(str(y), str(y)) for y in years]
        self.month.choices = [SelectChoice("", any_label)] + [
            SelectChoice(f"{y:04d}-{m:02d}", label) for y, m, label in months
        ]

    def value(self, name: str):
        """The field's value if it is valid and chosen, else None."""
        field = self[name]
        if field.errors or field.data in (None, ""):
            return None
        return field.data

    def month_value(self) -> tuple[int, int] | None:
        """The chosen (year, month), or None."""
        value = self.value("month")
        if value is None:
            return None
        year, month = value.split("-")
        return int(year), int(month)


class MethodForm(FlaskForm):
    name = StringField(
        _l("Navn"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Skriv metodens navn.")),
            MaxLength(200),
            no_cpr_number_in_name,
        ],
    )
    name_en = StringField(
        _l("Navn på engelsk"),
        filters=[strip],
        validators=[
            Optional(),
            MaxLength(200),
            no_cpr_number_in_name,
        ],
        description=_l("Vises for brugere, der har valgt engelsk."),
    )
    description = TextAreaField(
        _l("Beskrivelse"),
        filters=[strip],
        validators=[
            Optional(),
            MaxLength(5000),
            no_cpr_number,
        ],
    )

    def as_data(self) -> MethodData:
        return MethodData(
            name=self.name.data, name_en=self.name_en.data or None, description=self.description.data or None
        )


def parse_iso_date(value: str | None) -> date | None:
    """YYYY-MM-DD within the accepted years, or None."""
    if not value or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if MIN_YEAR <= day.year <= MAX_YEAR else None
