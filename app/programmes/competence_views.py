"""The competence overview pages (issue 24): for coordinators every unit, for leaders the units they lead
(app.programmes.competence; who leads what: app.accounts.directory.leaders). Reads are audited like the other pages
that show people: one entry naming everybody shown."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request, send_file
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.accounts.directory.leaders import Leadership, load_leadership
from app.accounts.models import StaffRole
from app.audit.services import record_read
from app.core import clock
from app.core.access import AccessLevel, allow
from app.core.downloads import as_attachment
from app.core.fields import id_choices
from app.core.templating import dk_date
from app.extensions import db
from app.programmes import competence
from app.programmes.forms import CompetenceFilterForm
from app.reporting.exports import XlsxSheet, write_xlsx

bp = Blueprint("competence", __name__, url_prefix="/competence")

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _leadership() -> Leadership:
    """The unit tree and its leaders, read once per request (the access check and the view both need it)."""
    if "leadership" not in g:
        g.leadership = load_leadership()
    return g.leadership


def _visible() -> set[int]:
    return competence.visible_units(_leadership(), current_user)


def may_see_overview(user, **_kwargs) -> bool:
    """A coordinator, or a staff member who leads at least one unit."""
    return user.access_level == AccessLevel.COORDINATOR or bool(user.is_leader)


def may_see_unit(user, unit_id: int, **_kwargs) -> bool:
    """The unit exists and is one the user may see: any for a coordinator, one they lead for staff."""
    return unit_id in competence.visible_units(_leadership(), user)


@bp.get("/")
@allow(AccessLevel.COORDINATOR, AccessLevel.STAFF, check=may_see_overview)
def overview_index():
    """The units whose overview the user may open: all top units for the coordinator, their own for a leader."""
    leadership = _leadership()
    return render_template("programmes/competence_index.html", units=competence.top_units(leadership, _visible()))


def _overview(unit_id: int, action: str) -> tuple[competence.Overview, CompetenceFilterForm]:
    """The overview with the filters of the request (?rolle=, ?enhed=): a tampered or stale filter is shown
    as an error next to its field and ignored, never a 500. The read of the people it shows is audited as
    `action`."""
    leadership = _leadership()
    visible = _visible()
    scope = leadership.subtree(unit_id) & visible
    form = CompetenceFilterForm(request.args)
    english = str(get_locale()) == "en"
    form.rolle.choices = id_choices(
        _("Alle"),
        [
            (r.id, r.name_en if english and r.name_en else r.name)
            for r in db.session.scalars(select(StaffRole).order_by(StaffRole.name))
        ],
    )
    form.enhed.choices = id_choices(_("Alle"), [(u.id, u.path) for u in competence.unit_choices(leadership, scope)])
    form.validate()

    def value(name: str) -> int | None:
        return None if form[name].errors else form[name].data

    overview = competence.competence_overview(
        leadership, unit_id, visible, clock.today(), role_id=value("rolle"), sub_unit_id=value("enhed")
    )
    record_read(
        action,
        object_type="unit",
        object_id=unit_id,
        details={"people": len(overview.rows)},
        shown=[row.user_id for row in overview.rows],
    )
    return overview, form


@bp.get("/units/<int:unit_id>")
@allow(AccessLevel.COORDINATOR, AccessLevel.STAFF, check=may_see_unit)
def unit_overview(unit_id: int):
    """Staff × methods for the unit and the units below it that the user may see; filter by staff role and
    sub-unit (a GET form)."""
    overview, form = _overview(unit_id, "competence.view")
    filter_args = {key: arg for key, arg in request.args.items() if key in form and arg and not form[key].errors}
    return render_template("programmes/competence.html", o=overview, form=form, filter_args=filter_args)


@bp.get("/units/<int:unit_id>/overview.xlsx")
@allow(AccessLevel.COORDINATOR, AccessLevel.STAFF, check=may_see_unit)
def unit_overview_xlsx(unit_id: int):
    """The overview as it is filtered, as an Excel workbook: a date where completed, the enrolment's status
    where enrolled."""
    overview, _form = _overview(unit_id, "competence.export")
    english = str(get_locale()) == "en"
    rows = []
    for row in overview.rows:
        values: list = [
            row.name,
            (row.staff_role_en if english and row.staff_role_en else row.staff_role) or "",
            row.unit,
        ]
        for method in overview.methods:
            cell = row.cell(method.id)
            if cell.completed_on is not None:
                values.append(cell.completed_on)
            elif cell.enrolled is not None:
                values.append(
                    _("%(status)s (starter %(date)s)", status=cell.enrolled.label, date=dk_date(cell.starts_on))
                )
            else:
                values.append(None)
        rows.append(values)
    sheet = XlsxSheet(
        title=_("Kompetenceoverblik"),
        header=[
            _("Navn"),
            _("Stillingsbetegnelse"),
            _("Enhed"),
            *((m.name_en if english and m.name_en else m.name) for m in overview.methods),
        ],
        rows=rows,
        text_columns=frozenset({0, 1, 2}),
    )
    body = write_xlsx([sheet])
    prefix = _("kompetenceoverblik")  # outside the f-string: Babel on Python 3.11 does not extract from one
    name = f"{prefix}-{clock.today().isoformat()}.xlsx"
    response = send_file(
        body, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=name, max_age=0, conditional=False, etag=False
    )
    return as_attachment(response, _ascii(name), name)


def _ascii(name: str) -> str:
    return name.encode("ascii", "replace").decode("ascii").replace("?", "_")
