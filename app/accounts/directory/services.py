"""Account use cases: authentication; users, staff roles and units for coordinators; the staff import.

Services take explicit arguments (actor, now), raise DomainError subclasses and add/flush, never commit:
the view, the CLI command or the job owns the transaction.
"""

from __future__ import annotations

import enum
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import selectinload

from app.accounts.directory.importing import ImportRow, claim_pending_import, parse_staff_file, store_pending_import
from app.accounts.models import StaffRole, Unit, User, normalise_email
from app.accounts.queries import get_user_by_email
from app.accounts.signin import credentials
from app.accounts.signin.passwords import password_problems, user_inputs
from app.audit.services import changed_fields, record, snapshot
from app.core import clock
from app.core.access import AccessLevel
from app.core.db import Page, paginate
from app.core.exceptions import Conflict, DomainError, ValidationFailed
from app.core.validators import too_long_message
from app.courses.models import run_eligible_roles
from app.extensions import db
from app.providers.models import Provider

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 200
EMAIL_MAX_LENGTH = 254
STAFF_ROLE_NAME_MAX_LENGTH = 120
UNIT_NAME_MAX_LENGTH = 200


# Hashes to check against when the email is unknown, so both paths cost the same time (one per hash method).
def is_valid_email(email: str) -> bool:
    """Syntax only (no DNS): the HR system and the coordinator know the addresses exist.

    `.test` addresses are accepted because the demo data uses them.
    """
    if not email or len(email) > EMAIL_MAX_LENGTH:
        return False
    try:
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return False
    return True


def _clean(text: str | None) -> str:
    """Trim and collapse inner whitespace, so 'Sagsbehandler ' and 'Sagsbehandler' are one name."""
    return " ".join((text or "").split())


def _key(text: str) -> str:
    """Case-insensitive comparison key, done in Python: SQLite's lower() ignores æ, ø and å."""
    return _clean(text).casefold()


# --- staff roles ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffRoleUsage:
    role: StaffRole
    user_count: int
    run_count: int


def list_staff_roles() -> list[StaffRole]:
    return list(db.session.scalars(select(StaffRole).order_by(StaffRole.name)))


def list_staff_roles_with_usage() -> list[StaffRoleUsage]:
    """Every staff role with how many users hold it and how many course runs are open to it (one query)."""
    users_per_role = (
        select(User.staff_role_id.label("role_id"), func.count().label("n"))
        .where(User.staff_role_id.is_not(None))
        .group_by(User.staff_role_id)
        .subquery()
    )
    runs_per_role = (
        select(run_eligible_roles.c.staff_role_id.label("role_id"), func.count().label("n"))
        .group_by(run_eligible_roles.c.staff_role_id)
        .subquery()
    )
    user_count: ColumnElement[int] = func.coalesce(users_per_role.c.n, 0)
    run_count: ColumnElement[int] = func.coalesce(runs_per_role.c.n, 0)
    stmt = (
        select(StaffRole, user_count, run_count)
        .outerjoin(users_per_role, users_per_role.c.role_id == StaffRole.id)
        .outerjoin(runs_per_role, runs_per_role.c.role_id == StaffRole.id)
        .order_by(StaffRole.name)
    )
    return [StaffRoleUsage(role, users, runs) for role, users, runs in db.session.execute(stmt)]


def get_staff_role_by_name(name: str) -> StaffRole | None:
    """The role whose Danish (or else English) name matches, ignoring case."""
    return _staff_role_lookup().get(_key(name))


def _staff_role_lookup() -> dict[str, StaffRole]:
    roles = list_staff_roles()
    lookup = {_key(role.name_en): role for role in roles if role.name_en}
    lookup.update({_key(role.name): role for role in roles})  # the Danish name wins a clash
    return lookup


def _check_staff_role(name: str, name_en: str | None, role: StaffRole | None = None) -> tuple[str, str | None]:
    name, name_en = _clean(name), _clean(name_en) or None
    if not name:
        raise DomainError(_("Skriv stillingsbetegnelsens navn."), field="name")
    if len(name) > STAFF_ROLE_NAME_MAX_LENGTH or (name_en and len(name_en) > STAFF_ROLE_NAME_MAX_LENGTH):
        raise DomainError(too_long_message(STAFF_ROLE_NAME_MAX_LENGTH), field="name")
    taken = any(_key(other.name) == _key(name) and other is not role for other in list_staff_roles())
    if taken:
        raise Conflict(_("Der findes allerede en stillingsbetegnelse med det navn."), field="name")
    return name, name_en


