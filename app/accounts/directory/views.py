"""The coordinator's directory pages, on the accounts blueprint: users (list, create, edit, invitations),
the staff import, staff roles, and units with their leaders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from app.accounts.blueprint import bp
from app.accounts.directory import leaders, services
from app.accounts.directory.forms import (
    ACCESS_LEVEL_LABELS,
    ImportConfirmForm,
    StaffImportForm,
    StaffRoleForm,
    UnitForm,
    UnitLeaderForm,
    UserFilterForm,
    UserForm,
    id_choices,
)
from app.accounts.directory.importing import column_labels
from app.accounts.models import StaffRole, Unit, User
from app.accounts.queries import search_staff
from app.accounts.signin import credentials
from app.accounts.signin.passwords import policy_description
from app.audit.services import record_read, record_shown
from app.core import clock, transaction
from app.core.access import AccessLevel, allow
from app.core.exceptions import DomainError
from app.core.transaction import refused
from app.enrolment.coordinator_forms import PersonSearchForm
from app.extensions import db

USERS_PER_PAGE = 25


def _actor() -> User:
    return current_user._get_current_object()


# --- users --------------------------------------------------------------------------------------------


def _unit_choices(empty_label: str):
    return id_choices(empty_label, [(node.unit.id, node.path) for node in services.list_unit_tree()])


def _staff_role_choices(empty_label: str):
    return id_choices(empty_label, [(role.id, role.name) for role in services.list_staff_roles()])


@bp.get("/users")
@allow(AccessLevel.COORDINATOR)
def user_list():
    """All users (staff, coordinators, provider users), filtered and paginated, for coordinators."""
    form = UserFilterForm(request.args)
    form.staff_role.choices = _staff_role_choices(_("Alle"))
    form.unit.choices = _unit_choices(_("Alle"))
    form.validate()  # a tampered or stale filter is shown as an error and ignored, never a 500

    def value(name: str):
        return None if form[name].errors else form[name].data

    filters = services.UserFilters(
        q=value("q") or "",
        access_level=value("access_level"),
        staff_role_id=value("staff_role"),
        unit_id=value("unit"),
        active={"yes": True, "no": False}.get(value("active") or ""),
    )
    page = services.list_users(filters, page=request.args.get("page", 1, type=int), per_page=USERS_PER_PAGE)
    filter_args = {key: arg for key, arg in request.args.items() if key != "page" and key in form and arg}
    html = render_template(
        "accounts/user_list.html",
        form=form,
        page=page,
        filter_args=filter_args,
        access_labels=ACCESS_LEVEL_LABELS,
        without_password=credentials.count_without_password(),
    )
    searched = {
        name: str(value)
        for name, value in (
            ("access_level", filters.access_level),
            ("staff_role", filters.staff_role_id),
            ("unit", filters.unit_id),
            ("active", filters.active),
        )
        if value is not None
    }
    if filters.q.strip() or searched:
        record_read(
            "user.search",
            details={"q": filters.q.strip(), "filters": searched, "results": page.total},
            shown=page.items,
        )
    else:
        record_shown("user.list", page.items)
    return html


def _user_form(user: User | None = None) -> UserForm:
    form = UserForm(obj=user)
    form.staff_role_id.choices = _staff_role_choices(_("Ingen"))
    form.unit_id.choices = _unit_choices(_("Ingen"))
    form.provider_id.choices = id_choices(_("Ingen"), [(p.id, p.name) for p in services.list_providers()])
    if user is None:
        form.password.description = _(
            "Lad feltet stå tomt, og send brugeren en invitation til selv at vælge adgangskode. %(rule)s",
            rule=policy_description(),
        )
    else:
        form.password.description = _(
            "Udfyld kun, hvis adgangskoden skal skiftes. Brugeren logges af alle steder. %(rule)s",
            rule=policy_description(),
        )
    return form


def _user_data(form: UserForm) -> services.UserData:
    return services.UserData(
        name=form.name.data,
        email=form.email.data,
        access_level=form.access_level.data,
        staff_role_id=form.staff_role_id.data,
        unit_id=form.unit_id.data,
        provider_id=form.provider_id.data,
        active=form.active.data,
        password=form.password.data if (form.password.data or "").strip() else None,  # blank keeps the password
    )


@bp.route("/users/new", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def user_create():
    """Create a user (coordinator)."""
    form = _user_form()
    if form.validate_on_submit():
        try:
            user = services.create_user(actor=_actor(), data=_user_data(form))
        except DomainError as exc:
            refused(exc, form)
        else:
            flash(_("Brugeren %(name)s er oprettet.", name=user.name), "success")
            return redirect(url_for("accounts.user_list"))
    return render_template("accounts/user_edit.html", form=form, user=None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def user_edit(user_id: int):
    """Change a user's details, access, status or password (coordinator)."""
    user = db.get_or_404(User, user_id)
    if user.is_anonymised:
        abort(404)  # nothing personal left to edit, and it must never log in again
    form = _user_form(user)
    if form.validate_on_submit():
        try:
            services.update_user(user, actor=_actor(), data=_user_data(form), now=clock.utcnow())
        except DomainError as exc:
            refused(exc, form)
        else:
            flash(_("Brugeren %(name)s er gemt.", name=user.name), "success")
            return redirect(url_for("accounts.user_list"))
    html = render_template("accounts/user_edit.html", form=form, user=user)
    if request.method == "GET":
        record_read("user.view", subject=user, object_type="user", object_id=user.id)
    return html


