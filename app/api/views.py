"""The read API `/api/v1` (docs/api.md): JSON for the municipality's BI and HR systems, authenticated by an
integration client's bearer token and scope (`app.integrations.auth.require_client`), plus its OpenAPI 3.1
document and a docs page rendered from it.

Every answer of an operation carries an ETag (a hash of its body) and honours If-None-Match with 304; lists
page with a signed keyset cursor (`pagination`); errors are problem+json (`problems`). A read that showed
people (participants, completions) is one audit entry naming the client and every person on the page,
committed only when the answer succeeded, as the pages' reads are.

`require_client(scope)` is each operation's access rule (app/core/access.py lets a client-scoped view through
to it): the token is the credential, checked before anything is read; its refusals (401, 403, 429) are answered
here as problems. The OpenAPI document and the docs page are `@public`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import gettext as _

from app.accounts.models import normalise_email
from app.api import pagination, resources
from app.api.openapi import (
    CURSOR_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    EMAIL_PATTERN,
    EMPLOYEE_NUMBER_MAX_LENGTH,
    MAX_ID,
    SCOPES,
    build_spec,
    query_parameters,
    reference,
)
from app.api.problems import ApiProblem, problem, problem_for_http_error
from app.audit.services import add_shown, record
from app.core import clock
from app.core.access import public
from app.core.transaction import keep_only_if_successful
from app.courses.models import RunStatus
from app.integrations import services as integrations
from app.integrations.auth import ClientRefused, require_client

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_EMAIL = re.compile(EMAIL_PATTERN)
#: The query parameters each operation takes, from the OpenAPI document (keyed by its path template).
_QUERY_PARAMETERS = query_parameters()
_RULE_ARGUMENT = re.compile(r"<(?:\w+:)?(\w+)>")


# --------------------------------------------------------------------------------------------------
# Errors, parameters, answers
# --------------------------------------------------------------------------------------------------


@bp.errorhandler(ApiProblem)
def _api_problem(err: ApiProblem):
    return problem(err.status, err.detail, errors=err.errors)


@bp.errorhandler(ClientRefused)
def _client_refused(err: ClientRefused):
    return problem(err.status, err.detail, headers=err.headers)


@bp.errorhandler(400)
@bp.errorhandler(401)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(405)
@bp.errorhandler(429)
def _http_problem(err):
    return problem_for_http_error(err)


def _refuse_unknown_parameters() -> None:
    """A query parameter the operation does not take is a 400 naming it: a misspelt filter (`programe_id`)
    would otherwise answer the whole unfiltered list as if it were the filtered one. Each operation calls it
    first, so the token is checked before anything about the request is answered."""
    rule = request.url_rule.rule if request.url_rule is not None else ""
    path = _RULE_ARGUMENT.sub(r"{\1}", rule.removeprefix(bp.url_prefix or ""))
    allowed = _QUERY_PARAMETERS.get(path)
    if allowed is None:
        return
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise ApiProblem(400, errors=dict.fromkeys(unknown, _("Ukendt parameter.")))


def _arg(name: str) -> str | None:
    """The query parameter's value, None when it is not sent. Sent empty (`?status=`) is a 400, not "absent":
    the document gives every parameter a value, and a filter that was meant but left empty must not widen the
    list."""
    raw = request.args.get(name)
    if raw == "":
        raise ApiProblem(400, errors={name: _("Mangler en værdi.")})
    return raw


def _int_param(name: str, *, low: int, high: int, default: int | None = None) -> int | None:
    raw = _arg(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiProblem(400, errors={name: _("Skal være et helt tal fra %(low)s til %(high)s.", low=low, high=high)})
    return int(raw)


def _position(endpoint: str, filters: dict[str, Any]) -> tuple[pagination.Position, str]:
    """The page asked for: `limit` and where `cursor` says it starts. :raises ApiProblem: 400."""
    limit = _int_param("limit", low=1, high=pagination.MAX_LIMIT, default=pagination.DEFAULT_LIMIT)
    key = pagination.list_key(endpoint, filters)
    cursor = _arg("cursor")
    if cursor is not None and len(cursor) > CURSOR_MAX_LENGTH:
        raise ApiProblem(400, errors={"cursor": _("Markøren er ugyldig. Start forfra uden markør.")})
    try:
        after = pagination.read_cursor(cursor, key)
    except pagination.BadCursor:
        raise ApiProblem(400, errors={"cursor": _("Markøren er ugyldig. Start forfra uden markør.")}) from None
    assert limit is not None
    return pagination.Position(after, limit), key


def _check_id(value: int) -> None:
    """Ids beyond the columns' range name nothing (and would overflow the database's integer)."""
    if value > MAX_ID:
        raise ApiProblem(404)


def _json(body: Any) -> Response:
    """A 200 JSON answer with a strong ETag of its body; 304 without a body when If-None-Match names it.
    `private, no-cache`: a cache may keep it for this client only and must revalidate (personal data)."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    response = Response(data, mimetype="application/json")
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Authorization, Accept-Language"
    response.make_conditional(request)  # 304 without a body when If-None-Match names the tag
    return response


