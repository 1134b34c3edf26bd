"""The coordinator's form mapping a directory job title to a staff role, or a department to a unit."""

from __future__ import annotations

from flask_wtf import FlaskForm

from app.accounts.directory.forms import IdSelectField
from app.accounts.directory.services import list_staff_roles, list_unit_tree
from app.core.fields import id_choices
from app.core.i18n import _l
from app.scim.models import MappingKind, ScimValueMapping


class MappingForm(FlaskForm):
    target = IdSelectField(_l("Tilknyttet"))

    def __init__(self, mapping: ScimValueMapping | None = None, **kwargs):
        if mapping is None:  # no choices: nothing can be chosen (the form is always made with its mapping)
            super().__init__(**kwargs)
            self.target.choices = []
            return
        current = mapping.staff_role_id if mapping.kind == MappingKind.TITLE else mapping.unit_id
        super().__init__(data={"target": current}, **kwargs)
        if mapping.kind == MappingKind.TITLE:
            self.target.label.text = _l("Stillingsbetegnelse i Kursusportalen")
            self.target.description = _l(
                "Medarbejdere med denne jobtitel i kommunens katalog får denne stillingsbetegnelse."
            )
            self.target.choices = id_choices(
                _l("Ingen (ikke tilknyttet)"), ((r.id, r.name) for r in list_staff_roles())
            )
        else:
            self.target.label.text = _l("Enhed i Kursusportalen")
            self.target.description = _l("Medarbejdere i denne afdeling i kommunens katalog hører til denne enhed.")
            self.target.choices = id_choices(
                _l("Ingen (ikke tilknyttet)"), ((node.unit.id, node.path) for node in list_unit_tree())
            )

    def target_id(self) -> int | None:
        return self.target.data