@bp.post("/users/<int:user_id>/invite")
@allow(AccessLevel.COORDINATOR)
def user_invite(user_id: int):
    """Mail a user without a password a link to choose one (again: the newest link replaces older ones)."""
    user = db.get_or_404(User, user_id)
    try:
        credentials.send_invitation(user, actor=_actor(), now=clock.utcnow())
    except DomainError as exc:
        refused(exc)
    else:
        flash(
            _("Invitationen til %(name)s er sat i kø under Udgående mails og sendes om lidt.", name=user.name),
            "success",
        )
    return redirect(url_for("accounts.user_edit", user_id=user.id))


@bp.post("/users/invite-all")
@allow(AccessLevel.COORDINATOR)
def user_invite_all():
    """Invite every active user without a password who has no valid invitation yet."""
    result = credentials.send_invitations_to_all(actor=_actor(), now=clock.utcnow())
    if result.sent:
        flash(
            ngettext(
                "%(num)s invitation er sat i kø under Udgående mails.",
                "%(num)s invitationer er sat i kø under Udgående mails.",
                result.sent,
            ),
            "success",
        )
    else:
        flash(_("Der var ingen at invitere."), "info")
    if result.skipped_recent:
        flash(
            ngettext(
                "%(num)s bruger har allerede en gyldig invitation og fik ikke en ny.",
                "%(num)s brugere har allerede en gyldig invitation og fik ikke en ny.",
                result.skipped_recent,
            ),
            "info",
        )
    return redirect(url_for("accounts.user_list"))


# --- staff import -------------------------------------------------------------------------------------


def _pending_dir() -> Path:
    return Path(current_app.instance_path) / "imports"


def _import_page(form: StaffImportForm):
    return render_template("accounts/user_import.html", form=form, columns=column_labels())


