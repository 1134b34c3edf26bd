"""The OpenAPI 3.1 description of the read API, written as the document itself (a dict), served at
`/api/v1/openapi.json` and rendered at `/api/v1/docs`.

Why a hand-written dict (docs/architecture.md "Read API"): OpenAPI 3.1 schemas are JSON Schema 2020-12, so the
dict *is* the contract with nothing in between; the tests keep it honest from both sides (openapi-spec-validator
validates it, a test compares its paths with the blueprint's routes, and schemathesis fuzzes the implementation
against it). The parameter limits below are also what the views enforce (`LIMITS`), one home for both.
"""

from __future__ import annotations

import copy
from typing import Any

from app.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.courses.models import DayKind, RunKind, RunStatus
from app.enrolment.models import EnrolmentStatus
from app.programmes.dashboard import Status

#: The largest id the API accepts in a path or filter (the columns are 32-bit integers on PostgreSQL).
MAX_ID = 2**31 - 1
#: What an e-mail filter must look like (also checked by the view): something@something, no spaces.
#: Query values never hold control characters: the app refuses a NUL anywhere in a request (400) before any view.
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f]+$"
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$"
EMAIL_MAX_LENGTH = 254
CURSOR_MAX_LENGTH = 200
#: The longest employee number the directory may send (app.scim.models.ScimUser.employee_number).
EMPLOYEE_NUMBER_MAX_LENGTH = 64

