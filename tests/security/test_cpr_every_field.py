"""Every text field of every form carries the CPR guard (app.core.validators.NoCprNumber), unless it is on the
reasoned allow-list below: so a field added tomorrow cannot forget it.

The forms are found by introspection, not listed: every module of the `app` package is imported and every
FlaskForm subclass defined there is built; each of its fields that takes typed text (StringField and its
kinds: TextAreaField, EmailField, TelField, PasswordField, HiddenField, SearchField …) is checked. Fields
of other kinds parse what is typed into a number, a date, an amount or one of a list of choices, and store
nothing else. docs/privacy.md, "The CPR guard", lists the exceptions with the same reasons.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

import app as app_package
from app.core.validators import NoCprNumber

#: (module, form, field): why a CPR-looking text is acceptable there. Passwords are never checked: the guard
#: would look inside a secret and its message would tell something about it.
ALLOWED = {
    ("app.accounts.signin.forms", "LoginForm", "email"): "only looked up to log in, never stored",
    ("app.accounts.signin.forms", "LoginForm", "password"): "a password: never checked or echoed",
    ("app.accounts.signin.forms", "ForgotPasswordForm", "email"): "only looked up to send a reset link, never stored",
    ("app.accounts.signin.forms", "SetPasswordForm", "password"): "a password: never checked or echoed",
    ("app.accounts.signin.forms", "SetPasswordForm", "confirm"): "a password: never checked or echoed",
    ("app.accounts.signin.forms", "ChangePasswordForm", "current_password"): "a password: never checked or echoed",
    ("app.accounts.signin.forms", "ChangePasswordForm", "new_password"): "a password: never checked or echoed",
    ("app.accounts.signin.forms", "ChangePasswordForm", "confirm"): "a password: never checked or echoed",
    ("app.accounts.directory.forms", "UserForm", "password"): "a password: never checked or echoed",
    ("app.accounts.directory.forms", "UserFilterForm", "q"): "a search (GET): compared, never stored",
    ("app.accounts.directory.forms", "ImportConfirmForm", "token"): "a hidden random token the server made",
    ("app.accounts.mfa.forms", "MfaCodeForm", "code"): "a one-time or recovery code: compared, never stored",
    ("app.accounts.mfa.forms", "MfaSetupForm", "code"): "a one-time code: compared, never stored",
    ("app.audit.forms", "AuditFilterForm", "actor"): "a search (GET): compared, never stored",
    ("app.audit.forms", "AuditFilterForm", "subject"): "a search (GET): compared, never stored",
    ("app.certificates.forms", "VerifyForm", "code"): "a certificate's code: only letters and digits pass the form, "
    "compared, never stored",
    ("app.courses.forms", "RunFilterForm", "q"): "a search (GET): compared, never stored",
    ("app.courses.forms", "RunFilterForm", "venue"): "a search (GET): compared, never stored",
    ("app.enrolment.coordinator_forms", "PersonSearchForm", "q"): "a search for a person (GET): compared, never stored",
    ("app.privacy.forms", "AnonymiseUserForm", "confirm_name"): "compared with the user's name, never stored",
    ("app.enrolment.forms", "ApprovalDecisionForm", "decision"): "the pressed button: approve or reject or refused "
    "by the form (AnyOf), never stored",
}


def _all_form_classes() -> list[type[FlaskForm]]:
    for module in pkgutil.walk_packages(app_package.__path__, "app."):
        importlib.import_module(module.name)
    found: dict[tuple[str, str], type[FlaskForm]] = {}
    pending = list(FlaskForm.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("app."):
            found.setdefault((cls.__module__, cls.__qualname__), cls)
    return [found[key] for key in sorted(found)]


def _text_fields(app) -> dict[tuple[str, str, str], object]:
    """(module, form, field name) → the bound field, for every text field of every form."""
    fields = {}
    with app.test_request_context():
        for cls in _all_form_classes():
            form = cls(meta={"csrf": False})
            for field in form:
                if isinstance(field, StringField):
                    fields[(cls.__module__, cls.__qualname__, field.name)] = field
    return fields


def _guarded(field) -> bool:
    return any(isinstance(validator, NoCprNumber) for validator in field.validators)


def test_the_forms_are_found(app):
    fields = _text_fields(app)
    # A sample of what must be there: the discovery itself must not silently find nothing.
    assert ("app.accounts.directory.forms", "UserForm", "name") in fields
    assert ("app.courses.forms", "CourseRunForm", "follow_up_venue") in fields
    assert ("app.programmes.feedback_forms", "FeedbackForm", "free_text") in fields
    assert len(fields) > 40


def test_every_text_field_is_guarded_or_allowed_with_a_reason(app):
    unguarded = sorted(key for key, field in _text_fields(app).items() if not _guarded(field) and key not in ALLOWED)
    assert unguarded == [], "text fields without app.core.validators.no_cpr_number(_in_name): " + ", ".join(
        ".".join(key) for key in unguarded
    )


def test_the_allow_list_holds_only_unguarded_fields_that_exist(app):
    fields = _text_fields(app)
    assert sorted(key for key in ALLOWED if key not in fields) == [], "stale allow-list entries"
    assert sorted(key for key in ALLOWED if _guarded(fields[key])) == [], "guarded fields on the allow-list"
    assert all(reason.strip() for reason in ALLOWED.values())


def test_passwords_are_never_checked(app):
    passwords = {key: field for key, field in _text_fields(app).items() if field.type == "PasswordField"}
    assert passwords
    assert sorted(key for key, field in passwords.items() if _guarded(field)) == []


def test_free_text_areas_show_the_standing_hint(app):
    """A text area is where someone writes about their work: its guard shows "Skriv ikke navne, CPR-numre …"."""
    areas = {key: field for key, field in _text_fields(app).items() if isinstance(field, TextAreaField)}
    assert areas
    assert sorted(key for key, field in areas.items() if not field.flags.no_personal_data) == []