def _list(page: resources.ResultPage, endpoint: str, key: str, limit: int, **params: Any) -> Response:
    next_url = None
    if page.next_after is not None:
        args = {k: v for k, v in params.items() if v is not None}
        if limit != pagination.DEFAULT_LIMIT:
            args["limit"] = limit
        next_url = url_for(endpoint, cursor=pagination.make_cursor(page.next_after, key), **args)
    return _json({"data": page.items, "links": {"next": next_url}})


def _audit_read(action: str, people: set[int], **kwargs: Any) -> None:
    """One audit entry for this request naming every person it showed (nothing when it showed nobody); the
    entry's client is the calling integration client (`record()` reads it from the request). Kept only if the
    answer succeeds, like a page's read (audit.services.record_read, which needs a logged-in reader)."""
    if not people:
        return
    entry = record(action, details={"people": len(people)}, **kwargs)
    keep_only_if_successful()
    add_shown(entry, people)


# --------------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------------


@bp.get("/runs")
@require_client("runs:read")
def run_list():
    """Runs with their days, seats and status (BI), a page at a time."""
    _refuse_unknown_parameters()
    status = _arg("status")
    if status is not None and status not in {s.value for s in RunStatus}:
        raise ApiProblem(
            400, errors={"status": _("Skal være en af: %(values)s.", values=", ".join(s.value for s in RunStatus))}
        )
    programme_id = _int_param("programme_id", low=1, high=MAX_ID)
    filters = {"status": status, "programme_id": programme_id}
    position, key = _position("api.run_list", filters)
    page = resources.list_runs(position.after, position.limit, status=status, programme_id=programme_id)
    return _list(page, "api.run_list", key, position.limit, **filters)


@bp.get("/runs/<int:run_id>")
@require_client("runs:read")
def run_detail(run_id: int):
    """One run with its days, seats and status."""
    _refuse_unknown_parameters()
    _check_id(run_id)
    run = resources.get_run(run_id)
    if run is None:
        raise ApiProblem(404)
    return _json(run)


@bp.get("/runs/<int:run_id>/participants")
@require_client("participants:read")
def run_participants(run_id: int):
    """A run's enrolments with attendance and completion (personal data: audited)."""
    _refuse_unknown_parameters()
    _check_id(run_id)
    position, key = _position("api.run_participants", {"run_id": run_id})
    page = resources.list_participants(run_id, position.after, position.limit)
    if page is None:
        raise ApiProblem(404)
    _audit_read("participants.api_read", page.people, object_type="run", object_id=run_id)
    return _list(page, "api.run_participants", key, position.limit, run_id=run_id)


@bp.get("/completions")
@require_client("completions:read")
def completion_list():
    """Completed courses per person for the HR system's competence record (personal data: audited)."""
    _refuse_unknown_parameters()
    person_id = _int_param("person_id", low=1, high=MAX_ID)
    email = _arg("email")
    if email is not None and (len(email) > EMAIL_MAX_LENGTH or not _EMAIL.match(email)):
        raise ApiProblem(400, errors={"email": _("Skal være en e-mailadresse.")})
    number = _arg("employee_number")
    if number is not None and len(number) > EMPLOYEE_NUMBER_MAX_LENGTH:
        raise ApiProblem(400, errors={"employee_number": _("Højst %(max)s tegn.", max=EMPLOYEE_NUMBER_MAX_LENGTH)})
    filters = {"person_id": person_id, "email": normalise_email(email) if email else None, "employee_number": number}
    position, key = _position("api.completion_list", filters)
    person = None
    if person_id or email or number:
        person = resources.PersonFilter(person_id=person_id, email=email, employee_number=number)
    page = resources.list_completions(position.after, position.limit, person)
    one_person = {"object_type": "user", "object_id": person_id, "subject": person_id} if person_id else {}
    _audit_read("completions.api_read", page.people, **one_person)
    return _list(
        page, "api.completion_list", key, position.limit, person_id=person_id, email=email, employee_number=number
    )


@bp.get("/programmes")
@require_client("programmes:read")
def programme_list():
    """Programmes with their targets."""
    _refuse_unknown_parameters()
    position, key = _position("api.programme_list", {})
    page = resources.list_programmes(position.after, position.limit)
    return _list(page, "api.programme_list", key, position.limit)


@bp.get("/programmes/<int:programme_id>/figures")
@require_client("programmes:read")
def programme_figures(programme_id: int):
    """A programme's figures: the same computation as the dashboard and the report (aggregates only)."""
    _refuse_unknown_parameters()
    _check_id(programme_id)
    figures = resources.get_programme_figures(programme_id, clock.today())
    if figures is None:
        raise ApiProblem(404)
    return _json(figures)


# --------------------------------------------------------------------------------------------------
# The description
# --------------------------------------------------------------------------------------------------


@bp.get("/openapi.json")
@public
def openapi_json():
    """The OpenAPI 3.1 document (public: it describes the API, holds no data)."""
    return _json(build_spec(url_for("api.run_list").removesuffix("/runs")))


@bp.get("/docs")
@public
def docs_page():
    """The API's reference rendered from the OpenAPI document on the server (no script, no CDN)."""
    spec = build_spec(url_for("api.run_list").removesuffix("/runs"))
    scopes = {name: label for name, label in integrations.SCOPES.items() if name in SCOPES}
    return render_template("api/docs.html", reference=reference(spec), scopes=scopes)
