"""Forms for logging in and (later) for users, staff roles, units and the staff import."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from app.core.i18n import _l


class LoginForm(FlaskForm):
    email = EmailField(
        _l("E-mail"),
        validators=[
            DataRequired(message=_l("Skriv din e-mailadresse.")),
            Email(message=_l("Skriv en gyldig e-mailadresse.")),
        ],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        _l("Adgangskode"),
        validators=[DataRequired(message=_l("Skriv din adgangskode.")), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
