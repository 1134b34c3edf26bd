"""Forms of the coordinator's enrolment pages: enrol a staff member on their behalf, move a participant,
and the attendance form of one course day (also used by the run's provider)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.core.fields import int_or_none, strip
from app.core.i18n import _l
from app.core.validators import no_cpr_number
from app.courses.forms import MultiCheckboxField
from app.enrolment.services import NOTE_MAX, PRACTICE_CASE_MAX

EMAIL_MAX = 254


class CoordinatorEnrolForm(FlaskForm):
    """The coordinator enrols a staff member, found by email, on their behalf."""

    email = EmailField(
        _l("Medarbejderens e-mail"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Skriv medarbejderens e-mailadresse.")),
            Length(max=EMAIL_MAX, message=_l("E-mailadressen må højst være 254 tegn.")),
        ],
        description=_l("Den e-mailadresse, medarbejderen er oprettet med i Kursusportalen."),
        render_kw={"autocomplete": "off"},
    )
    practice_case = TextAreaField(
        _l("Sag eller netværksmøde"),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=PRACTICE_CASE_MAX, message=_l("Skriv højst 2.000 tegn.")),
            no_cpr_number,
        ],
        description=_l(
            "Den opgave fra medarbejderens egen praksis, forløbet tager udgangspunkt i. Kan udfyldes senere."
        ),
    )
    note = TextAreaField(
        _l("Bemærkning"),
        filters=[strip],
        validators=[Optional(), Length(max=NOTE_MAX, message=_l("Skriv højst 500 tegn.")), no_cpr_number],
        description=_l("Fx kost eller tilgængelighed. Bemærkningen kommer med på udbyderens deltagerliste."),
    )


class MoveForm(FlaskForm):
    """Move a participant to another published run of the same programme."""

    target = SelectField(
        _l("Flyt til kursusforløb"),
        coerce=int_or_none,
        validators=[DataRequired(message=_l("Vælg det kursusforløb, deltageren skal flyttes til."))],
        invalid_choice_message=_l("Vælg et kursusforløb fra listen."),
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
        invalid_value_message=_l("Afkrydsningerne kunne ikke læses. Genindlæs siden, og prøv igen."),
        invalid_choice_message=_l(
            "Kun kursusforløbets tilmeldte deltagere kan registreres som mødt. Genindlæs siden, og prøv igen."
        ),
    )

    def set_choices(self, enrolment_ids: list[int]) -> None:
        self.present.choices = [SelectChoice(str(i), str(i)) for i in enrolment_ids]
