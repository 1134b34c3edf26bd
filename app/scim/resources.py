"""The SCIM resource this service offers (RFC 7643), as scim2-models classes: a User with only the attributes
Kursusportalen uses, and scim2-models' enterprise extension (department → unit, employeeNumber, manager; its
costCenter, organization and division are kept as sent, unused).

Publishing only these (ServiceProviderConfig, Schemas, ResourceTypes are built from them) keeps the stored
personal data to what the app needs: other attributes Entra ID may send (phone numbers, addresses) are dropped on
arrival, never stored (`known_attributes_only`, `known_operations_only`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import EmailStr
from scim2_models import (
    URN,
    ComplexAttribute,
    Email,
    EnterpriseUser,
    Required,
    Resource,
    ScimPolicy,
    Uniqueness,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

#: What Kursusportalen tolerates from Microsoft Entra ID (docs/integrations.md): a PATCH "Remove" with a value list
#: selects what to remove; a PATCH on `emails[type eq "work"].value` of a user without a work address creates it.
#: Case-insensitive "op" and "False" strings are accepted anyway. Attributes this service does not offer are
#: dropped before validation (`known_attributes_only`): scim2-models' own `unknown=ignore` drops the enterprise
#: extension too (0.12.3).
ENTRA_POLICY = ScimPolicy(
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)

#: The attributes offered, lower-cased (SCIM attribute names are case-insensitive), with their sub-attributes.
_COMMON = {"schemas": None, "id": None, "externalid": None, "meta": None}
_CORE = {
    "username": None,
    "name": {"formatted", "familyname", "givenname"},
    "displayname": None,
    "title": None,
    "active": None,
    "emails": {"value", "type", "primary", "display"},
}
_ENTERPRISE = {
    "employeenumber": None,
    "costcenter": None,
    "organization": None,
    "division": None,
    "department": None,
    "manager": {"value", "$ref", "displayname"},
}
#: Top-level names a PATCH path may start with (core attributes, externalId, the extension's URN-prefixed ones).
PATCHABLE = {"externalid", *_CORE, *(f"{ENTERPRISE_SCHEMA.lower()}:{name}" for name in _ENTERPRISE)}


def _filtered(value: Any, known: dict[str, Any] | set[str] | None) -> Any:
    if known is None or not isinstance(value, dict | list):
        return value
    if isinstance(value, list):
        return [_filtered(item, known) for item in value]
    names = known if isinstance(known, dict) else dict.fromkeys(known)
    return {key: _filtered(item, names[key.lower()]) for key, item in value.items() if key.lower() in names}


def known_attributes_only(payload: dict[str, Any]) -> dict[str, Any]:
    """A User body with only the attributes offered (and only the schemas offered listed)."""
    result = _filtered(payload, {**_COMMON, **_CORE})
    for key, value in payload.items():
        if key.lower() == ENTERPRISE_SCHEMA.lower():
            result[ENTERPRISE_SCHEMA] = _filtered(value, _ENTERPRISE)
    if isinstance(result.get("schemas"), list):
        result["schemas"] = [
            s for s in result["schemas"] if str(s).lower() in (USER_SCHEMA.lower(), ENTERPRISE_SCHEMA.lower())
        ]
    return result


_FIRST_NAME = re.compile(r"[.\[]")


def _patch_target(path: str) -> str:
    """The top-level attribute a PATCH path names, lower-cased: 'emails[type eq "work"].value' -> 'emails'."""
    lowered = path.strip().lower()
    if lowered.startswith(USER_SCHEMA.lower() + ":"):
        lowered = lowered[len(USER_SCHEMA) + 1 :]
    if lowered.startswith(ENTERPRISE_SCHEMA.lower() + ":"):
        rest = lowered[len(ENTERPRISE_SCHEMA) + 1 :]
        return ENTERPRISE_SCHEMA.lower() + ":" + _FIRST_NAME.split(rest, maxsplit=1)[0]
    return _FIRST_NAME.split(lowered, maxsplit=1)[0]


def known_operations_only(payload: dict[str, Any]) -> dict[str, Any]:
    """A PatchOp body without the operations (and the keys of path-less values) on attributes not offered, which
    Entra sends when the municipality maps more than this service stores (phone numbers, addresses)."""
    operations = []
    for operation in payload.get("Operations") or []:
        if not isinstance(operation, dict):
            operations.append(operation)
            continue
        path = operation.get("path")
        if isinstance(path, str) and path.strip().lower() == ENTERPRISE_SCHEMA.lower():
            value = operation.get("value")
            operations.append(
                {**operation, "value": _filtered(value, _ENTERPRISE)} if isinstance(value, dict) else operation
            )
        elif isinstance(path, str):
            if _patch_target(path) in PATCHABLE:
                operations.append(operation)
        elif isinstance(operation.get("value"), dict):
            value = {}
            for key, item in operation["value"].items():
                if key.lower() == ENTERPRISE_SCHEMA.lower() and isinstance(item, dict):
                    value[key] = _filtered(item, _ENTERPRISE)
                elif _patch_target(key) in PATCHABLE:
                    value[key] = item
            if value:
                operations.append({**operation, "value": value})
        else:
            operations.append(operation)
    return {**payload, "Operations": operations}


class StaffName(ComplexAttribute):
    """The components of the person's name (RFC 7643 §4.1.1), the ones used."""

    formatted: str | None = None
    family_name: str | None = None
    given_name: str | None = None


class StaffEmail(Email):
    """An e-mail address; its value is required (an entry without one says nothing)."""

    value: Annotated[EmailStr | None, Required.true] = None


class StaffUser(Resource[EnterpriseUser]):
    """A member of staff as the directory provisions them."""

    __schema__ = URN(USER_SCHEMA)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = None
    name: StaffName | None = None
    display_name: str | None = None
    title: str | None = None
    active: bool | None = None
    #: Required here (RFC 7643 leaves it optional): every user of the app has an e-mail address.
    emails: Annotated[list[StaffEmail] | None, Required.true] = None
