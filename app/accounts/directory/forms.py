"""The coordinator's forms for users, staff roles, units, unit leaders and the staff import.

Field shape and single-field checks only; rules that need the database (unique names, provider rules,
cycles in the unit tree) are checked by the services and mapped back onto these fields by the views.
"""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, HiddenField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional

from app.core.access import AccessLevel
from app.core.fields import id_choices as id_choices  # the views import it from here
from app.core.i18n import _l
from app.core.validators import MaxLength, no_cpr_number_in_name

#: Danish labels of the access levels, for selects, lists and filters.
ACCESS_LEVEL_LABELS = {
    AccessLevel.COORDINATOR: _l("Kursuskoordinator"),
    AccessLevel.STAFF: _l("Medarbejder"),
    AccessLevel.PROVIDER: _l("Udbyder"),
}


def optional_id(value) -> int | None:
    """Coerce a select's value to a record id; '' (the "none" option) is None."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.isdigit() or len(text) > 12:
        raise ValueError("not an id")
    return int(text)


def _access_level(value) -> AccessLevel | None:
    if value is None or value == "":
        return None
    return AccessLevel(value)


class IdSelectField(SelectField):
    """A select of record ids with a first "none" option; choices are filled in by the view (id_choices)."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("invalid_value_message", _l("Vælg en af mulighederne på listen."))
        kwargs.setdefault("invalid_choice_message", _l("Vælg en af mulighederne på listen."))
        super().__init__(label, validators, coerce=optional_id, **kwargs)
        self.type = "SelectField"  # the form macro styles fields by type


def _name_field(missing, max_length: int, description="", *, label=_l("Navn"), required: bool = True) -> StringField:
    """A name the coordinator types (a user's, a staff role's, a unit's): at most `max_length`, no CPR number."""
    first = DataRequired(message=missing) if required else Optional()
    return StringField(label, validators=[first, MaxLength(max_length), no_cpr_number_in_name], description=description)


class StaffRoleForm(FlaskForm):
    name = _name_field(
        _l("Skriv stillingsbetegnelsens navn."),
        120,
        _l("Som i HR-systemet, f.eks. Sagsbehandler. Importen af medarbejdere matcher på dette navn."),
    )
    name_en = _name_field(
        None,
        120,
        _l("Vises i den engelske brugerflade, f.eks. Caseworker."),
        label=_l("Engelsk navn"),
        required=False,
    )


class UnitForm(FlaskForm):
    name = _name_field(_l("Skriv enhedens navn."), 200, _l("Som i HR-systemet, f.eks. Børne- og Familieteam, Amager."))
    parent_id = IdSelectField(
        _l("Overordnet enhed"),
        validators=[Optional()],
        description=_l("F.eks. det socialcenter, teamet hører under. Lad feltet stå tomt for en enhed øverst."),
    )


class UnitLeaderForm(FlaskForm):
    """Add or remove one of a unit's leaders: the person's id is the value of the button pressed (found with
    the person search, enrolment.coordinator_forms.PersonSearchForm); the field itself is never rendered."""

    user_id = IntegerField(
        _l("Leder"),
        validators=[InputRequired(message=_l("Søg medarbejderen frem, og vælg Gør til leder ud for navnet."))],
    )


class UserForm(FlaskForm):
    name = _name_field(_l("Skriv brugerens navn."), 200)
    email = EmailField(
        _l("E-mail"),
        validators=[
            DataRequired(message=_l("Skriv brugerens e-mailadresse.")),
            MaxLength(254),
            no_cpr_number_in_name,
        ],
        description=_l("Brugeren logger ind med sin e-mailadresse."),
    )
    access_level = SelectField(
        _l("Adgangsniveau"),
        choices=[SelectChoice(level.value, label) for level, label in ACCESS_LEVEL_LABELS.items()],
        coerce=_access_level,
        validators=[InputRequired(message=_l("Vælg et adgangsniveau."))],
        invalid_value_message=_l("Vælg et adgangsniveau."),
        invalid_choice_message=_l("Vælg et adgangsniveau."),
        description=_l(
            "Kursuskoordinatorer administrerer alt; medarbejdere tilmelder sig; udbydere ser egne kursusforløb."
        ),
    )
    staff_role_id = IdSelectField(_l("Stillingsbetegnelse"), validators=[Optional()])
    unit_id = IdSelectField(_l("Enhed"), validators=[Optional()])
    provider_id = IdSelectField(
        _l("Udbyder"),
        validators=[Optional()],
        description=_l("Kun for brugere med adgangsniveauet Udbyder."),
    )
    active = BooleanField(_l("Aktiv"), default=True, description=_l("En inaktiv bruger kan ikke logge ind."))
    password = PasswordField(
        _l("Adgangskode"),
        # Length and strength are the password policy's (app.accounts.signin.passwords), checked by the service.
        validators=[Optional()],
        render_kw={"autocomplete": "new-password"},
    )


class UserFilterForm(FlaskForm):
    """The filters above the user list (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    q = StringField(
        _l("Søg"),
        validators=[Optional(), MaxLength(200)],
        description=_l("Navn eller e-mail"),
    )
    access_level = SelectField(
        _l("Adgangsniveau"),
        choices=[SelectChoice("", _l("Alle"))]
        + [SelectChoice(level.value, label) for level, label in ACCESS_LEVEL_LABELS.items()],
        coerce=_access_level,
        validators=[Optional()],
        invalid_value_message=_l("Vælg en af mulighederne på listen."),
        invalid_choice_message=_l("Vælg en af mulighederne på listen."),
    )
    staff_role = IdSelectField(_l("Stillingsbetegnelse"), validators=[Optional()])
    unit = IdSelectField(_l("Enhed"), validators=[Optional()], description=_l("Med underenheder"))
    active = SelectField(
        _l("Status"),
        default="",
        choices=[SelectChoice("", _l("Alle")), SelectChoice("yes", _l("Aktive")), SelectChoice("no", _l("Inaktive"))],
        validators=[Optional()],
        invalid_choice_message=_l("Vælg en af mulighederne på listen."),
    )


class StaffImportForm(FlaskForm):
    file = FileField(
        _l("Fil fra HR-systemet"),
        validators=[FileRequired(message=_l("Vælg en CSV- eller XLSX-fil."))],
        description=_l("CSV (semikolon eller komma, UTF-8) eller Excel-regneark (.xlsx). Højst 5 MB."),
        render_kw={"accept": ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    )


class ImportConfirmForm(FlaskForm):
    token = HiddenField(
        validators=[DataRequired(message=_l("Vi kan ikke finde den kontrollerede fil. Upload filen igen."))]
    )
