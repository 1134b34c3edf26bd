"""The sign-in forms: logging in, asking for a reset link, choosing and changing a password.

Field shape and single-field checks only; the password policy (app.accounts.signin.passwords) is the
services' to check, and their refusals are mapped back onto these fields by the views.
"""

from flask import request
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo

from app.core.i18n import _l
from app.core.validators import MaxLength


class FormBodyOnly(FlaskForm):
    """A form read from a form-encoded body only, never from JSON (Flask-WTF reads both by default).

    The throttled forms (login, password reset) need it: the limits key on `request.form` (app.accounts.
    throttling), so a JSON body would be checked by the view under a key the limiter never counted."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            wrapped = super().wrap_formdata(form, formdata)
            if wrapped is not None and request.is_json:
                return request.form  # empty: the form is not submitted, nothing is looked up or counted
            return wrapped


class LoginForm(FormBodyOnly):
    email = EmailField(
        _l("E-mail"),
        # No format check here: a wrong address simply fails to log in, with the one generic message.
        validators=[DataRequired(message=_l("Skriv din e-mailadresse.")), MaxLength(254)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        _l("Adgangskode"),
        validators=[DataRequired(message=_l("Skriv din adgangskode.")), MaxLength(200)],
        render_kw={"autocomplete": "current-password"},
    )


#: A typed password longer than this is refused by the form before anything hashes it (the policy's own
#: maximum, 128, gives the message when one is set).
_PASSWORD_FIELD_MAX = 1000


class ForgotPasswordForm(FormBodyOnly):
    email = EmailField(
        _l("E-mail"),
        validators=[DataRequired(message=_l("Skriv din e-mailadresse.")), MaxLength(254)],
        description=_l("Den e-mailadresse, du logger ind med."),
        render_kw={"autocomplete": "username"},
    )


def _typed_password(label, missing, *, autocomplete: str = "new-password") -> PasswordField:
    """A password the user types; the policy (app.accounts.signin.passwords) is the service's to check."""
    return PasswordField(
        label,
        validators=[DataRequired(message=missing), MaxLength(_PASSWORD_FIELD_MAX)],
        render_kw={"autocomplete": autocomplete},
    )


def _repeated_password(of: str, missing) -> PasswordField:
    """The new password typed again: it must equal the field named `of`."""
    return PasswordField(
        _l("Gentag den nye adgangskode"),
        validators=[DataRequired(message=missing), EqualTo(of, message=_l("De to adgangskoder er ikke ens."))],
        render_kw={"autocomplete": "new-password"},
    )


class SetPasswordForm(FlaskForm):
    """A new password, twice (password reset and invitation); the policy is checked by the service."""

    password = _typed_password(_l("Ny adgangskode"), _l("Skriv en adgangskode."))
    confirm = _repeated_password("password", _l("Skriv adgangskoden igen."))


class ChangePasswordForm(FlaskForm):
    current_password = _typed_password(
        _l("Nuværende adgangskode"), _l("Skriv din nuværende adgangskode."), autocomplete="current-password"
    )
    new_password = _typed_password(_l("Ny adgangskode"), _l("Skriv en ny adgangskode."))
    confirm = _repeated_password("new_password", _l("Skriv den nye adgangskode igen."))
