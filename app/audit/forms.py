"""The audit page's filters (a GET form: no CSRF). Bad input is shown next to its field and ignored."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional, ValidationError

from app.audit.labels import ACTION_GROUPS, ACTION_LABELS, OBJECT_LABELS
from app.core.fields import DATE_FORMATS
from app.core.i18n import _l
from app.core.validators import MaxLength

TEXT_MAX = 200
ID_MAX = 2**31 - 1


def _after_from(form, field):
    if field.data is not None and form.date_from.data is not None and field.data < form.date_from.data:
        raise ValidationError(_l("Slutdatoen skal ligge på eller efter startdatoen."))


def _text_filter(label, description) -> StringField:
    return StringField(label, validators=[Optional(), MaxLength(TEXT_MAX)], description=description)


def _id_filter(label) -> IntegerField:
    return IntegerField(
        label, validators=[Optional(), NumberRange(min=1, max=ID_MAX, message=_l("Skriv et gyldigt id."))]
    )


def _choice_filter(label) -> SelectField:
    """Choices are set per request (labels in the user's language); "" is all."""
    return SelectField(
        label, default="", validators=[Optional()], invalid_choice_message=_l("Vælg en af mulighederne på listen.")
    )


def _date_filter(label, *validators) -> DateField:
    return DateField(
        label,
        format=DATE_FORMATS,
        validators=[Optional(), *validators],
        invalid_value_message=_l("Skriv en gyldig dato, f.eks. 05-06-2008."),
    )


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    actor = _text_filter(_l("Udført af"), _l("Navn eller e-mail på den, der gjorde det"))
    subject = _text_filter(
        _l("Personen, det handler om"), _l("Navn eller e-mail på den, hvis oplysninger det drejer sig om")
    )
    subject_id = _id_filter(_l("Personens id"))
    action = _choice_filter(_l("Handling"))
    object_type = _choice_filter(_l("Objekt"))
    object_id = _id_filter(_l("Objektets id"))
    date_from = _date_filter(_l("Fra dato"))
    date_to = _date_filter(_l("Til dato"), _after_from)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.action.choices = (
            [SelectChoice("", _l("Alle"))]
            + [SelectChoice(prefix + "*", label) for prefix, label in ACTION_GROUPS.items()]
            + sorted((SelectChoice(code, label) for code, label in ACTION_LABELS.items()), key=lambda c: str(c.label))
        )
        self.object_type.choices = [SelectChoice("", _l("Alle"))] + sorted(
            (SelectChoice(code, label) for code, label in OBJECT_LABELS.items()), key=lambda c: str(c.label)
        )