@bp.route("/users/import", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def user_import():
    """Upload the staff file from the HR system and see, row by row, what importing it would do."""
    form = StaffImportForm()
    if not form.validate_on_submit():
        return _import_page(form)
    upload = form.file.data
    try:
        preview = services.preview_staff_file(
            upload.read(), upload.filename or "", actor=_actor(), pending_dir=_pending_dir(), now=clock.utcnow()
        )
    except DomainError as exc:
        refused(exc, form)
        return _import_page(form)
    confirm_form = ImportConfirmForm(token=preview.token) if preview.token else None
    return render_template("accounts/user_import_preview.html", preview=preview, confirm_form=confirm_form)


@bp.post("/users/import/confirm")
@allow(AccessLevel.COORDINATOR)
def user_import_confirm():
    """Import the previewed rows, all or nothing, after checking them again."""
    form = ImportConfirmForm()
    try:
        result = services.confirm_staff_import(
            form.token.data, actor=_actor(), pending_dir=_pending_dir(), now=clock.utcnow()
        )
    except services.ImportRejected as exc:
        refused(exc)
        return render_template("accounts/user_import_preview.html", preview=exc.preview, confirm_form=None)
    except DomainError as exc:
        refused(exc)
        return redirect(url_for("accounts.user_import"))
    except IntegrityError:
        # Someone created one of these users at the same moment: the unique email caught it.
        transaction.discard()
        flash(_("Data blev ændret samtidig med importen. Intet er importeret. Upload filen igen."), "error")
        return redirect(url_for("accounts.user_import"))
    flash(
        _(
            "Importen er gennemført: %(created)s oprettet, %(updated)s opdateret, %(unchanged)s uændret.",
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
        ),
        "success",
    )
    return redirect(url_for("accounts.user_list"))


# --- staff roles --------------------------------------------------------------------------------------


@bp.get("/staff-roles")
@allow(AccessLevel.COORDINATOR)
def staff_role_list():
    """Staff roles with how many users hold each (coordinator)."""
    return render_template("accounts/staff_role_list.html", rows=services.list_staff_roles_with_usage())


def _save_and_list(form, save, saved: Callable[[Any], str], list_endpoint: str) -> Response | None:
    """A submitted, valid form: `save()` it, flash `saved(record)` and go back to the list. None when the
    form page is to be shown (again): not submitted, not valid, or refused (the reason next to its field)."""
    if not form.validate_on_submit():
        return None
    try:
        saved_record = save()
    except DomainError as exc:
        refused(exc, form)
        return None
    flash(saved(saved_record), "success")
    return redirect(url_for(list_endpoint))


def _delete_and_list(delete: Callable[[], None], deleted: str, list_endpoint: str) -> Response:
    """`delete()` and say `deleted`, or show why the service refused; either way back to the list."""
    try:
        delete()
    except DomainError as exc:
        refused(exc)
    else:
        flash(deleted, "success")
    return redirect(url_for(list_endpoint))


@bp.route("/staff-roles/new", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def staff_role_create():
    """Add a staff role (coordinator)."""
    form = StaffRoleForm()
    done = _save_and_list(
        form,
        lambda: services.create_staff_role(actor=_actor(), name=form.name.data, name_en=form.name_en.data),
        lambda role: _("Stillingsbetegnelsen %(name)s er oprettet.", name=role.name),
        "accounts.staff_role_list",
    )
    return done or render_template("accounts/staff_role_edit.html", form=form, role=None)


@bp.route("/staff-roles/<int:role_id>/edit", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def staff_role_edit(role_id: int):
    """Rename a staff role (coordinator)."""
    role = db.get_or_404(StaffRole, role_id)
    form = StaffRoleForm(obj=role)
    done = _save_and_list(
        form,
        lambda: services.update_staff_role(role, actor=_actor(), name=form.name.data, name_en=form.name_en.data),
        lambda role: _("Stillingsbetegnelsen %(name)s er gemt.", name=role.name),
        "accounts.staff_role_list",
    )
    return done or render_template("accounts/staff_role_edit.html", form=form, role=role)


@bp.post("/staff-roles/<int:role_id>/delete")
@allow(AccessLevel.COORDINATOR)
def staff_role_delete(role_id: int):
    """Delete an unused staff role (coordinator)."""
    role = db.get_or_404(StaffRole, role_id)
    return _delete_and_list(
        lambda: services.delete_staff_role(role, actor=_actor()),
        _("Stillingsbetegnelsen %(name)s er slettet.", name=role.name),
        "accounts.staff_role_list",
    )


# --- units --------------------------------------------------------------------------------------------


@bp.get("/units")
@allow(AccessLevel.COORDINATOR)
def unit_list():
    """Units as a tree, each parent followed by its sub-units (coordinator)."""
    return render_template("accounts/unit_list.html", nodes=services.list_unit_tree())


def _unit_form(unit: Unit | None = None) -> UnitForm:
    form = UnitForm(obj=unit)
    form.parent_id.choices = _unit_choices(_("Ingen (øverste niveau)"))
    return form


@bp.route("/units/new", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def unit_create():
    """Add a unit (coordinator)."""
    form = _unit_form()
    done = _save_and_list(
        form,
        lambda: services.create_unit(actor=_actor(), name=form.name.data, parent_id=form.parent_id.data),
        lambda unit: _("Enheden %(name)s er oprettet.", name=unit.name),
        "accounts.unit_list",
    )
    return done or render_template("accounts/unit_edit.html", form=form, unit=None)


def _unit_page(unit: Unit, form: UnitForm):
    """The unit's page: its form, its leaders (own or inherited) and the person search to add one (?q=)."""
    search = PersonSearchForm(request.args)
    found = search_staff(search.text())
    own = leaders.own_leaders(unit)
    ancestor, inherited = leaders.inherited_leaders(unit) if not own else (None, [])
    # One entry for the page: the leaders it names, and the people a search found (logged even when none).
    shown = [*own, *inherited, *(found[0] if found else [])]
    if found is not None:
        record_read(
            "unit.person_search",
            object_type="unit",
            object_id=unit.id,
            details={"q": search.text(), "results": len(found[0])},
            shown=shown,
        )
    else:
        record_shown("unit.view", shown, object_type="unit", object_id=unit.id)
    return render_template(
        "accounts/unit_edit.html",
        form=form,
        unit=unit,
        leaders=own,
        inherited_from=ancestor,
        inherited=inherited,
        leader_form=UnitLeaderForm(formdata=None),
        search=search,
        candidates=found,
        leader_ids={person.id for person in own},
        directory_leader_ids=leaders.directory_leader_ids(unit) if own else set(),
    )


@bp.route("/units/<int:unit_id>/edit", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def unit_edit(unit_id: int):
    """Rename a unit or move it under another parent, and see and set its leaders (coordinator)."""
    unit = db.get_or_404(Unit, unit_id)
    form = _unit_form(unit)
    done = _save_and_list(
        form,
        lambda: services.update_unit(unit, actor=_actor(), name=form.name.data, parent_id=form.parent_id.data),
        lambda unit: _("Enheden %(name)s er gemt.", name=unit.name),
        "accounts.unit_list",
    )
    return done or _unit_page(unit, form)


@bp.post("/units/<int:unit_id>/leaders")
@allow(AccessLevel.COORDINATOR)
def unit_leader_add(unit_id: int):
    """Make a staff member, found with the person search, a leader of the unit (coordinator)."""
    unit = db.get_or_404(Unit, unit_id)
    form = UnitLeaderForm()
    if form.validate_on_submit():
        try:
            person = leaders.add_leader(unit, form.user_id.data, actor=_actor())
        except DomainError as exc:
            refused(exc)
        else:
            flash(_("%(name)s er nu leder af %(unit)s.", name=person.name, unit=unit.name), "success")
            return redirect(url_for("accounts.unit_edit", unit_id=unit.id, _anchor="ledere"))
    else:
        flash(_("Søg medarbejderen frem, og vælg Gør til leder ud for navnet."), "error")
    return redirect(url_for("accounts.unit_edit", unit_id=unit.id, q=request.args.get("q") or None, _anchor="ledere"))


@bp.post("/units/<int:unit_id>/leaders/<int:user_id>/delete")
@allow(AccessLevel.COORDINATOR)
def unit_leader_remove(unit_id: int, user_id: int):
    """Remove one of the unit's own leaders (coordinator)."""
    unit = db.get_or_404(Unit, unit_id)
    try:
        person = leaders.remove_leader(unit, user_id, actor=_actor())
    except DomainError as exc:
        refused(exc)
    else:
        flash(_("%(name)s er ikke længere leder af %(unit)s.", name=person.name, unit=unit.name), "success")
    return redirect(url_for("accounts.unit_edit", unit_id=unit.id, _anchor="ledere"))


@bp.post("/units/<int:unit_id>/delete")
@allow(AccessLevel.COORDINATOR)
def unit_delete(unit_id: int):
    """Delete a unit without users or sub-units (coordinator)."""
    unit = db.get_or_404(Unit, unit_id)
    return _delete_and_list(
        lambda: services.delete_unit(unit, actor=_actor()),
        _("Enheden %(name)s er slettet.", name=unit.name),
        "accounts.unit_list",
    )