def create_staff_role(*, actor: User | None, name: str, name_en: str | None = None) -> StaffRole:
    """Add a staff role (coordinator). :raises Conflict: the name is taken (field `name`)."""
    name, name_en = _check_staff_role(name, name_en)
    return _created(StaffRole(name=name, name_en=name_en), "staff_role", actor=actor)


def update_staff_role(role: StaffRole, *, actor: User | None, name: str, name_en: str | None = None) -> StaffRole:
    """Rename a staff role (coordinator). :raises Conflict: the name is taken (field `name`)."""
    before = snapshot(role, ("name", "name_en"))
    role.name, role.name_en = _check_staff_role(name, name_en, role)
    return _updated(role, "staff_role", before, actor=actor)


def delete_staff_role(role: StaffRole, *, actor: User | None) -> None:
    """Delete a staff role nobody holds and no course run is open to. :raises Conflict: it is in use."""
    users = db.session.scalar(select(func.count()).select_from(User).where(User.staff_role_id == role.id)) or 0
    runs = (
        db.session.scalar(
            select(func.count()).select_from(run_eligible_roles).where(run_eligible_roles.c.staff_role_id == role.id)
        )
        or 0
    )
    if users or runs:
        raise Conflict(
            _(
                "Stillingsbetegnelsen %(name)s kan ikke slettes, fordi den stadig er i brug (brugere: %(users)s, "
                "kursusforløb: %(runs)s). Giv brugerne en anden stillingsbetegnelse og ret kursusforløbene først.",
                name=role.name,
                users=users,
                runs=runs,
            )
        )
    _deleted(role, "staff_role", actor=actor)


# --- units --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitNode:
    """A unit in tree order: `depth` 0 for a top unit, `path` 'Socialcenter Amager › Børne- og Familieteam'."""

    unit: Unit
    depth: int
    path: str
    user_count: int
    child_count: int


def list_unit_tree() -> list[UnitNode]:
    """All units, each parent followed by its children (two queries, the tree is built here)."""
    units = list(db.session.scalars(select(Unit).order_by(Unit.name)))
    user_counts = dict(
        db.session.execute(
            select(User.unit_id, func.count()).where(User.unit_id.is_not(None)).group_by(User.unit_id)
        ).all()
    )
    children: dict[int | None, list[Unit]] = defaultdict(list)
    ids = {unit.id for unit in units}
    for unit in units:
        children[unit.parent_id if unit.parent_id in ids else None].append(unit)

    nodes: list[UnitNode] = []
    seen: set[int] = set()

    def walk(unit: Unit, depth: int, prefix: str) -> None:
        if unit.id in seen:  # a cycle in the data must not hang the page
            return
        seen.add(unit.id)
        path = f"{prefix} › {unit.name}" if prefix else unit.name
        kids = children.get(unit.id, [])
        nodes.append(UnitNode(unit, depth, path, user_counts.get(unit.id, 0), len(kids)))
        for child in kids:
            walk(child, depth + 1, path)

    for root in children.get(None, []):
        walk(root, 0, "")
    for unit in units:  # units caught in a cycle have no root: show them at the top level
        walk(unit, 0, "")
    return nodes


def get_unit_by_name(name: str) -> Unit | None:
    return _unit_lookup().get(_key(name))


def _unit_lookup() -> dict[str, Unit]:
    return {_key(unit.name): unit for unit in db.session.scalars(select(Unit))}


