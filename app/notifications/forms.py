"""Forms of the coordinator's mail outbox page: the list's filters (a GET form, no CSRF)."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from app.core.i18n import _l
from app.core.widgets import FastSelect
from app.notifications.models import OutboxStatus

#: A database id as typed in a URL: digits only, at most 10 of them (ids stop at 2**31-1).
_ID_RE = re.compile(r"[0-9]{1,10}")


def _id_or_none(value) -> int | None:
    """Coerce a choice's value (or the blank choice) to an int id, or None."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _ID_RE.fullmatch(value):
        return int(value)
    return None


class RunSelectField(SelectField):
    """A select of runs by id. A value that is not a number gets its own message (not WTForms' English
    "could not coerce"), and only that one (SelectField skips the choice check after a processing error); a
    number that is no run in the list is an invalid choice."""

    def __init__(self, *args, not_a_number_message=None, **kwargs):
        kwargs.setdefault("coerce", _id_or_none)
        super().__init__(*args, **kwargs)
        self.not_a_number_message = not_a_number_message
        self.type = "SelectField"  # the forms macro renders it as the select it is

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = valuelist[0].strip() if isinstance(valuelist[0], str) else ""
        if raw == "":
            self.data = None
        elif raw.isascii() and raw.isdigit():
            # A number too long to be an id is no run either (0 is none), without int() of a huge string.
            self.data = int(raw) if _ID_RE.fullmatch(raw) else 0
        else:
            self.data = None
            raise ValueError(self.not_a_number_message)


class OutboxFilterForm(FlaskForm):
    """Filter the outbox by status and by course run. Invalid values are ignored, with a message next to
    the field; `run.choices` are set by the view."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("Alle"))] + [SelectChoice(s.value, s.label) for s in OutboxStatus],
        default="",
        invalid_choice_message=_l("Ukendt status. Vælg en status på listen."),
    )
    run = RunSelectField(
        _l("Kursusforløb"),
        widget=FastSelect(),  # every run there is: thousands of options at national size
        not_a_number_message=_l("Kursusforløbet skal angives med sit nummer. Vælg et kursusforløb på listen."),
        invalid_choice_message=_l("Kursusforløbet findes ikke. Vælg et kursusforløb på listen."),
    )

    def set_run_choices(self, runs, any_label) -> None:
        """`runs`: (id, label) pairs, newest first, after an "all" choice."""
        self.run.choices = [SelectChoice("", any_label)] + [SelectChoice(str(run_id), label) for run_id, label in runs]

    def value(self, name: str):
        """The field's value if it is valid and chosen, else None."""
        field = self[name]
        if field.errors or field.data in (None, ""):
            return None
        return field.data
