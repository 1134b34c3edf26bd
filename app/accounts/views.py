"""Login and logout; user, staff-role and unit administration and the staff import for coordinators."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from sqlalchemy.exc import IntegrityError

from app.accounts import services
from app.accounts.forms import (
    ACCESS_LEVEL_LABELS,
    ImportConfirmForm,
    LoginForm,
    StaffImportForm,
    StaffRoleForm,
    UnitForm,
    UserFilterForm,
    UserForm,
    id_choices,
)
from app.accounts.importing import column_labels
from app.accounts.models import StaffRole, Unit, User
from app.accounts.services import authenticate
from app.accounts.sessions import METHOD_PASSWORD, start_session
from app.core import clock
from app.core.access import ALL_LEVELS, AccessLevel, allow, public
from app.core.exceptions import DomainError, ValidationFailed
from app.extensions import db, login_manager

bp = Blueprint("accounts", __name__)

USERS_PER_PAGE = 25


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


login_manager.login_view = "accounts.login"
login_manager.login_message = None  # the login page explains itself


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Log in with email and password."""
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append(_("Forkert e-mail eller adgangskode."))
        else:
            next_url = _safe_next(request.args.get("next"))
            start_session(user, method=METHOD_PASSWORD)
            return redirect(next_url or url_for("main.home"))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@allow(*ALL_LEVELS)
def logout():
    """Log out (POST with CSRF, so another site cannot log you out)."""
    logout_user()
    session.clear()
    flash(_("Du er logget af."), "success")
    return redirect(url_for("accounts.login"))


def _show_error(form, exc: DomainError) -> None:
    """Put a service's error next to its field (FlaskBB's populate_errors), or flash it."""
    errors = exc.errors if isinstance(exc, ValidationFailed) else {exc.field: [exc.message]}
    for name, messages in errors.items():
        if name and name in form:
            form[name].errors = list(form[name].errors) + list(messages)
        else:
            for message in messages:
                flash(message, "error")


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
    return render_template(
        "accounts/user_list.html",
        form=form,
        page=page,
        filter_args=filter_args,
        access_labels=ACCESS_LEVEL_LABELS,
    )


def _user_form(user: User | None = None) -> UserForm:
    form = UserForm(obj=user)
    form.staff_role_id.choices = _staff_role_choices(_("Ingen"))
    form.unit_id.choices = _unit_choices(_("Ingen"))
    form.provider_id.choices = id_choices(_("Ingen"), [(p.id, p.name) for p in services.list_providers()])
    if user is None:
        form.password.description = _(
            "Uden adgangskode kan brugeren ikke logge ind endnu. Mindst 10 tegn."
        )
    else:
        form.password.description = _("Udfyld kun, hvis adgangskoden skal skiftes. Mindst 10 tegn.")
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
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _show_error(form, exc)
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
            services.update_user(user, actor=_actor(), data=_user_data(form))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            flash(_("Brugeren %(name)s er gemt.", name=user.name), "success")
            return redirect(url_for("accounts.user_list"))
    return render_template("accounts/user_edit.html", form=form, user=user)


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
        _show_error(form, exc)
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
        db.session.commit()
    except services.ImportRejected as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return render_template("accounts/user_import_preview.html", preview=exc.preview, confirm_form=None)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("accounts.user_import"))
    except IntegrityError:
        # Someone created one of these users at the same moment: the unique email caught it.
        db.session.rollback()
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


@bp.route("/staff-roles/new", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def staff_role_create():
    """Add a staff role (coordinator)."""
    form = StaffRoleForm()
    if form.validate_on_submit():
        try:
            role = services.create_staff_role(actor=_actor(), name=form.name.data, name_en=form.name_en.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            flash(_("Stillingsbetegnelsen %(name)s er oprettet.", name=role.name), "success")
            return redirect(url_for("accounts.staff_role_list"))
    return render_template("accounts/staff_role_edit.html", form=form, role=None)


@bp.route("/staff-roles/<int:role_id>/edit", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def staff_role_edit(role_id: int):
    """Rename a staff role (coordinator)."""
    role = db.get_or_404(StaffRole, role_id)
    form = StaffRoleForm(obj=role)
    if form.validate_on_submit():
        try:
            services.update_staff_role(role, actor=_actor(), name=form.name.data, name_en=form.name_en.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            flash(_("Stillingsbetegnelsen %(name)s er gemt.", name=role.name), "success")
            return redirect(url_for("accounts.staff_role_list"))
    return render_template("accounts/staff_role_edit.html", form=form, role=role)


@bp.post("/staff-roles/<int:role_id>/delete")
@allow(AccessLevel.COORDINATOR)
def staff_role_delete(role_id: int):
    """Delete an unused staff role (coordinator)."""
    role = db.get_or_404(StaffRole, role_id)
    name = role.name
    try:
        services.delete_staff_role(role, actor=_actor())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Stillingsbetegnelsen %(name)s er slettet.", name=name), "success")
    return redirect(url_for("accounts.staff_role_list"))


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
    if form.validate_on_submit():
        try:
            unit = services.create_unit(actor=_actor(), name=form.name.data, parent_id=form.parent_id.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            flash(_("Enheden %(name)s er oprettet.", name=unit.name), "success")
            return redirect(url_for("accounts.unit_list"))
    return render_template("accounts/unit_edit.html", form=form, unit=None)


@bp.route("/units/<int:unit_id>/edit", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def unit_edit(unit_id: int):
    """Rename a unit or move it under another parent (coordinator)."""
    unit = db.get_or_404(Unit, unit_id)
    form = _unit_form(unit)
    if form.validate_on_submit():
        try:
            services.update_unit(unit, actor=_actor(), name=form.name.data, parent_id=form.parent_id.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            flash(_("Enheden %(name)s er gemt.", name=unit.name), "success")
            return redirect(url_for("accounts.unit_list"))
    return render_template("accounts/unit_edit.html", form=form, unit=unit)


@bp.post("/units/<int:unit_id>/delete")
@allow(AccessLevel.COORDINATOR)
def unit_delete(unit_id: int):
    """Delete a unit without users or sub-units (coordinator)."""
    unit = db.get_or_404(Unit, unit_id)
    name = unit.name
    try:
        services.delete_unit(unit, actor=_actor())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Enheden %(name)s er slettet.", name=name), "success")
    return redirect(url_for("accounts.unit_list"))
