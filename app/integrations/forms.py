"""The coordinator's forms for integration clients."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from app.core.fields import strip
from app.core.i18n import _l
from app.core.validators import MaxLength, no_cpr_number_in_name
from app.courses.forms import MultiCheckboxField
from app.integrations.services import NAME_MAX_LENGTH, SCOPES


class ClientForm(FlaskForm):
    name = StringField(
        _l("Navn"),
        description=_l("Hvilket system kalder med nøglen, f.eks. »Entra ID-provisionering« eller »HR-systemet«."),
        filters=[strip],
        validators=[
            InputRequired(message=_l("Skriv et navn på klienten, f.eks. systemets navn.")),
            MaxLength(NAME_MAX_LENGTH),
            no_cpr_number_in_name,
        ],
    )
    scopes = MultiCheckboxField(
        _l("Adgange"),
        description=_l("Giv kun de adgange, systemet har brug for."),
        choices=[SelectChoice(scope, label) for scope, label in SCOPES.items()],
        validators=[InputRequired(message=_l("Vælg mindst én adgang."))],
    )
