"""The leaver anonymisation's confirmation: the coordinator types the person's name."""

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired

from app.core.i18n import _l
from app.core.validators import MaxLength


class AnonymiseUserForm(FlaskForm):
    confirm_name = StringField(
        _l("Skriv brugerens fulde navn for at bekræfte"),
        description=_l("Anonymiseringen kan ikke fortrydes."),
        validators=[DataRequired(message=_l("Skriv brugerens navn for at bekræfte.")), MaxLength(200)],
        render_kw={"autocomplete": "off"},
    )