def _descendant_ids(unit_id: int) -> set[int]:
    """`unit_id` and every unit below it (one query)."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for child_id, parent_id in db.session.execute(select(Unit.id, Unit.parent_id)):
        children[parent_id].append(child_id)
    found, todo = set(), [unit_id]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, []))
    return found


def _check_unit(name: str, parent_id: int | None, unit: Unit | None = None) -> tuple[str, Unit | None]:
    errors: dict[str, list[str]] = {}
    name = _clean(name)
    if not name:
        errors.setdefault("name", []).append(_("Skriv enhedens navn."))
    elif len(name) > UNIT_NAME_MAX_LENGTH:
        errors.setdefault("name", []).append(too_long_message(UNIT_NAME_MAX_LENGTH))
    else:
        other = _unit_lookup().get(_key(name))
        if other is not None and other is not unit:
            errors.setdefault("name", []).append(_("Der findes allerede en enhed med det navn."))
    parent = None
    if parent_id is not None:
        parent = db.session.get(Unit, parent_id)
        if parent is None:
            errors.setdefault("parent_id", []).append(_("Den valgte overordnede enhed findes ikke."))
        elif unit is not None and unit.id is not None:
            if parent.id == unit.id:
                errors.setdefault("parent_id", []).append(_("En enhed kan ikke ligge under sig selv."))
            elif parent.id in _descendant_ids(unit.id):
                errors.setdefault("parent_id", []).append(
                    _("En enhed kan ikke ligge under en af sine egne underenheder. Vælg en anden overordnet enhed.")
                )
    if errors:
        raise ValidationFailed(errors)
    return name, parent


def create_unit(*, actor: User | None, name: str, parent_id: int | None = None) -> Unit:
    """Add a unit, optionally under a parent (coordinator). :raises ValidationFailed: name/parent."""
    name, parent = _check_unit(name, parent_id)
    return _created(Unit(name=name, parent=parent), "unit", actor=actor)


def update_unit(unit: Unit, *, actor: User | None, name: str, parent_id: int | None = None) -> Unit:
    """Rename or move a unit; it can never end up below itself. :raises ValidationFailed: name/parent."""
    before = snapshot(unit, ("name", "parent"))
    unit.name, unit.parent = _check_unit(name, parent_id, unit)
    return _updated(unit, "unit", before, actor=actor)


def delete_unit(unit: Unit, *, actor: User | None) -> None:
    """Delete a unit without users or sub-units. :raises Conflict: it is in use."""
    users = db.session.scalar(select(func.count()).select_from(User).where(User.unit_id == unit.id)) or 0
    children = db.session.scalar(select(func.count()).select_from(Unit).where(Unit.parent_id == unit.id)) or 0
    if users or children:
        raise Conflict(
            _(
                "Enheden %(name)s kan ikke slettes, fordi den stadig er i brug (brugere: %(users)s, "
                "underenheder: %(children)s). Flyt brugerne og underenhederne først.",
                name=unit.name,
                users=users,
                children=children,
            )
        )
    _deleted(unit, "unit", actor=actor)


# --- users --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserData:
    """What the user form and `flask users create` hand over. `password` None or '' keeps/sets none."""

    name: str
    email: str
    access_level: AccessLevel | str
    staff_role_id: int | None = None
    unit_id: int | None = None
    provider_id: int | None = None
    active: bool = True
    password: str | None = None


@dataclass(frozen=True)
class UserFilters:
    q: str = ""
    access_level: AccessLevel | None = None
    staff_role_id: int | None = None
    unit_id: int | None = None
    active: bool | None = None


def list_providers() -> list[Provider]:
    return list(db.session.scalars(select(Provider).order_by(Provider.name)))


def get_provider_by_name(name: str) -> Provider | None:
    return next((p for p in list_providers() if _key(p.name) == _key(name)), None)


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_users(filters: UserFilters, *, page: int, per_page: int) -> Page:
    """One page of users matching `filters`, ordered by name; role, unit and provider loaded with them."""
    stmt = (
        select(User)
        .options(selectinload(User.staff_role), selectinload(User.unit), selectinload(User.provider))
        .where(User.anonymised_at.is_(None))  # anonymised rows are statistics, not people (app.privacy)
        .order_by(User.name, User.id)
    )
    for term in filters.q.split():
        pattern = _like_pattern(term)
        stmt = stmt.where(or_(User.name.ilike(pattern, escape="\\"), User.email.ilike(pattern, escape="\\")))
    if filters.access_level is not None:
        stmt = stmt.where(User.access_level == filters.access_level)
    if filters.staff_role_id is not None:
        stmt = stmt.where(User.staff_role_id == filters.staff_role_id)
    if filters.unit_id is not None:
        stmt = stmt.where(User.unit_id.in_(_descendant_ids(filters.unit_id)))
    if filters.active is not None:
        stmt = stmt.where(User.active.is_(filters.active))
    return paginate(db.session, stmt, page, per_page)


def _check_user(data: UserData, *, user: User | None = None, actor: User | None = None) -> dict:
    """Validate `data` against the database; returns the cleaned values or raises ValidationFailed."""
    errors: dict[str, list[str]] = defaultdict(list)
    name = _clean(data.name)
    if not name:
        errors["name"].append(_("Skriv brugerens navn."))
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"].append(too_long_message(NAME_MAX_LENGTH))

    email = normalise_email(data.email or "")
    if not email:
        errors["email"].append(_("Skriv brugerens e-mailadresse."))
    elif not is_valid_email(email):
        errors["email"].append(_("Skriv en gyldig e-mailadresse."))
    else:
        other = get_user_by_email(email)
        if other is not None and other is not user:
            errors["email"].append(_("Der findes allerede en bruger med den e-mailadresse."))

    try:
        access_level = AccessLevel(data.access_level)
    except ValueError:
        access_level = None
        errors["access_level"].append(_("Vælg et adgangsniveau."))

    values: dict = {"name": name, "email": email, "access_level": access_level, "active": bool(data.active)}
    for key, model, message in (
        ("staff_role", StaffRole, _("Den valgte stillingsbetegnelse findes ikke.")),
        ("unit", Unit, _("Den valgte enhed findes ikke.")),
        ("provider", Provider, _("Den valgte udbyder findes ikke.")),
    ):
        record_id = getattr(data, f"{key}_id")
        values[key] = db.session.get(model, record_id) if record_id is not None else None
        if record_id is not None and values[key] is None:
            errors[f"{key}_id"].append(message)

    if access_level == AccessLevel.PROVIDER and data.provider_id is None:
        errors["provider_id"].append(_("Vælg den udbyder, brugeren arbejder for."))
    elif access_level is not None and access_level != AccessLevel.PROVIDER and data.provider_id is not None:
        errors["provider_id"].append(_("Kun brugere med adgangsniveauet Udbyder kan knyttes til en udbyder."))

    problems = password_problems(data.password, inputs=user_inputs(name, email)) if data.password else []
    if problems:
        errors["password"].extend(problems)

    if user is not None and actor is not None and user.id == actor.id:
        # A coordinator who locks themselves out may leave nobody able to undo it.
        if not values["active"]:
            errors["active"].append(_("Du kan ikke deaktivere dig selv."))
        if access_level is not None and access_level != AccessLevel.COORDINATOR:
            errors["access_level"].append(_("Du kan ikke fjerne din egen adgang som kursuskoordinator."))

    if errors:
        raise ValidationFailed(dict(errors))
    return values


def create_user(*, actor: User | None, data: UserData) -> User:
    """Create a user from the coordinator's form or `flask users create`; `actor` None means the CLI.

    :raises ValidationFailed: per-field messages (duplicate email, provider rules, short password ...).
    """
    values = _check_user(data)
    user = User(**values)
    if data.password:
        user.set_password(data.password)
    db.session.add(user)
    db.session.flush()
    record(
        "user.create",
        actor=actor,
        object_type="user",
        object_id=user.id,
        subject=user,
        details={"access_level": user.access_level.value, "password": "set" if data.password else "not set"},
    )
    logger.info("user %s (%s) created by %s", user.id, user.access_level, _who(actor))
    return user


def update_user(user: User, *, actor: User, data: UserData, now: datetime | None = None) -> User:
    """Change a user (coordinator); an empty password keeps the current one. A new password or
    deactivation ends every session of the user (app.accounts.signin.sessions) and is audited.

    :raises ValidationFailed: as `create_user`, and when a coordinator would deactivate or demote themselves.
    """
    now = now or clock.utcnow()
    values = _check_user(data, user=user, actor=actor)
    deactivated = user.active and not values["active"]
    before = snapshot(user, list(values))
    was_active = user.active
    for key, value in values.items():
        setattr(user, key, value)
    fields = changed_fields(before, user)
    if data.password:
        user.set_password(data.password)
        fields.append("password")  # the name only, never the value
        credentials.password_set_by_coordinator(user, actor=actor, now=now)
    if deactivated:
        credentials.end_sessions_of_deactivated(user)
    action = "user.update"
    if was_active != user.active:
        action = "user.activate" if user.active else "user.deactivate"
    record(
        action, actor=actor, object_type="user", object_id=user.id, subject=user, details={"fields": fields}, now=now
    )
    db.session.flush()
    logger.info("user %s updated by %s", user.id, _who(actor))
    return user


#: A staff role or a unit: the named records a coordinator adds, renames and deletes.
_Named = TypeVar("_Named", StaffRole, Unit)


def _created(entity: _Named, kind: str, *, actor: User | None) -> _Named:
    """Add a new staff role or unit: audited as `<kind>.create` and logged (by id, never by name)."""
    db.session.add(entity)
    db.session.flush()
    record(f"{kind}.create", actor=actor, object_type=kind, object_id=entity.id)
    logger.info("%s %s created by %s", kind, entity.id, _who(actor))
    return entity


def _updated(entity: _Named, kind: str, before: dict[str, Any], *, actor: User | None) -> _Named:
    """A changed staff role or unit: audited as `<kind>.update` with the fields that changed since `before`."""
    record(
        f"{kind}.update",
        actor=actor,
        object_type=kind,
        object_id=entity.id,
        details={"fields": changed_fields(before, entity)},
    )
    db.session.flush()
    logger.info("%s %s updated by %s", kind, entity.id, _who(actor))
    return entity


def _deleted(entity: StaffRole | Unit, kind: str, *, actor: User | None) -> None:
    """Delete a staff role or unit nothing uses any more: audited as `<kind>.delete` with its name."""
    record(f"{kind}.delete", actor=actor, object_type=kind, object_id=entity.id, details={"name": entity.name})
    db.session.delete(entity)
    db.session.flush()
    logger.info("%s %s deleted by %s", kind, entity.id, _who(actor))


def _who(actor: User | None) -> str:
    return f"user {actor.id}" if actor is not None else "the command line"


# --- staff import -------------------------------------------------------------------------------------


class ImportStatus(enum.StrEnum):
    NEW = "new"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass
class PreviewRow:
    """One file row with what confirming would do to it, and why not when `status` is ERROR."""

    row: ImportRow
    email: str
    status: ImportStatus = ImportStatus.NEW
    reasons: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    user: User | None = None
    staff_role: StaffRole | None = None
    unit: Unit | None = None


@dataclass
class ImportPreview:
    rows: list[PreviewRow]
    #: Set when the rows had no errors and were stored for confirmation.
    token: str | None = None
    filename: str = ""

    def count(self, status: ImportStatus) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def counts(self) -> dict[str, int]:
        return {status.value: self.count(status) for status in ImportStatus}

    @property
    def has_errors(self) -> bool:
        return any(row.status == ImportStatus.ERROR for row in self.rows)

    @property
    def valid_rows(self) -> list[ImportRow]:
        """The rows as they will be applied (email normalised)."""
        return [
            ImportRow(r.row.line_no, _clean(r.row.name), r.email, r.row.staff_role_name, r.row.unit_name)
            for r in self.rows
        ]


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


class ImportRejected(DomainError):
    """The rows no longer pass validation at confirmation time; `preview` says why, row by row."""

    def __init__(self, message: str, preview: ImportPreview):
        super().__init__(message)
        self.preview = preview


def _users_by_email(emails: set[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    ordered = sorted(emails)
    for start in range(0, len(ordered), 500):  # stay well below any driver's parameter limit
        chunk = ordered[start : start + 500]
        for user in db.session.scalars(select(User).where(User.email.in_(chunk))):
            found[normalise_email(user.email)] = user
    return found


def preview_staff_import(rows: list[ImportRow]) -> ImportPreview:
    """What importing `rows` would do: new / update / unchanged, or error with reasons (nothing is written)."""
    roles = _staff_role_lookup()
    units = _unit_lookup()
    preview_rows = [PreviewRow(row=row, email=normalise_email(row.email)) for row in rows]
    existing = _users_by_email({r.email for r in preview_rows if r.email})

    lines_by_email: dict[str, list[int]] = defaultdict(list)
    for r in preview_rows:
        if r.email:
            lines_by_email[r.email].append(r.row.line_no)

    for r in preview_rows:
        name = _clean(r.row.name)
        if not name:
            r.reasons.append(_("Navn mangler."))
        elif len(name) > NAME_MAX_LENGTH:
            r.reasons.append(_("Navnet er for langt (højst %(max)s tegn).", max=NAME_MAX_LENGTH))
        if not r.email:
            r.reasons.append(_("E-mail mangler."))
        elif not is_valid_email(r.email):
            r.reasons.append(_("Ugyldig e-mailadresse."))
        elif len(lines_by_email[r.email]) > 1:
            others = ", ".join(str(n) for n in lines_by_email[r.email] if n != r.row.line_no)
            r.reasons.append(_("Samme e-mailadresse står også i række %(lines)s.", lines=others))
        if r.row.staff_role_name:
            r.staff_role = roles.get(_key(r.row.staff_role_name))
            if r.staff_role is None:
                r.reasons.append(_("Ukendt stillingsbetegnelse: %(name)s.", name=r.row.staff_role_name))
        if r.row.unit_name:
            r.unit = units.get(_key(r.row.unit_name))
            if r.unit is None:
                r.reasons.append(_("Ukendt enhed: %(name)s.", name=r.row.unit_name))
        if r.row.cpr_columns:  # found by importing.py in any column of the file (app.core.validators)
            r.reasons.append(
                _(
                    "Rækken ser ud til at indeholde et CPR-nummer (%(columns)s). Fjern CPR-numrene fra filen, "
                    "og upload den igen.",
                    columns=", ".join(r.row.cpr_columns),
                )
            )
        if r.reasons:
            r.status = ImportStatus.ERROR
            continue
        r.user = existing.get(r.email)
        if r.user is None:
            r.status = ImportStatus.NEW
            continue
        r.changes = _describe_changes(r.user, name, r.staff_role, r.unit)
        r.status = ImportStatus.UPDATE if r.changes else ImportStatus.UNCHANGED
    return ImportPreview(rows=preview_rows)


def _describe_changes(user: User, name: str, role: StaffRole | None, unit: Unit | None) -> list[str]:
    none = _("(ingen)")
    changes = []
    if user.name != name:
        changes.append(_("Navn: %(old)s → %(new)s", old=user.name, new=name))
    if user.staff_role_id != (role.id if role else None):
        changes.append(
            _(
                "Stillingsbetegnelse: %(old)s → %(new)s",
                old=user.staff_role.name if user.staff_role else none,
                new=role.name if role else none,
            )
        )
    if user.unit_id != (unit.id if unit else None):
        changes.append(
            _("Enhed: %(old)s → %(new)s", old=user.unit.name if user.unit else none, new=unit.name if unit else none)
        )
    return changes


def apply_staff_import(actor: User | None, rows: list[ImportRow]) -> ImportResult:
    """Validate `rows` again (the data may have changed since the preview) and apply them all, or nothing.

    New people become active staff users without a password; existing emails get name, role and unit.
    :raises ImportRejected: some row no longer passes; nothing is written.
    """
    preview = preview_staff_import(rows)
    if preview.has_errors:
        raise ImportRejected(
            _("Data er ændret, siden filen blev kontrolleret, og nogle rækker har nu fejl. Intet er importeret."),
            preview,
        )
    created = updated = unchanged = 0
    for r in preview.rows:
        name = _clean(r.row.name)
        if r.status == ImportStatus.NEW:
            db.session.add(
                User(
                    email=r.email,
                    name=name,
                    access_level=AccessLevel.STAFF,
                    active=True,
                    staff_role=r.staff_role,
                    unit=r.unit,
                )
            )
            created += 1
        elif r.status == ImportStatus.UPDATE:
            assert r.user is not None, "an UPDATE row is one that found its user"
            r.user.name, r.user.staff_role, r.user.unit = name, r.staff_role, r.unit
            updated += 1
        else:
            unchanged += 1
    db.session.flush()
    record(
        "staff.import",
        actor=actor,
        object_type="staff_import",
        details={"created": created, "updated": updated, "unchanged": unchanged},
    )
    logger.info("staff import by %s: %s created, %s updated, %s unchanged", _who(actor), created, updated, unchanged)
    return ImportResult(created=created, updated=updated, unchanged=unchanged)


def preview_staff_file(data: bytes, filename: str, *, actor: User, pending_dir: Path, now: datetime) -> ImportPreview:
    """Read an uploaded staff file and preview it; when no row has errors, keep the rows for confirmation.

    :raises ImportFileError: the file as a whole is unreadable (field `file`).
    """
    preview = preview_staff_import(parse_staff_file(data, filename))
    preview.filename = filename
    if not preview.has_errors:
        preview.token = store_pending_import(
            pending_dir, preview.valid_rows, actor_id=actor.id, filename=filename, now=now
        )
    return preview


def confirm_staff_import(token: str | None, *, actor: User, pending_dir: Path, now: datetime) -> ImportResult:
    """Apply the previewed import `token` once (the stored rows are removed whatever happens).

    :raises ImportFileError: unknown, expired or malformed token. :raises ImportRejected: see apply.
    """
    rows = claim_pending_import(pending_dir, token, actor_id=actor.id, now=now)
    return apply_staff_import(actor, rows)
