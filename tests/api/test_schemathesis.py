"""schemathesis fuzzes every operation of the read API against its OpenAPI document, through the WSGI app:
no server error, and every status code, content type, header and body as documented (its default checks).
A small world (a run with participants, attendance and a completion) gives the operations something to
answer; generated ids mostly miss it and must answer documented 404s. Valid data (positive) and invalid data
(negative: must be refused with a 4xx). Deterministic (derandomize) with a few examples per operation and mode,
so the module stays within seconds (docs/api.md, "Tests").

One test per operation and mode, each driving hypothesis itself over `operation.as_strategy()`:
schemathesis' own pytest plugin (`schemathesis.pytest.from_fixture`) rewrites pytest's private node ids, which
pytest 9 no longer has.
"""

from __future__ import annotations

from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from app.api.openapi import build_spec
from tests import factories
from tests.api.conftest import ALL_READ_SCOPES

DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))
#: Examples per operation and mode: enough to reach every parameter's edges, cheap enough for CI.
EXAMPLES = 10
OPERATIONS = [path for path in build_spec()["paths"]]


@pytest.fixture
def world(app, make_token):
    """A run with two confirmed participants (one complete), one waiting and one cancelled; the token."""
    run = factories.make_course_run(days=DAYS, capacity=3)
    for index, status in enumerate(("confirmed", "confirmed", "waitlisted", "cancelled")):
        enrolment = factories.make_enrolment(run, factories.make_user(name=f"Fuzz {index}"), status=status)
        if status == "confirmed":
            for day in run.days:
                factories.make_attendance(enrolment, day, present=index == 0 or day.position != 2)
    return make_token(*ALL_READ_SCOPES, name="schemathesis")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("path", OPERATIONS)
def test_the_api_conforms_to_its_document(app, world, path, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema[path]["GET"]
    calls = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    def fuzz(case):
        if mode is GenerationMode.POSITIVE and case.query:
            # A cursor is valid only as the server signed it for this list (any string fits its schema, and a
            # forged one is rightly a 400): valid data leaves it out; tests/api/test_api.py tries forged ones.
            case.query.pop("cursor", None)
        response = case.call_and_validate(headers=world)
        calls.append(response.status_code)

    fuzz()
    assert calls, "schemathesis made no request"
