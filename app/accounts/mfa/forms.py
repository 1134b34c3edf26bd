"""Forms for the second factor: a code (TOTP or recovery code) and buttons that only carry CSRF."""

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired

from app.core.i18n import _l
from app.core.validators import MaxLength


class MfaCodeForm(FlaskForm):
    code = StringField(
        _l("Kode"),
        validators=[DataRequired(message=_l("Skriv koden.")), MaxLength(40)],
        description=_l("Den 6-cifrede kode fra din godkendelsesapp, eller en af dine gendannelseskoder."),
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false", "autocapitalize": "off"},
    )


class MfaSetupForm(FlaskForm):
    code = StringField(
        _l("Kode fra appen"),
        validators=[DataRequired(message=_l("Skriv koden fra appen.")), MaxLength(40)],
        description=_l("Skriv den 6-cifrede kode, som appen viser nu."),
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ButtonForm(FlaskForm):
    """A POST that carries nothing but its CSRF token."""
