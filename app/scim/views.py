"""SCIM 2.0 endpoints under /scim/v2 (RFC 7644), called by Microsoft Entra ID's provisioning service with an
integration client's bearer token (scope "scim"); and the coordinator's page mapping the directory's job titles
and departments to staff roles and units (/integrations/scim-mappings).

Every answer is `application/scim+json`; errors are SCIM Error bodies (RFC 7644 §3.12), the token's refusals
(401/403/429) included. docs/integrations.md says how a municipality connects Entra ID.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Meta,
    Patch,
    ResourceType,
    ResponseParameters,
    ServiceProviderConfig,
    Sort,
)

from app.audit.services import record_read, record_shown
from app.core import clock, transaction
from app.core.access import AccessLevel, allow
from app.core.exceptions import Busy
from app.core.transaction import submitted
from app.extensions import db
from app.integrations.auth import ClientRefused, current_client, require_client
from app.scim import services
from app.scim.forms import MappingForm
from app.scim.models import MappingKind, ScimUser, ScimValueMapping
from app.scim.resources import ENTERPRISE_SCHEMA, USER_SCHEMA, StaffUser

bp = Blueprint("scim", __name__)

SCIM_JSON = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PREFIX = "/scim/v2"


def _json(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None):
    from flask import json

    body = json.dumps(data, ensure_ascii=False)
    return body, status, {"Content-Type": SCIM_JSON, **(headers or {})}


def _error(status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None):
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return _json(body, status, headers)


@bp.errorhandler(ClientRefused)
def client_refused(exc: ClientRefused):
    return _error(exc.status, exc.detail, headers=exc.headers)


@bp.errorhandler(services.ScimError)
def scim_error(exc: services.ScimError):
    return _error(exc.status, exc.detail, exc.scim_type)


@bp.errorhandler(500)
def server_error(exc):
    transaction.discard()
    return _error(500, "An unexpected error occurred.")


@bp.errorhandler(Busy)
def busy(exc: Busy):
    return _error(503, "The service is busy; try again.", headers={"Retry-After": "5"})


def _body() -> Any:
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise services.ScimError(400, "The body must be JSON.", "invalidSyntax")
    if _holds_nul(body):  # "\u0000" decodes to a NUL, which PostgreSQL refuses in text (a 500 otherwise)
        raise services.ScimError(400, "Text may not contain NUL characters.", "invalidValue")
    return body


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _location(scim_id: str) -> str:
    return url_for("scim.user_detail", scim_id=scim_id, _external=True)


def _response_parameters(attributes=None, excluded=None) -> ResponseParameters | None:
    if attributes is None and excluded is None:
        attributes, excluded = request.args.get("attributes"), request.args.get("excludedAttributes")
    if not attributes and not excluded:
        return None
    try:
        return ResponseParameters[StaffUser].model_validate({"attributes": attributes, "excludedAttributes": excluded})
    except ValidationError:
        raise services.ScimError(
            400, "attributes or excludedAttributes name an unknown attribute.", "invalidPath"
        ) from None


def _user_payload(scim_user: ScimUser, parameters: ResponseParameters | None = None) -> dict[str, Any]:
    resource = services.resource_of(scim_user)
    resource.meta = Meta(
        resource_type="User",
        created=scim_user.created_at,
        last_modified=scim_user.updated_at,
        location=_location(scim_user.scim_id),
        version=f'W/"{scim_user.version}"',
    )
    return resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters)


def _user_response(scim_user: ScimUser, status: int = 200):
    payload = _user_payload(scim_user, _response_parameters())
    headers = {"ETag": f'W/"{scim_user.version}"'}
    if status == 201:
        headers["Location"] = _location(scim_user.scim_id)
    return _json(payload, status, headers)


def _scim_user_or_404(scim_id: str) -> ScimUser:
    scim_user = services.get_scim_user(scim_id)
    if scim_user is None:
        raise services.ScimError(404, f"User {scim_id} not found.")
    return scim_user


def _as_int(name: str, raw: Any, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise services.ScimError(400, f"{name} must be an integer.", "invalidValue") from None


# --------------------------------------------------------------------------------------------------
# Discovery (RFC 7644 §4)
# --------------------------------------------------------------------------------------------------


def _service_provider_config() -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=services.MAX_COUNT),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="OAuth Bearer Token",
                description="A bearer token of an integration client with the scope 'scim', made by the course "
                "coordinator under Stamdata > Integrationer.",
                primary=True,
            )
        ],
        meta=Meta(
            resource_type="ServiceProviderConfig", location=url_for("scim.service_provider_config", _external=True)
        ),
    )


def _schemas() -> list[dict[str, Any]]:
    result = []
    for model, name in ((StaffUser, "User"), (EnterpriseUser, "EnterpriseUser")):
        schema = model.to_schema()
        schema.name = name
        schema.meta = Meta(
            resource_type="Schema", location=url_for("scim.schema_detail", schema_id=schema.id, _external=True)
        )
        result.append(schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    return result


def _resource_types() -> list[dict[str, Any]]:
    location = url_for("scim.resource_type_detail", type_id="User", _external=True)
    resource_type = ResourceType.model_validate(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "Staff of the municipality, provisioned from its directory.",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": location},
        }
    )
    return [resource_type.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)]


def _list(resources: list[dict[str, Any]], *, total: int | None = None, start_index: int = 1):
    return _json(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(resources) if total is None else total,
            "startIndex": start_index,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
    )


@bp.get(f"{PREFIX}/ServiceProviderConfig")
@require_client("scim")
def service_provider_config():
    """What this SCIM service supports (PATCH and filters; no bulk, sort, ETags or password changes)."""
    return _json(_service_provider_config().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@bp.get(f"{PREFIX}/Schemas")
@require_client("scim")
def schema_list():
    """The User schema and the enterprise extension, with only the attributes this service stores."""
    return _list(_schemas())


@bp.get(f"{PREFIX}/Schemas/<schema_id>")
@require_client("scim")
def schema_detail(schema_id: str):
    """One schema by its URN."""
    return _one(_schemas(), schema_id, "Schema")


@bp.get(f"{PREFIX}/ResourceTypes")
@require_client("scim")
def resource_type_list():
    """The one resource type: User (with the enterprise extension)."""
    return _list(_resource_types())


@bp.get(f"{PREFIX}/ResourceTypes/<type_id>")
@require_client("scim")
def resource_type_detail(type_id: str):
    """One resource type by id."""
    return _one(_resource_types(), type_id, "Resource type")


def _one(items, item_id: str, what: str):
    """The discovery item whose id is `item_id`, else a SCIM 404 naming `what`."""
    for item in items:
        if item["id"] == item_id:
            return _json(item)
    raise services.ScimError(404, f"{what} {item_id} not found.")


# --------------------------------------------------------------------------------------------------
# Users (RFC 7644 §3)
# --------------------------------------------------------------------------------------------------


@bp.get(f"{PREFIX}/Users")
@require_client("scim")
def user_list():
    """Provisioned users, filtered (`userName eq "…"`, externalId, id, the work e-mail) and paged; no match is an
    empty ListResponse. A read of the people it shows (audited)."""
    return _list_response(
        filter_text=request.args.get("filter"),
        start_index=request.args.get("startIndex"),
        count=request.args.get("count"),
        attributes=request.args.get("attributes"),
        excluded=request.args.get("excludedAttributes"),
    )


def _list_response(*, filter_text, start_index, count, attributes, excluded):
    conditions = services.parse_filter(str(filter_text)) if filter_text else []
    start = max(1, _as_int("startIndex", start_index, 1))
    size = min(max(0, _as_int("count", count, services.DEFAULT_COUNT)), services.MAX_COUNT)
    parameters = _response_parameters(attributes, excluded)
    total, page = services.list_scim_users(conditions, start_index=start, count=size)
    record_shown(
        "user.search" if conditions else "user.list",
        [scim_user.user_id for scim_user in page],
        details={"via": "scim", "filter": sorted({c.attribute for c in conditions})},
    )
    return _list([_user_payload(u, parameters) for u in page], total=total, start_index=start)


@bp.post(f"{PREFIX}/Users/.search")
@bp.post(f"{PREFIX}/.search", endpoint="root_search")
@require_client("scim")
def user_search():
    """The POST form of the list (RFC 7644 §3.4.3): a SearchRequest body with filter, paging and attributes; at
    the root too (Users are the only resource type)."""
    body = _body()
    if not isinstance(body, dict):
        raise services.ScimError(400, "The body must be a SearchRequest.", "invalidSyntax")
    lowered = {str(key).lower(): value for key, value in body.items()}
    return _list_response(
        filter_text=lowered.get("filter"),
        start_index=lowered.get("startindex"),
        count=lowered.get("count"),
        attributes=lowered.get("attributes"),
        excluded=lowered.get("excludedattributes"),
    )


@bp.post(f"{PREFIX}/Users")
@require_client("scim")
def user_create():
    """Create (or take over by e-mail address) a staff user; 201 with the resource."""
    resource = services.parse_user(_body())
    scim_user = services.create_user(resource, client=current_client(), now=clock.utcnow(), today=clock.today())
    return _user_response(scim_user, 201)


@bp.get(f"{PREFIX}/Users/<scim_id>")
@require_client("scim")
def user_detail(scim_id: str):
    """One provisioned user (also a deactivated one); 404 after a DELETE. Audited as a read."""
    scim_user = _scim_user_or_404(scim_id)
    record_read(
        "user.view", subject=scim_user.user_id, object_type="user", object_id=scim_user.user_id, details={"via": "scim"}
    )
    return _user_response(scim_user)


@bp.put(f"{PREFIX}/Users/<scim_id>")
@require_client("scim")
def user_replace(scim_id: str):
    """Replace a user's resource."""
    scim_user = _scim_user_or_404(scim_id)
    resource = services.parse_user(_body(), replacing=True)
    services.replace_user(scim_user, resource, now=clock.utcnow(), today=clock.today())
    return _user_response(scim_user)


