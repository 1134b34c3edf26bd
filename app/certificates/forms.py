"""The public verification page's form: the code printed on the certificate."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, ValidationError

from app.certificates.services import CODE_LENGTH, normalise_code
from app.core.i18n import _l


class VerifyForm(FlaskForm):
    code = StringField(
        _l("Kontrolkode"),
        validators=[DataRequired(message=_l("Skriv kontrolkoden fra kursusbeviset."))],
        description=_l("Koden står nederst på kursusbeviset, f.eks. 7KQM-X3TB-9HWD. Store og små bogstaver er ens."),
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"},
    )

    def validate_code(self, field) -> None:
        if normalise_code(field.data) is None:
            raise ValidationError(
                _l("Kontrolkoden består af %(n)s bogstaver og tal, f.eks. 7KQM-X3TB-9HWD.", n=CODE_LENGTH)
            )
