"""Forms for providers (udbydere)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Email, Optional

from app.core.fields import none_if_empty, strip
from app.core.i18n import _l
from app.core.validators import MaxLength, no_cpr_number, no_cpr_number_in_name
from app.providers.services import ProviderData


class ProviderForm(FlaskForm):
    name = StringField(
        _l("Navn"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Skriv udbyderens navn.")),
            MaxLength(200),
            no_cpr_number_in_name,
        ],
    )
    contact_name = StringField(
        _l("Kontaktperson"),
        filters=[strip, none_if_empty],
        validators=[
            Optional(),
            MaxLength(200),
            no_cpr_number_in_name,
        ],
    )
    contact_email = EmailField(
        _l("Kontaktpersonens e-mail"),
        filters=[strip, none_if_empty],
        validators=[
            Optional(),
            MaxLength(254),
            Email(message=_l("Skriv en gyldig e-mailadresse, f.eks. kontakt@udbyder.dk.")),
            no_cpr_number_in_name,
        ],
    )
    contact_phone = TelField(
        _l("Kontaktpersonens telefon"),
        filters=[strip, none_if_empty],
        validators=[
            Optional(),
            MaxLength(40),
            no_cpr_number_in_name,
        ],
    )
    notes = TextAreaField(
        _l("Noter"),
        filters=[strip, none_if_empty],
        description=_l("F.eks. kontraktens vilkår eller hvad udbyderen underviser i."),
        validators=[Optional(), MaxLength(5000), no_cpr_number],
    )
    active = BooleanField(
        _l("Aktiv udbyder"),
        default=True,
        description=_l(
            "Kun aktive udbydere kan få nye budgetrammer og kursusforløb. "
            "Udbydere slettes ikke; fjern krydset, når samarbejdet er slut."
        ),
    )

    def as_data(self) -> ProviderData:
        return ProviderData(
            name=self.name.data,
            contact_name=self.contact_name.data,
            contact_email=self.contact_email.data,
            contact_phone=self.contact_phone.data,
            notes=self.notes.data,
            active=bool(self.active.data),
        )
