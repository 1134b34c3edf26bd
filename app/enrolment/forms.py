"""Forms of the staff member's enrolment pages: the enrol form on the run page (the practice case only
for special runs, an optional note for the provider)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Optional

from app.core.fields import strip
from app.core.i18n import _l
from app.core.validators import MaxLength, no_cpr_number
from app.courses.models import CourseRun
from app.enrolment.approval import REASON_MAX
from app.enrolment.services import NOTE_MAX, PRACTICE_CASE_MAX


class EnrolForm(FlaskForm):
    """A staff member enrols themself. Build it with `for_run(run)`: `practice_case` exists (and is
    required) only for special, practice-based runs."""

    practice_case = TextAreaField(
        _l("Sag eller netværksmøde fra din praksis"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Beskriv den sag eller det netværksmøde, du vil arbejde med i forløbet.")),
            MaxLength(PRACTICE_CASE_MAX),
            no_cpr_number,
        ],
        description=_l(
            "Kursusforløbet er praksisbaseret: beskriv kort din egen praktiske opgave, "
            "f.eks. det netværksmøde, du skal holde."
        ),
    )
    note = TextAreaField(
        _l("Bemærkning"),
        filters=[strip],
        validators=[Optional(), MaxLength(NOTE_MAX), no_cpr_number],
        description=_l(
            "F.eks. kost eller tilgængelighed. Udbyderen ser bemærkningen på deltagerlisten. Højst 500 tegn."
        ),
    )

    @classmethod
    def for_run(cls, run: CourseRun, **kwargs) -> EnrolForm:
        """The form for `run`: without the practice-case field unless the run is special."""
        form = cls(**kwargs)
        if not run.is_special:
            del form.practice_case
        return form


class ApprovalDecisionForm(FlaskForm):
    """The leader's decision on one request (the page "Godkendelser" has one per request: build it with
    `prefix=f"e{enrolment id}"`). The pressed button gives `decision`."""

    decision = StringField(
        validators=[AnyOf(("approve", "reject"), message=_l("Vælg Godkend eller Afvis."))],
    )
    reason = TextAreaField(
        _l("Begrundelse"),
        filters=[strip],
        validators=[Optional(), MaxLength(REASON_MAX), no_cpr_number],
        description=_l("Sendes til medarbejderen sammen med beslutningen. Højst 500 tegn."),
    )