@bp.patch(f"{PREFIX}/Users/<scim_id>")
@require_client("scim")
def user_patch(scim_id: str):
    """Change a user with PATCH operations, in Entra ID's shapes too; 200 with the resource."""
    scim_user = _scim_user_or_404(scim_id)
    patch = services.parse_patch(_body())
    services.patch_user(scim_user, patch, now=clock.utcnow(), today=clock.today())
    return _user_response(scim_user)


@bp.delete(f"{PREFIX}/Users/<scim_id>")
@require_client("scim")
def user_delete(scim_id: str):
    """Deprovision: deactivate the user and forget the SCIM link (history stays); 204."""
    scim_user = _scim_user_or_404(scim_id)
    services.delete_user(scim_user, now=clock.utcnow(), today=clock.today())
    return "", 204


@bp.route(f"{PREFIX}/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@require_client("scim")
def unknown_endpoint(unknown: str):
    """Any other URL under /scim/v2 (Bulk, /Me, a group ...): a SCIM 404, not the HTML page; another method on an
    endpoint that exists (POST /Schemas): 405. `GET /Groups` is an empty list (groups are not offered)."""
    if unknown == "Groups" and request.method == "GET":
        # Entra ID's Test Connection may query a random group as well as a user: no groups here, so none match.
        return _list([])
    if unknown.split("/", 1)[0] in ("ServiceProviderConfig", "Schemas", "ResourceTypes", "Users"):
        raise services.ScimError(405, f"{request.method} is not supported here.")
    raise services.ScimError(404, "There is no such SCIM endpoint here.")


# --------------------------------------------------------------------------------------------------
# The coordinator's mapping of job titles and departments
# --------------------------------------------------------------------------------------------------


@bp.get("/integrations/scim-mappings")
@allow(AccessLevel.COORDINATOR)
def mapping_list():
    """The job titles and departments the directory has sent, with their staff role or unit; unmapped first."""
    return render_template(
        "scim/mapping_list.html",
        mappings=services.list_mappings(),
        counts=services.users_per_mapping(),
        MappingKind=MappingKind,
    )


@bp.route("/integrations/scim-mappings/<int:mapping_id>", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def mapping_edit(mapping_id: int):
    """Map one title to a staff role (a department to a unit); every provisioned user with it follows."""
    mapping = db.get_or_404(ScimValueMapping, mapping_id)
    form = MappingForm(mapping)
    changed = submitted(
        form, lambda: services.set_mapping(mapping, form.target_id(), actor=current_user, now=clock.utcnow())
    )
    if changed is None:
        return render_template("scim/mapping_form.html", form=form, mapping=mapping, MappingKind=MappingKind)
    flash(_("Tilknytningen er gemt. %(count)s brugere fik den nu.", count=changed), "success")
    return redirect(url_for(".mapping_list"))
