"""Forms of the coordinator's enrolment pages: enrol a staff member on their behalf, move a participant,
and the attendance form of one course day (also used by the run's provider)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SearchField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional

from app.core.fields import int_or_none, strip
from app.core.i18n import _l
from app.core.validators import MaxLength, no_cpr_number
from app.courses.forms import MultiCheckboxField
from app.enrolment.services import NOTE_MAX, PRACTICE_CASE_MAX

SEARCH_MAX_LENGTH = 100


class CoordinatorEnrolForm(FlaskForm):
    """The coordinator enrols a staff member, found with PersonSearchForm, on their behalf: each person
    listed has a "Tilmeld" button that posts their id (`user_id`, the button's value: the field itself is
    never rendered) with this form's optional fields."""

    user_id = IntegerField(
        _l("Medarbejder"),
        validators=[InputRequired(message=_l("Søg medarbejderen frem, og vælg Tilmeld ud for navnet."))],
    )
    practice_case = TextAreaField(
        _l("Sag eller netværksmøde"),
        filters=[strip],
        validators=[
            Optional(),
            MaxLength(PRACTICE_CASE_MAX),
            no_cpr_number,
        ],
        description=_l(
            "Den opgave fra medarbejderens egen praksis, kursusforløbet tager udgangspunkt i. Kan udfyldes senere."
        ),
    )
    note = TextAreaField(
        _l("Bemærkning"),
        filters=[strip],
        validators=[Optional(), MaxLength(NOTE_MAX), no_cpr_number],
        description=_l("F.eks. kost eller tilgængelighed. Bemærkningen kommer med på udbyderens deltagerliste."),
    )


class PersonSearchForm(FlaskForm):
    """The on-behalf page's search (a GET form: no CSRF). The text is a name or part of an email address."""

    class Meta:
        csrf = False

    q = SearchField(
        _l("Søg efter medarbejder"),
        filters=[strip],
        validators=[Optional(), MaxLength(SEARCH_MAX_LENGTH)],
        description=_l("Skriv mindst 2 bogstaver af navnet eller e-mailadressen."),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )

    def text(self) -> str:
        """The valid search text, else ''."""
        return (self.q.data or "") if self.validate() else ""


class MoveForm(FlaskForm):
    """Move a participant to another published run of the same programme."""

    target = SelectField(
        _l("Flyt til kursusforløb"),
        coerce=int_or_none,
        validators=[DataRequired(message=_l("Vælg det kursusforløb, deltageren skal flyttes til."))],
        invalid_choice_message=_l("Vælg et kursusforløb på listen."),
    )

    def set_choices(self, choices: list[tuple[int, str]], placeholder: str) -> None:
        self.target.choices = [SelectChoice("", placeholder)] + [
            SelectChoice(str(run_id), label) for run_id, label in choices
        ]


class AttendanceForm(FlaskForm):
    """Who was present on one course day: one checkbox (`present`, the enrolment id) per confirmed
    participant. Values that are not ids of the run's confirmed participants are refused."""

    present = MultiCheckboxField(
        _l("Mødt"),
        coerce=int,
        invalid_value_message=_l("Vi kunne ikke se, hvem du satte kryds ved. Opdater siden, og prøv igen."),
        invalid_choice_message=_l(
            "Kun kursusforløbets tilmeldte deltagere kan registreres som mødt. Opdater siden, og prøv igen."
        ),
    )

    def set_choices(self, enrolment_ids: list[int]) -> None:
        self.present.choices = [SelectChoice(str(i), str(i)) for i in enrolment_ids]
