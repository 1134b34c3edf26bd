"""RFC 9457 problem details (`application/problem+json`): the read API's one error format.

`problem()` builds the response; `ApiProblem` is raised by the views for a problem of their own (a bad
parameter); the API blueprint's error handlers and `app/errors.py` (for URLs under /api/ that match no route)
turn HTTP errors into problems. Titles and details are Danish msgids with English translations, chosen by
the request's Accept-Language like every page.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from flask import Response, request
from flask_babel import gettext as _

from app.core.i18n import _l

#: Where the API lives; URLs under it answer problems, never HTML error pages.
API_PREFIX = "/api/"

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: _l("Ugyldig forespørgsel"),
    401: _l("Ikke godkendt"),
    403: _l("Ingen adgang"),
    404: _l("Findes ikke"),
    405: _l("Metoden er ikke tilladt"),
    406: _l("Formatet kan ikke leveres"),
    429: _l("For mange forespørgsler"),
    500: _l("Serverfejl"),
    503: _l("Tjenesten er midlertidigt utilgængelig"),
}


class ApiProblem(Exception):
    """A problem a view answers with: `status`, a `detail`, and the parameters that were wrong (`errors`:
    name → why)."""

    def __init__(self, status: int, detail: str | None = None, errors: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or {}


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response: type about:blank, the status's title, and what went wrong."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": str(_TITLES.get(status, _TITLES[500 if status >= 500 else 400])),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = quote(request.path, safe="/")  # a URI reference: what the client sent, percent-encoded
    if errors:
        body["errors"] = [{"name": name, "detail": text} for name, text in errors.items()]
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def problem_for_http_error(err) -> Response:
    """A werkzeug HTTPException (abort(404), a 405 from routing, Flask-Limiter's 429) as a problem."""
    status = getattr(err, "code", None) or 500
    headers: dict[str, str] = {}
    if status == 405:
        headers["Allow"] = ", ".join(sorted(getattr(err, "valid_methods", None) or ["GET"]))
    if status == 429:
        headers["Retry-After"] = str(getattr(err, "retry_after", None) or 60)
        return problem(status, _("Vent lidt, og prøv igen."), headers=headers)
    return problem(status, headers=headers)
