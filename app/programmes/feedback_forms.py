"""The follow-up-day feedback form: before/since per method taught in the run, earlier involvement, free text."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired

from app.core.fields import strip
from app.core.i18n import _l
from app.core.validators import MaxLength, no_cpr_number
from app.courses.models import CourseRun
from app.programmes.feedback import (
    EARLIER_SCALE,
    FREE_TEXT_MAX,
    FREQUENCY_SCALE,
    earlier_label,
    frequency_label,
)
from app.programmes.feedback_models import Feedback

_CHOOSE = _l("Vælg et svar.")


def _frequency_field(label) -> RadioField:
    return RadioField(
        label,
        choices=[SelectChoice(v, frequency_label(v)) for v in FREQUENCY_SCALE],
        validate_choice=False,
        validators=[InputRequired(message=_CHOOSE), AnyOf(FREQUENCY_SCALE, message=_CHOOSE)],
    )


class FeedbackForm(FlaskForm):
    """Build it with `for_run(run)`: two questions per method taught in the run (`m<id>_before`, `m<id>_since`)."""

    earlier_involvement = RadioField(
        _l("Inddrager du nu forældrene tidligere i sagerne?"),
        choices=[SelectChoice(v, earlier_label(v)) for v in EARLIER_SCALE],
        validate_choice=False,
        validators=[InputRequired(message=_CHOOSE), AnyOf(EARLIER_SCALE, message=_CHOOSE)],
    )
    free_text = TextAreaField(
        _l("Din oplevelse af kurset og af at bruge metoderne"),
        filters=[strip],
        validators=[MaxLength(FREE_TEXT_MAX), no_cpr_number],
        description=_l("Højst 4.000 tegn. Kursuskoordinatoren ser dit navn ved teksten; udbyderen ser den uden navn."),
    )

    #: (method, before field name, since field name) in the order of `run.methods`; set by `for_run`.
    method_fields: list = []

    @classmethod
    def for_run(cls, run: CourseRun, feedback: Feedback | None = None, **kwargs) -> FeedbackForm:
        attrs, method_fields = {}, []
        for method in run.methods:
            before, since = f"m{method.id}_before", f"m{method.id}_since"
            attrs[before] = _frequency_field(_l("Før kurset"))
            attrs[since] = _frequency_field(_l("Siden kurset"))
            method_fields.append((method, before, since))
        form_cls = type("RunFeedbackForm", (cls,), attrs)
        data = {}
        if feedback is not None:
            data["earlier_involvement"] = str(feedback.earlier_involvement)
            data["free_text"] = feedback.free_text or ""
            for answer in feedback.answers:
                data[f"m{answer.method_id}_before"] = str(answer.before)
                data[f"m{answer.method_id}_since"] = str(answer.since)
        form = form_cls(data=data, **kwargs)
        form.method_fields = method_fields
        return form

    def answers(self) -> dict[int, tuple[str | None, str | None]]:
        return {method.id: (self[before].data, self[since].data) for method, before, since in self.method_fields}
