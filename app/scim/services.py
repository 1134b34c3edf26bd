"""SCIM provisioning of staff: create, replace, patch, deactivate and delete users as the directory (Microsoft
Entra ID) asks, the lookups its filters need, and the coordinator's mapping of job titles and departments.
Services flush but never commit; the request's transaction owner commits (app/core/transaction.py).

What a provisioned user is (docs/integrations.md):
- the user row holds what the app uses, derived from the resource on every change: name (displayName, else
  name.formatted, else given + family name, else userName), e-mail address (the work address, else the primary,
  else the first, else userName when it is an address), active, staff role (job title through the mapping) and
  unit (department through the mapping). Access level: staff.
- an unknown job title or department creates the user without a role (unit) and is listed for the coordinator;
  a value the coordinator has not mapped never changes the role (unit) an existing user has.
- `active` false deactivates: every session ends at once, and active enrolments in runs that have not started are
  cancelled as a coordinator's cancellation would (CANCEL mails, the waiting list moves up); history stays.
  Re-activation restores access, not seats. DELETE deactivates the same way and removes the SCIM link.
- externalId, when it is an Entra ID objectId (a GUID) and OIDC_ISSUER names an Entra tenant, is bound as the
  person's single sign-on identity (tid:oid, app.accounts.sso.oidc), so SSO and SCIM agree on who is who; an
  externalId bound to another account is refused (409).
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from flask import current_app, url_for
from flask_babel import gettext as _
from pydantic import ValidationError
from scim2_models import Context, EnterpriseUser, PatchOp, SCIMException
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import aliased, contains_eager

from app.accounts.directory.services import is_valid_email
from app.accounts.models import AccessLevel, StaffRole, Unit, User, normalise_email, unit_leaders
from app.accounts.signin.credentials import end_sessions_of_deactivated
from app.accounts.sso.models import UserIdentity
from app.audit.services import record
from app.core.exceptions import DomainError
from app.enrolment.services import cancel_future_enrolments
from app.extensions import db
from app.integrations.models import IntegrationClient
from app.scim.models import MappingKind, ScimUser, ScimValueMapping
from app.scim.resources import (
    ENTERPRISE_SCHEMA,
    ENTRA_POLICY,
    USER_SCHEMA,
    StaffUser,
    known_attributes_only,
    known_operations_only,
)

logger = logging.getLogger(__name__)

#: ListResponse page size when the client asks for none, and the most it may ask for (ServiceProviderConfig).
DEFAULT_COUNT = 100
MAX_COUNT = 200
NAME_MAX_LENGTH = 200
VALUE_MAX_LENGTH = 200

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: The tenant id in an Entra ID issuer (https://login.microsoftonline.com/<tid>/v2.0).
_ENTRA_ISSUER = re.compile(r"^https://login\.microsoftonline\.com/([0-9a-fA-F-]{36})/", re.IGNORECASE)


class ScimError(Exception):
    """A SCIM error response (RFC 7644 §3.12): `status`, `scim_type` (or None) and an English `detail`."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    @classmethod
    def from_scim_exception(cls, exc: SCIMException) -> ScimError:
        return cls(exc.status, exc.detail, exc.scim_type or None)


# --------------------------------------------------------------------------------------------------
# Parsing and rendering
# --------------------------------------------------------------------------------------------------