#: The read API's scopes as the document describes them (English, like the whole document); the coordinator's
#: labels of every scope are app.integrations.services.SCOPES.
SCOPES = {
    "runs:read": "Runs with their days, seats and status.",
    "participants:read": "A run's participants with status, attendance and completion (personal data).",
    "completions:read": "Completed courses per person, for the competence record (personal data).",
    "programmes:read": "Programmes and their figures (aggregates, no personal data).",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_COUNT = {"type": "integer", "minimum": 0}
_DATE = {"type": "string", "format": "date"}
_DATETIME = {"type": "string", "format": "date-time"}
_STR = {"type": "string"}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


_IdName = _object({"id": _ID, "name": _STR})
_Status = {"type": "string", "enum": [s.value for s in Status]}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "properties": {
            "type": {"type": "string", "format": "uri-reference"},
            "title": _STR,
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": _STR,
            "instance": {"type": "string", "format": "uri-reference"},
            "errors": {
                "type": "array",
                "description": "The parameters that were wrong and why.",
                "items": _object({"name": _STR, "detail": _STR}),
            },
        },
        "required": ["type", "title", "status"],
    },
    "Links": _object({"next": _nullable({"type": "string", "format": "uri-reference"})}),
    "Ref": _IdName,
    "CourseDay": _object(
        {
            "position": {"type": "integer", "minimum": 1},
            "kind": {"type": "string", "enum": [k.value for k in DayKind]},
            "date": _DATE,
            "starts_at": _DATETIME,
            "ends_at": _DATETIME,
            "venue": _STR,
        }
    ),
    "Run": _object(
        {
            "id": _ID,
            "title": _STR,
            "kind": {"type": "string", "enum": [k.value for k in RunKind]},
            "status": {"type": "string", "enum": [s.value for s in RunStatus]},
            "programme": _ref("Ref"),
            "provider": _ref("Ref"),
            "venue": _STR,
            "enrolment_deadline": _DATE,
            "requires_approval": {"type": "boolean"},
            "price_ore": _COUNT,
            "seats": _object({"capacity": _COUNT, "taken": _COUNT, "available": _COUNT, "waiting": _COUNT}),
            "first_day": _nullable(_DATE),
            "days": {"type": "array", "items": _ref("CourseDay")},
            "updated_at": _nullable(_DATETIME),
        }
    ),
    "RunList": _object({"data": {"type": "array", "items": _ref("Run")}, "links": _ref("Links")}),
    "Person": _object(
        {
            "id": _ID,
            "name": _STR,
            "email": _STR,
            "employee_number": _nullable(_STR),
            "anonymised": {"type": "boolean"},
        }
    ),
    "Participant": _object(
        {
            "enrolment_id": _ID,
            "person": _ref("Person"),
            "staff_role": _nullable(_STR),
            "unit": _nullable(_STR),
            "status": {"type": "string", "enum": [s.value for s in EnrolmentStatus]},
            "waiting_list_position": _nullable({"type": "integer", "minimum": 1}),
            "enrolled_at": _nullable(_DATETIME),
            "status_changed_at": _nullable(_DATETIME),
            "attendance": {
                "type": "array",
                "items": _object(
                    {
                        "day_position": {"type": "integer", "minimum": 1},
                        "date": _DATE,
                        "present": _nullable({"type": "boolean"}),
                    }
                ),
            },
            "completed": {"type": "boolean"},
        }
    ),
    "ParticipantList": _object({"data": {"type": "array", "items": _ref("Participant")}, "links": _ref("Links")}),
    "Completion": _object(
        {
            "enrolment_id": _ID,
            "person": _ref("Person"),
            "run": _object(
                {"id": _ID, "title": _STR, "status": {"type": "string", "enum": ["published", "completed", "draft"]}}
            ),
            "programme": _ref("Ref"),
            "provider": _ref("Ref"),
            "methods": {"type": "array", "items": _STR},
            "completed_on": _DATE,
        }
    ),
    "CompletionList": _object({"data": {"type": "array", "items": _ref("Completion")}, "links": _ref("Links")}),
    "Programme": _object(
        {
            "id": _ID,
            "name": _STR,
            "starts_on": _DATE,
            "ends_on": _DATE,
            "target_deadline": _DATE,
            "target_runs": _COUNT,
            "target_completed_staff": _COUNT,
        }
    ),
    "ProgrammeList": _object({"data": {"type": "array", "items": _ref("Programme")}, "links": _ref("Links")}),
    "Breakdown": _object({"label": _STR, "label_en": _nullable(_STR), "completed": _COUNT, "enrolled": _COUNT}),
    "ProgrammeFigures": _object(
        {
            "programme": _ref("Ref"),
            "measured_on": _DATE,
            "target_deadline": _DATE,
            "deadline_passed": {"type": "boolean"},
            "activity": _object(
                {
                    "target": _COUNT,
                    "completed": _COUNT,
                    "completed_late": _COUNT,
                    "planned": _COUNT,
                    "published": _COUNT,
                    "running": _COUNT,
                    "can_still_count": _COUNT,
                    "too_late": _COUNT,
                    "cancelled": _COUNT,
                    "status": _Status,
                }
            ),
            "result": _object(
                {
                    "target": _COUNT,
                    "completed": _COUNT,
                    "enrolled": _COUNT,
                    "not_completed": {"type": "integer"},
                    "completed_late": _COUNT,
                    "seats_that_can_count": _COUNT,
                    "status": _Status,
                    "by_role": {"type": "array", "items": _ref("Breakdown")},
                    "by_unit": {"type": "array", "items": _ref("Breakdown")},
                    "by_provider": {"type": "array", "items": _ref("Breakdown")},
                    "by_month": {
                        "type": "array",
                        "items": _object(
                            {
                                "year": {"type": "integer"},
                                "month": {"type": "integer", "minimum": 1, "maximum": 12},
                                "completed": _COUNT,
                            }
                        ),
                    },
                }
            ),
            "effect": _object(
                {
                    "invited": _COUNT,
                    "answered": _COUNT,
                    "response_rate": _nullable({"type": "number", "minimum": 0}),
                    "before_regular": _COUNT,
                    "before_answers": _COUNT,
                    "since_regular": _COUNT,
                    "since_answers": _COUNT,
                    "status": _Status,
                    "methods": {
                        "type": "array",
                        "items": _object(
                            {
                                "method_id": _ID,
                                "name": _STR,
                                "responses": _COUNT,
                                "before": {"type": "object", "additionalProperties": _COUNT},
                                "since": {"type": "object", "additionalProperties": _COUNT},
                            }
                        ),
                    },
                }
            ),
            "budget": {
                "type": "array",
                "items": _object(
                    {
                        "provider": _ref("Ref"),
                        "year": {"type": "integer"},
                        "allocated_ore": _COUNT,
                        "committed_ore": _COUNT,
                        "spent_ore": _COUNT,
                        "remainder_ore": {"type": "integer"},
                        "has_allocation": {"type": "boolean"},
                    }
                ),
            },
            "runs": {
                "type": "array",
                "items": _object(
                    {
                        "id": _ID,
                        "title": _STR,
                        "provider": _ref("Ref"),
                        "status": {"type": "string", "enum": [s.value for s in RunStatus]},
                        "first_day": _nullable(_DATE),
                        "counts_on": _nullable(_DATE),
                        "capacity": _COUNT,
                        "confirmed": _COUNT,
                        "completed_staff": _COUNT,
                        "price_ore": _COUNT,
                        "in_time": {"type": "boolean"},
                    }
                ),
            },
        }
    ),
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("Problem")}}}


