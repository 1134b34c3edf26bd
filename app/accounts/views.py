"""Login and logout, the account page, password reset and invitations; user, staff-role and unit
administration and the staff import for coordinators."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
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

from app.accounts.directory import leaders, services
from app.accounts.directory.importing import column_labels
from app.accounts.directory.services import authenticate
from app.accounts.forms import (
    ACCESS_LEVEL_LABELS,
    ChangePasswordForm,
    ForgotPasswordForm,
    ImportConfirmForm,
    LoginForm,
    SetPasswordForm,
    StaffImportForm,
    StaffRoleForm,
    UnitForm,
    UnitLeaderForm,
    UserFilterForm,
    UserForm,
    id_choices,
)
from app.accounts.mfa import services as mfa
from app.accounts.mfa import views as mfa_views
from app.accounts.models import StaffRole, Unit, User
from app.accounts.queries import search_staff
from app.accounts.signin import credentials, tokens
from app.accounts.signin.passwords import policy_description
from app.accounts.signin.sessions import (
    METHOD_INVITATION,
    METHOD_PASSWORD,
    end_session,
    keep_current_session,
    start_session,
)
from app.accounts.signin.throttling import (
    clear_login_counters,
    count_failure,
    limit_logins,
    limit_password_changes,
    limit_reset_requests,
)
from app.audit.services import record_read, record_shown
from app.core import clock
from app.core.access import ALL_LEVELS, AccessLevel, allow, public
from app.core.exceptions import DomainError
from app.core.transaction import refused
from app.core.urls import local_path
from app.enrolment.coordinator_forms import PersonSearchForm
from app.extensions import db, login_manager

bp = Blueprint("accounts", __name__)

USERS_PER_PAGE = 25


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


login_manager.login_view = "accounts.login"
login_manager.login_message = None  # the login page explains itself


def _safe_next(target: str | None) -> str | None:
    return local_path(target)


@bp.route("/login", methods=["GET", "POST"])
@public
@limit_logins
def login():
    """Log in with email and password (throttled: app.accounts.signin.throttling)."""
    form = LoginForm()
    if form.validate_on_submit():
        now = clock.utcnow()
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            count_failure()
            credentials.record_login_failure(form.email.data, now=now)
            form.password.errors.append(_("Forkert e-mail eller adgangskode."))
        else:
            next_url = _safe_next(request.args.get("next"))
            if mfa.needs_second_factor(user):  # not logged in yet: the code (or enrolment) comes first
                return mfa_views.begin(user, next_url)
            start_session(user, method=METHOD_PASSWORD)
            credentials.record_login(user, method=METHOD_PASSWORD, now=now)
            return redirect(next_url or url_for("main.home"))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@allow(*ALL_LEVELS)
def logout():
    """Log out, ending every session of the user (POST with CSRF, so another site cannot log you out)."""
    credentials.log_out(_actor(), now=clock.utcnow())
    end_session()
    flash(_("Du er logget af."), "success")
    return redirect(url_for("accounts.login"))


# --- the account page ---------------------------------------------------------------------------------


def _account_page(form: ChangePasswordForm, status: int = 200):
    form.new_password.description = policy_description()
    return render_template("accounts/account.html", form=form, access_labels=ACCESS_LEVEL_LABELS), status


@bp.get("/account")
@allow(*ALL_LEVELS)
def account():
    """The logged-in user's own account: who they are, change password, log out everywhere."""
    return _account_page(ChangePasswordForm())


@bp.post("/account/password")
@allow(*ALL_LEVELS)
@limit_password_changes
def change_password():
    """Change one's own password: every other session ends, this one goes on."""
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(form, 400)
    user = _actor()
    try:
        credentials.change_password(
            user,
            current_password=form.current_password.data,
            new_password=form.new_password.data,
            now=clock.utcnow(),
        )
    except DomainError as exc:
        if "current_password" in getattr(exc, "errors", {}):
            count_failure()
        refused(exc, form)
        return _account_page(form, 400)
    keep_current_session(user)
    flash(_("Din adgangskode er skiftet. Du er logget af alle andre steder."), "success")
    return redirect(url_for("accounts.account"))


@bp.post("/account/logout-everywhere")
@allow(*ALL_LEVELS)
def logout_everywhere():
    """End every session of the user, this one included, on every device."""
    credentials.log_out_everywhere(_actor(), now=clock.utcnow())
    end_session()
    flash(_("Du er logget af alle steder, også her."), "success")
    return redirect(url_for("accounts.login"))


# --- password reset and invitations (anonymous, by signed link) ---------------------------------------


def _no_referrer(response):
    """Pages whose address holds a token: never leak it in a Referer header."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _link_refused(problem: tokens.TokenProblem, kind: str):
    status = 400 if problem == tokens.TokenProblem.INVALID else 410
    page = render_template("accounts/link_refused.html", problem=problem.value, kind=kind)
    return _no_referrer(make_response(page, status))


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@limit_reset_requests
def password_forgot():
    """Ask for a reset link by mail; the answer is the same whether the account exists or not."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        credentials.request_password_reset(form.email.data, now=clock.utcnow())
        return render_template("accounts/password_forgot_sent.html", hours=current_app.config["PASSWORD_RESET_HOURS"])
    return render_template("accounts/password_forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
def password_reset(token: str):
    """Choose a new password through the mailed link."""
    try:
        user = tokens.user_for_reset_token(token)
    except tokens.TokenRefused as exc:
        return _link_refused(exc.problem, "reset")
    form = SetPasswordForm()
    form.password.description = policy_description()
    if form.validate_on_submit():
        try:
            user = credentials.reset_password(token, form.password.data, now=clock.utcnow())
        except tokens.TokenRefused as exc:
            db.session.rollback()
            return _link_refused(exc.problem, "reset")
        except DomainError as exc:
            refused(exc, form)
        else:
            clear_login_counters(user.email)  # a locked-out owner logs in with the new password at once
            end_session()
            flash(_("Din adgangskode er skiftet. Log ind med den nye adgangskode."), "success")
            return redirect(url_for("accounts.login"))
    page = render_template("accounts/password_reset.html", form=form, user=user)
    return _no_referrer(make_response(page, 400 if form.errors else 200))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str):
    """Imported staff choose their first password through the invitation link, and are logged in."""
    try:
        user = tokens.user_for_invitation_token(token)
    except tokens.TokenRefused as exc:
        return _link_refused(exc.problem, "invitation")
    form = SetPasswordForm()
    form.password.description = policy_description()
    if form.validate_on_submit():
        now = clock.utcnow()
        try:
            user = credentials.accept_invitation(token, form.password.data, now=now)
            start_session(user, method=METHOD_INVITATION)
            credentials.record_login(user, method=METHOD_INVITATION, now=now)
        except tokens.TokenRefused as exc:
            db.session.rollback()
            return _link_refused(exc.problem, "invitation")
        except DomainError as exc:
            refused(exc, form)
        else:
            flash(_("Velkommen til Kursusportalen. Din adgangskode er gemt, og du er logget ind."), "success")
            return redirect(url_for("main.home"))
    page = render_template("accounts/invitation.html", form=form, user=user)
    return _no_referrer(make_response(page, 400 if form.errors else 200))


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