def _validation_detail(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "; ".join(parts) or "invalid value"


def parse_user(payload: Any, *, replacing: bool = False) -> StaffUser:
    """The User resource of a POST or PUT body; `ScimError(400)` when it is not one."""
    if not isinstance(payload, dict):
        raise ScimError(400, "The body must be a JSON object.", "invalidSyntax")
    context = Context.RESOURCE_REPLACEMENT_REQUEST if replacing else Context.RESOURCE_CREATION_REQUEST
    try:
        body = known_attributes_only(payload)
        if isinstance(body.get(ENTERPRISE_SCHEMA), dict) and "manager" in body[ENTERPRISE_SCHEMA]:
            body[ENTERPRISE_SCHEMA]["manager"] = _manager(body[ENTERPRISE_SCHEMA]["manager"])
        return StaffUser.model_validate(body, scim_ctx=context, scim_policy=ENTRA_POLICY)
    except SCIMException as exc:
        raise ScimError.from_scim_exception(exc) from exc
    except ValidationError as exc:
        raise ScimError(400, _validation_detail(exc), "invalidValue") from exc


def _manager(value: Any) -> Any:
    """The manager as the schema has it ({"value", "$ref"}) from Entra ID's plain id (or an object without $ref)."""
    if isinstance(value, str):
        value = {"value": value}
    if isinstance(value, dict) and isinstance(value.get("value"), str) and not value.get("$ref"):
        value = {**value, "$ref": url_for("scim.user_detail", scim_id=value["value"], _external=True)}
    return value


def _entra_manager_values(payload: dict[str, Any]) -> dict[str, Any]:
    """Entra ID sends the manager as the manager's id alone ("value": "<id>"); the schema's manager is complex
    and needs `$ref` (RFC 7643 §4.3). Complete such values, in operations with a path and in path-less objects."""
    suffix = ENTERPRISE_SCHEMA.lower() + ":manager"
    for operation in payload.get("Operations") or []:
        if not isinstance(operation, dict):
            continue
        path, value = operation.get("path"), operation.get("value")
        if isinstance(path, str) and path.lower() == suffix:
            operation["value"] = _manager(value)
        elif path is None and isinstance(value, dict):
            for key, item in list(value.items()):
                if isinstance(key, str) and key.lower() == suffix:
                    value[key] = _manager(item)
                elif key == ENTERPRISE_SCHEMA and isinstance(item, dict) and "manager" in item:
                    item["manager"] = _manager(item["manager"])
    return payload


def parse_patch(payload: Any) -> PatchOp | None:
    """The PatchOp of a PATCH body, in any of Entra ID's shapes; None when every operation was on attributes this
    service does not offer (nothing to change); `ScimError(400)` when it is no PatchOp."""
    if not isinstance(payload, dict):
        raise ScimError(400, "The body must be a JSON object.", "invalidSyntax")
    offered = known_operations_only(payload)
    if payload.get("Operations") and not offered["Operations"]:
        return None
    try:
        return PatchOp[StaffUser].model_validate(
            _entra_manager_values(offered),
            scim_ctx=Context.RESOURCE_PATCH_REQUEST,
            scim_policy=ENTRA_POLICY,
        )
    except SCIMException as exc:
        raise ScimError.from_scim_exception(exc) from exc
    except ValidationError as exc:
        raise ScimError(400, _validation_detail(exc), "invalidValue") from exc


def resource_of(scim_user: ScimUser) -> StaffUser:
    """The stored resource as a model, with its id and the user's current `active` (a coordinator may have
    changed it on the user's page)."""
    data = dict(scim_user.resource or {})
    data["id"] = scim_user.scim_id
    if "active" in data:  # as sent; its value is the user's (a coordinator may have changed it since)
        data["active"] = scim_user.user.active
    data["schemas"] = [USER_SCHEMA] + ([ENTERPRISE_SCHEMA] if ENTERPRISE_SCHEMA in data else [])
    return StaffUser.model_validate(data, scim_ctx=Context.RESOURCE_QUERY_RESPONSE, scim_policy=ENTRA_POLICY)


def _stored_form(resource: StaffUser) -> dict[str, Any]:
    data = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    for key in ("id", "meta", "schemas"):
        data.pop(key, None)
    if not data.get(ENTERPRISE_SCHEMA):
        data.pop(ENTERPRISE_SCHEMA, None)
    return data


# --------------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------------


def user_name_key(user_name: str) -> str:
    """userName as compared: NFC, lower-cased (caseExact false, RFC 7643 §4.1.1)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", user_name).lower())


def get_scim_user(scim_id: str) -> ScimUser | None:
    return db.session.scalar(select(ScimUser).where(ScimUser.scim_id == scim_id))


@dataclass(frozen=True)
class Condition:
    attribute: str  # "userName", "externalId", "id", "emails.value"
    value: str


_COMPARISON = re.compile(
    r'^\s*(?P<attr>[A-Za-z][\w.:]*)\s+eq\s+(?P<value>"(?:[^"\\]|\\.)*"|[^\s"]+)\s*$', re.IGNORECASE
)
_WORK_EMAIL_PATH = re.compile(r'emails\[\s*type\s+eq\s+"work"\s*\]\.value', re.IGNORECASE)
_AND = re.compile(r'\s+and\s+(?=(?:[^"]*"[^"]*")*[^"]*$)', re.IGNORECASE)
FILTER_ATTRIBUTES = {"username": "userName", "externalid": "externalId", "id": "id", "emails.value": "emails.value"}


def parse_filter(text: str) -> list[Condition]:
    """The `eq` comparisons, joined by `and`, that Entra ID filters with (userName, externalId, id, the work
    e-mail address); anything else is `ScimError(400, invalidFilter)`."""
    conditions = []
    text = _WORK_EMAIL_PATH.sub("emails.value", text)
    for part in _AND.split(text.strip()):
        match = _COMPARISON.match(part)
        if not match:
            raise ScimError(400, "Only 'eq' comparisons joined by 'and' are supported.", "invalidFilter")
        attribute = FILTER_ATTRIBUTES.get(match["attr"].lower().removeprefix(USER_SCHEMA.lower() + ":"))
        if attribute is None:
            raise ScimError(400, f"Filtering on {match['attr']!r} is not supported.", "invalidFilter")
        raw = match["value"]
        if raw.startswith('"'):
            try:
                value = json.loads(raw)
            except ValueError:
                raise ScimError(400, "The filter's value is not a valid string.", "invalidFilter") from None
        else:
            value = raw
        conditions.append(Condition(attribute, str(value)))
    return conditions


def list_scim_users(conditions: list[Condition], *, start_index: int, count: int) -> tuple[int, list[ScimUser]]:
    """(totalResults, the page) of provisioned users matching every condition, oldest first (RFC 7644 §3.4.2.4:
    start_index from 1)."""
    stmt = select(ScimUser).join(User, User.id == ScimUser.user_id)
    for condition in conditions:
        if condition.attribute == "userName":
            stmt = stmt.where(ScimUser.user_name_key == user_name_key(condition.value))
        elif condition.attribute == "externalId":
            stmt = stmt.where(ScimUser.external_id == condition.value)
        elif condition.attribute == "id":
            stmt = stmt.where(ScimUser.scim_id == condition.value)
        else:
            stmt = stmt.where(User.email == normalise_email(condition.value))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page_stmt = stmt.options(contains_eager(ScimUser.user)).order_by(ScimUser.id).offset(start_index - 1).limit(count)
    page = db.session.scalars(page_stmt).all() if count else []
    return total, list(page)


# --------------------------------------------------------------------------------------------------
# Mappings
# --------------------------------------------------------------------------------------------------


def value_key(value: str) -> str:
    """A job title or department as compared: whitespace collapsed, case-folded."""
    return " ".join(value.split()).casefold()[:VALUE_MAX_LENGTH]


def _mapping(kind: MappingKind, value: str | None, now: datetime) -> ScimValueMapping | None:
    """The mapping of `value` (added, without a target, when seen for the first time)."""
    if not value or not value.strip():
        return None
    key = value_key(value)
    mapping = db.session.scalar(
        select(ScimValueMapping).where(ScimValueMapping.kind == kind, ScimValueMapping.value_key == key)
    )
    if mapping is None:
        mapping = ScimValueMapping(kind=kind, value_key=key, value=" ".join(value.split())[:200], first_seen_at=now)
        db.session.add(mapping)
        db.session.flush()
    return mapping


def list_mappings() -> list[ScimValueMapping]:
    """Every title and department the directory has sent: unmapped ones first, then by kind and value."""
    stmt = select(ScimValueMapping).order_by(
        (ScimValueMapping.staff_role_id.is_(None) & ScimValueMapping.unit_id.is_(None)).desc(),
        ScimValueMapping.kind,
        ScimValueMapping.value_key,
    )
    return list(db.session.scalars(stmt))


def users_per_mapping() -> dict[tuple[MappingKind, str], int]:
    """How many provisioned users have each title and department (by value_key)."""
    counts: dict[tuple[MappingKind, str], int] = {}
    for title, department in db.session.execute(select(ScimUser.title, ScimUser.department)):
        for kind, value in ((MappingKind.TITLE, title), (MappingKind.DEPARTMENT, department)):
            if value:
                counts[(kind, value_key(value))] = counts.get((kind, value_key(value)), 0) + 1
    return counts


def set_mapping(mapping: ScimValueMapping, target_id: int | None, *, actor: User, now: datetime) -> int:
    """The coordinator maps a title to a staff role (a department to a unit), or clears it; every provisioned user
    with that value gets the role (unit) now. Returns how many users changed.

    :raises DomainError: the role or unit does not exist.
    """
    model: type[StaffRole] | type[Unit] = StaffRole if mapping.kind == MappingKind.TITLE else Unit
    target = db.session.get(model, target_id) if target_id is not None else None
    if target_id is not None and target is None:
        raise DomainError(_("Vælg en stillingsbetegnelse eller enhed fra listen."), field="target")
    if mapping.kind == MappingKind.TITLE:
        mapping.staff_role_id = target_id
    else:
        mapping.unit_id = target_id
    changed = 0
    moved_units: set[int | None] = set()
    column = ScimUser.title if mapping.kind == MappingKind.TITLE else ScimUser.department
    for scim_user in db.session.scalars(select(ScimUser).where(column.is_not(None))):
        if value_key(getattr(scim_user, mapping.kind.value)) != mapping.value_key or target_id is None:
            continue
        attribute = "staff_role_id" if mapping.kind == MappingKind.TITLE else "unit_id"
        if getattr(scim_user.user, attribute) != target_id:
            if attribute == "unit_id":
                moved_units.update((scim_user.user.unit_id, target_id))
            setattr(scim_user.user, attribute, target_id)
            changed += 1
    record(
        "scim_mapping.update",
        actor=actor,
        object_type="scim_mapping",
        object_id=mapping.id,
        details={"kind": mapping.kind.value, "target": target_id, "users": changed},
        now=now,
    )
    db.session.flush()
    sync_directory_leaders(moved_units, now=now)
    return changed


# --------------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------------


def _email_of(resource: StaffUser) -> str:
    emails = [e for e in resource.emails or [] if e.value]
    chosen = next((e for e in emails if (e.type or "").lower() == "work"), None)
    chosen = chosen or next((e for e in emails if e.primary), None) or (emails[0] if emails else None)
    address = str(chosen.value) if chosen is not None else (resource.user_name or "")
    address = normalise_email(address)
    if not is_valid_email(address):
        raise ScimError(400, "The user needs an e-mail address (emails, or a userName that is one).", "invalidValue")
    return address


def _name_of(resource: StaffUser) -> str:
    name = resource.name
    candidates = [
        resource.display_name,
        name.formatted if name else None,
        " ".join(p for p in ((name.given_name, name.family_name) if name else ()) if p),
        resource.user_name,
    ]
    text = next(" ".join(c.split()) for c in candidates if c and c.strip())
    return text[:NAME_MAX_LENGTH]


def _clip(value: str | None, length: int) -> str | None:
    value = " ".join(value.split()) if value else None
    return value[:length] if value else None


def entra_tenant_id() -> str | None:
    """The Entra ID tenant the app's single sign-on trusts (from OIDC_ISSUER), or None."""
    match = _ENTRA_ISSUER.match(current_app.config.get("OIDC_ISSUER") or "")
    return match.group(1).lower() if match else None


def _bind_sso_identity(user: User, external_id: str | None, now: datetime) -> None:
    """Bind externalId (an Entra objectId) as the user's SSO identity tid:oid; refuse one bound elsewhere."""
    tenant = entra_tenant_id()
    if not tenant or not external_id or not _GUID.match(external_id):
        return
    issuer = current_app.config["OIDC_ISSUER"]
    subject = f"{tenant}:{external_id.lower()}"
    identity = db.session.scalar(
        select(UserIdentity).where(UserIdentity.issuer == issuer, UserIdentity.subject == subject)
    )
    if identity is not None and identity.user_id != user.id:
        raise ScimError(409, "externalId is bound by single sign-on to another account.", "uniqueness")
    if identity is not None:
        return
    if user.id is not None:
        other = db.session.scalar(
            select(UserIdentity).where(UserIdentity.user_id == user.id, UserIdentity.issuer == issuer)
        )
        if other is not None:
            raise ScimError(409, "The account is bound by single sign-on to another directory object.", "uniqueness")
    db.session.add(UserIdentity(user=user, issuer=issuer, subject=subject, linked_at=now))


def _check_user_name(resource: StaffUser, scim_user: ScimUser | None) -> str:
    if not resource.user_name or not resource.user_name.strip():
        raise ScimError(400, "userName is required.", "invalidValue")
    key = user_name_key(resource.user_name.strip())
    if len(key) > 254:
        raise ScimError(400, "userName is too long (254 characters at most).", "invalidValue")
    other = db.session.scalar(select(ScimUser).where(ScimUser.user_name_key == key))
    if other is not None and other is not scim_user:
        raise ScimError(409, "A user with this userName exists.", "uniqueness")
    return key


def _apply(
    scim_user: ScimUser, user: User, resource: StaffUser, *, key: str, email: str, now: datetime, today: date
) -> list[str]:
    """Write `resource` to the SCIM row and the user; returns the changed user fields (names only)."""
    enterprise = resource[EnterpriseUser] if resource[EnterpriseUser] is not None else EnterpriseUser()
    scim_user.user_name_key = key
    scim_user.external_id = _clip(resource.external_id, 255)
    scim_user.title = _clip(resource.title, VALUE_MAX_LENGTH)
    scim_user.department = _clip(enterprise.department, VALUE_MAX_LENGTH)
    scim_user.employee_number = _clip(enterprise.employee_number, 64)
    scim_user.manager_ref = _clip(enterprise.manager.value if enterprise.manager else None, 255)
    scim_user.resource = _stored_form(resource)
    scim_user.updated_at = now
    scim_user.version = (scim_user.version or 0) + 1

    before = {
        "name": user.name,
        "email": user.email,
        "staff_role_id": user.staff_role_id,
        "unit_id": user.unit_id,
    }
    user.name = _name_of(resource)
    user.email = email
    title = _mapping(MappingKind.TITLE, scim_user.title, now)
    if title is not None and title.staff_role_id is not None:
        user.staff_role_id = title.staff_role_id
    department = _mapping(MappingKind.DEPARTMENT, scim_user.department, now)
    if department is not None and department.unit_id is not None:
        user.unit_id = department.unit_id
    return sorted(name for name, value in before.items() if getattr(user, name) != value)


def _set_active(user: User, active: bool, now: datetime, today: date, *, deleted: bool = False) -> None:
    """Deactivate (sessions end, future enrolments cancelled) or re-activate `user`, audited."""
    if user.active == active:
        return
    user.active = active
    details: dict[str, Any] = {"via": "scim"}
    if not active:
        end_sessions_of_deactivated(user)
        cancelled = cancel_future_enrolments(user, now, today)
        details["cancelled_enrolments"] = len(cancelled)
        if deleted:
            details["deleted"] = True
    action = "user.activate" if active else "user.deactivate"
    record(action, object_type="user", object_id=user.id, subject=user, details=details, now=now)
    logger.info("user %s %s by SCIM", user.id, "activated" if active else "deactivated")


def sync_directory_leaders(unit_ids: set[int | None], *, now: datetime) -> None:
    """Keep the directory's leaders of these units in step with SCIM's `manager`: a unit is led (source
    "directory") by the managers of its active provisioned staff, when the manager is an active provisioned staff
    member too. Leaders the coordinator set are left alone (and a pair set by both stays the coordinator's);
    directory leaders no report points to any more are removed. Every change is audited like the coordinator's."""
    ids = {unit_id for unit_id in unit_ids if unit_id is not None}
    if not ids:
        return
    manager, report, boss = aliased(ScimUser), aliased(User), aliased(User)
    wanted: set[tuple[int, int]] = {
        (cast(int, unit_id), leader_id)
        for unit_id, leader_id in db.session.execute(
            select(report.unit_id, manager.user_id)
            .select_from(ScimUser)
            .join(report, report.id == ScimUser.user_id)
            .join(manager, manager.scim_id == ScimUser.manager_ref)
            .join(boss, boss.id == manager.user_id)
            .where(
                report.unit_id.in_(ids),
                report.active.is_(True),
                boss.active.is_(True),
                boss.access_level == AccessLevel.STAFF,
                manager.user_id != ScimUser.user_id,
            )
        )
    }
    have: dict[tuple[int, int], str] = {
        (cast(int, unit_id), cast(int, leader_id)): cast(str, source)
        for unit_id, leader_id, source in db.session.execute(
            select(unit_leaders.c.unit_id, unit_leaders.c.user_id, unit_leaders.c.source).where(
                unit_leaders.c.unit_id.in_(ids)
            )
        )
    }
    for unit_id, user_id in sorted(wanted - have.keys()):
        db.session.execute(insert(unit_leaders).values(unit_id=unit_id, user_id=user_id, source="directory"))
        record(
            "unit.leader_add", subject=user_id, object_type="unit", object_id=unit_id, details={"via": "scim"}, now=now
        )
    for (old_unit, old_leader), source in sorted(have.items()):
        if source == "directory" and (old_unit, old_leader) not in wanted:
            db.session.execute(
                delete(unit_leaders).where(unit_leaders.c.unit_id == old_unit, unit_leaders.c.user_id == old_leader)
            )
            record(
                "unit.leader_remove",
                subject=old_leader,
                object_type="unit",
                object_id=old_unit,
                details={"via": "scim"},
                now=now,
            )


def _units_around(scim_user: ScimUser) -> set[int | None]:
    """The units whose directory leaders a change of this person can move: their own, and their reports'."""
    reports = db.session.scalars(
        select(User.unit_id)
        .join(ScimUser, ScimUser.user_id == User.id)
        .where(ScimUser.manager_ref == scim_user.scim_id)
    )
    return {scim_user.user.unit_id, *reports}


def create_user(resource: StaffUser, *, client: IntegrationClient | None, now: datetime, today: date) -> ScimUser:
    """POST /Users: a new staff user, or an existing staff account with the same e-mail address that the directory
    takes over (a file import before provisioning began).

    :raises ScimError: 400 invalid, 409 userName, e-mail address or externalId taken.
    """
    key = _check_user_name(resource, None)
    email = _email_of(resource)
    user = db.session.scalar(select(User).where(User.email == email))
    adopted = user is not None
    if user is not None:
        linked = db.session.scalar(select(ScimUser.id).where(ScimUser.user_id == user.id))
        if linked is not None:
            raise ScimError(409, "Another provisioned user has this e-mail address.", "uniqueness")
        if user.access_level != AccessLevel.STAFF or user.is_anonymised:
            raise ScimError(409, "The e-mail address belongs to an account that is not a staff account.", "uniqueness")
    else:
        user = User(email=email, name="-", access_level=AccessLevel.STAFF, active=True)
        db.session.add(user)
    scim_user = ScimUser(scim_id=str(uuid.uuid4()), user=user, client_id=client.id if client else None, created_at=now)
    _apply(scim_user, user, resource, key=key, email=email, now=now, today=today)
    _bind_sso_identity(user, scim_user.external_id, now)
    db.session.add(scim_user)
    db.session.flush()
    record(
        "user.create" if not adopted else "user.update",
        object_type="user",
        object_id=user.id,
        subject=user,
        details={"via": "scim", "access_level": user.access_level.value, **({"linked": True} if adopted else {})},
        now=now,
    )
    _set_active(user, resource.active is not False, now, today)
    sync_directory_leaders(_units_around(scim_user), now=now)
    return scim_user


def _check_email_free(email: str, user: User) -> None:
    other = db.session.scalar(select(User).where(User.email == email))
    if other is not None and other is not user:
        raise ScimError(409, "Another account has this e-mail address.", "uniqueness")


def replace_user(scim_user: ScimUser, resource: StaffUser, *, now: datetime, today: date) -> ScimUser:
    """PUT /Users/<id> (and the end of a PATCH): the resource replaces the stored one.

    :raises ScimError: 400 invalid, 409 userName, e-mail address or externalId taken.
    """
    user = scim_user.user
    key = _check_user_name(resource, scim_user)
    email = _email_of(resource)
    _check_email_free(email, user)
    unit_before = user.unit_id
    fields = _apply(scim_user, user, resource, key=key, email=email, now=now, today=today)
    _bind_sso_identity(user, scim_user.external_id, now)
    db.session.flush()
    if fields:
        record(
            "user.update",
            object_type="user",
            object_id=user.id,
            subject=user,
            details={"via": "scim", "fields": fields},
            now=now,
        )
    if resource.active is not None:
        _set_active(user, resource.active, now, today)
    sync_directory_leaders({unit_before, *_units_around(scim_user)}, now=now)
    return scim_user


def patch_user(scim_user: ScimUser, patch: PatchOp | None, *, now: datetime, today: date) -> ScimUser:
    """PATCH /Users/<id>: the operations applied to the stored resource, then stored as a replacement (None:
    nothing to change).

    :raises ScimError: 400 (invalidPath, noTarget, invalidValue, mutability), 409 as `replace_user`.
    """
    if patch is None:
        return scim_user
    resource = resource_of(scim_user)
    try:
        patch.patch(resource, scim_policy=ENTRA_POLICY)
    except SCIMException as exc:
        raise ScimError.from_scim_exception(exc) from exc
    except ValidationError as exc:
        raise ScimError(400, _validation_detail(exc), "invalidValue") from exc
    return replace_user(scim_user, resource, now=now, today=today)


def delete_user(scim_user: ScimUser, *, now: datetime, today: date) -> None:
    """DELETE /Users/<id>: deactivate the user (as `active` false) and remove the SCIM link; the user, their
    enrolments and history stay. GET of the id answers 404 from now on."""
    user = scim_user.user
    units = _units_around(scim_user)
    _set_active(user, False, now, today, deleted=True)
    record(
        "user.deprovision",
        object_type="user",
        object_id=user.id,
        subject=user,
        details={"via": "scim"},
        now=now,
    )
    db.session.delete(scim_user)
    db.session.flush()
    sync_directory_leaders(units, now=now)