RESPONSES: dict[str, Any] = {
    "BadRequest": _problem("A parameter is not valid (the `errors` member names it)."),
    "Unauthorized": {
        **_problem("No token, or a token that is unknown or revoked."),
        "headers": {"WWW-Authenticate": {"schema": _STR}},
    },
    "Forbidden": _problem("The token lacks the scope this operation needs."),
    "NotFound": _problem("No such resource."),
    "TooManyRequests": {
        **_problem("Too many requests from this client; wait as `Retry-After` says."),
        "headers": {"Retry-After": {"schema": _STR}},
    },
    "NotModified": {
        "description": "The representation has not changed since the ETag sent in If-None-Match.",
        "headers": {"ETag": {"schema": _STR}},
    },
}

PARAMETERS: dict[str, Any] = {
    "cursor": {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": (
            "Opaque: the `links.next` of the previous page carries it. Only valid for the same list and filters."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": CURSOR_MAX_LENGTH},
    },
    "limit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"Rows per page (default {DEFAULT_LIMIT}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    },
    "ifNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "An ETag from an earlier answer: 304 without a body when nothing changed.",
        "schema": _STR,
    },
    "runId": {"name": "run_id", "in": "path", "required": True, "schema": _ID},
    "programmeId": {"name": "programme_id", "in": "path", "required": True, "schema": _ID},
}


def _p(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _r(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"ETag": {"schema": _STR}},
        "content": {"application/json": {"schema": _ref(schema)}},
    }


def _operation(
    operation_id: str, summary: str, scope: str, schema: str, parameters: list[dict[str, Any]], *, has_404: bool
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": _ok(schema, summary),
        "304": _r("NotModified"),
        "400": _r("BadRequest"),
        "401": _r("Unauthorized"),
        "403": _r("Forbidden"),
        "429": _r("TooManyRequests"),
    }
    if has_404:
        responses["404"] = _r("NotFound")
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "description": f"Scope: `{scope}`.",
            "security": [{"bearerAuth": [scope]}],
            "parameters": [*parameters, _p("ifNoneMatch")],
            "responses": responses,
        }
    }


def build_spec(server_url: str = "/api/v1") -> dict[str, Any]:
    """The OpenAPI 3.1 document. `server_url` is where the API is mounted as the client sees it. A new dict
    every time (the schemas are copied), so a caller may change it without changing the next one."""
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "Kursusportalen read API",
                "version": "1.0.0",
                "summary": "Runs, participants, completions and programme figures for BI and HR systems.",
                "description": (
                    "Read-only JSON for programs. Authenticate with `Authorization: Bearer <token>` (a coordinator "
                    "creates the integration client and its scopes). Lists page with an opaque cursor "
                    "(`links.next`); every answer carries an ETag for `If-None-Match`; errors are RFC 9457 problem "
                    "details. Reads of personal data are written to the audit log. See docs/api.md."
                ),
            },
            "servers": [{"url": server_url}],
            "security": [{"bearerAuth": []}],
            "paths": {
                "/runs": _operation(
                    "listRuns",
                    "Runs with their days, seats and status, in id order.",
                    "runs:read",
                    "RunList",
                    [
                        _p("cursor"),
                        _p("limit"),
                        {
                            "name": "status",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": [s.value for s in RunStatus]},
                        },
                        {"name": "programme_id", "in": "query", "required": False, "schema": _ID},
                    ],
                    has_404=False,
                ),
                "/runs/{run_id}": _operation(
                    "getRun",
                    "One run with its days, seats and status.",
                    "runs:read",
                    "Run",
                    [_p("runId")],
                    has_404=True,
                ),
                "/runs/{run_id}/participants": _operation(
                    "listRunParticipants",
                    "A run's enrolments (every status) with attendance per day and completion, in enrolment id order.",
                    "participants:read",
                    "ParticipantList",
                    [_p("runId"), _p("cursor"), _p("limit")],
                    has_404=True,
                ),
                "/completions": _operation(
                    "listCompletions",
                    "Completed courses (present on every day of a run that is not cancelled), in enrolment id order.",
                    "completions:read",
                    "CompletionList",
                    [
                        _p("cursor"),
                        _p("limit"),
                        {
                            "name": "person_id",
                            "in": "query",
                            "required": False,
                            "description": "Only this person's completions (the person's id in Kursusportalen).",
                            "schema": _ID,
                        },
                        {
                            "name": "email",
                            "in": "query",
                            "required": False,
                            "description": "Only the completions of the person with this work address (any case).",
                            "schema": {"type": "string", "pattern": EMAIL_PATTERN, "maxLength": EMAIL_MAX_LENGTH},
                        },
                        {
                            "name": "employee_number",
                            "in": "query",
                            "required": False,
                            "description": "Only the completions of the person with this employee number (the "
                            "directory's employeeNumber, as provisioned by SCIM; compared exactly).",
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": EMPLOYEE_NUMBER_MAX_LENGTH,
                                "pattern": NO_CONTROL_PATTERN,
                            },
                        },
                    ],
                    has_404=False,
                ),
                "/programmes": _operation(
                    "listProgrammes",
                    "Programmes with their targets, in id order.",
                    "programmes:read",
                    "ProgrammeList",
                    [_p("cursor"), _p("limit")],
                    has_404=False,
                ),
                "/programmes/{programme_id}/figures": _operation(
                    "getProgrammeFigures",
                    "A programme's activity, result, effect and budget: the dashboard's and the report's figures.",
                    "programmes:read",
                    "ProgrammeFigures",
                    [_p("programmeId")],
                    has_404=True,
                ),
            },
            "components": {
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "An integration client's token. Scopes: "
                        + "; ".join(f"`{name}`: {text}" for name, text in SCOPES.items()),
                    }
                },
                "schemas": SCHEMAS,
                "responses": RESPONSES,
                "parameters": PARAMETERS,
            },
        }
    )


def query_parameters() -> dict[str, frozenset[str]]:
    """Each operation's path (as in the document, "/runs/{run_id}") -> the query parameters it takes: the
    views refuse any other (a misspelt filter must not silently list everything)."""
    spec = build_spec()
    allowed = {}
    for path, item in spec["paths"].items():
        params = (_resolve(spec, p) for p in item["get"].get("parameters", []))
        allowed[path] = frozenset(p["name"] for p in params if p["in"] == "query")
    return allowed


# --------------------------------------------------------------------------------------------------
# The docs page's view of the document
# --------------------------------------------------------------------------------------------------


def type_label(schema: dict[str, Any]) -> str:
    """A schema in a few words for the docs page: "Run", "array of Run", "string (date)", "integer | null"."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "oneOf" in schema:
        return " | ".join(type_label(part) for part in schema["oneOf"])
    kind = schema.get("type", "object")
    if kind == "array":
        return f"array of {type_label(schema.get('items', {}))}"
    if "enum" in schema:
        return f"{kind}: " + ", ".join(str(v) for v in schema["enum"])
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    if "minimum" in schema and "maximum" in schema:
        return f"{kind} {schema['minimum']}–{schema['maximum']}"
    return kind


def segments(text: str) -> list[tuple[bool, str]]:
    """A description's Markdown code spans for the docs page: [(is_code, text), ...] ("`a` b" -> a as code)."""
    return [(index % 2 == 1, part) for index, part in enumerate(text.split("`")) if part]


def _resolve(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in item:
        _hash, _components, section, name = item["$ref"].split("/")
        return spec["components"][section][name]
    return item


def reference(spec: dict[str, Any]) -> dict[str, Any]:
    """The document flattened for the docs page: operations with their parameters and responses, and the
    schemas with one row per property (nested objects named by their path)."""
    operations = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            parameters = []
            for param in op.get("parameters", []):
                param = _resolve(spec, param)
                parameters.append(
                    {
                        "name": param["name"],
                        "in": param["in"],
                        "required": param.get("required", False),
                        "type": type_label(param["schema"]),
                        "description": segments(param.get("description", "")),
                    }
                )
            responses = []
            for status, response in op["responses"].items():
                response = _resolve(spec, response)
                content = response.get("content", {})
                media = next(iter(content), None)
                schema = type_label(content[media]["schema"]) if media else ""
                responses.append(
                    {
                        "status": status,
                        "description": segments(response["description"]),
                        "media": media,
                        "schema": schema,
                    }
                )
            operations.append(
                {
                    "id": op["operationId"],
                    "method": method.upper(),
                    "path": spec["servers"][0]["url"] + path,
                    "summary": segments(op["summary"]),
                    "scope": op["security"][0]["bearerAuth"][0],
                    "parameters": parameters,
                    "responses": responses,
                }
            )
    schemas = []
    for name, schema in spec["components"]["schemas"].items():
        rows: list[dict[str, Any]] = []
        _properties(schema, "", rows)
        schemas.append({"name": name, "description": segments(schema.get("description", "")), "rows": rows})
    return {"operations": operations, "schemas": schemas}


def _properties(schema: dict[str, Any], prefix: str, rows: list[dict[str, Any]]) -> None:
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        rows.append({"name": path, "type": type_label(prop), "required": name in required})
        target = prop.get("items", prop) if prop.get("type") == "array" else prop
        if target.get("type") == "object" and "properties" in target:
            _properties(target, f"{path}{'[].' if prop.get('type') == 'array' else '.'}", rows)
