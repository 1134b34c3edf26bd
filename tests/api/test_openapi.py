"""The OpenAPI 3.1 document: valid (openapi-spec-validator), describing exactly the blueprint's routes, served
as JSON and rendered as a page in both languages without anything from the internet."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing.exceptions import Unresolvable

from app.api.openapi import build_spec


def test_the_served_document_is_valid_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    spec = response.get_json()
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises on any error
    assert spec["servers"] == [{"url": "/api/v1"}]


def test_the_validator_would_catch_a_broken_document():
    """Guard against a check on nothing: the validator refuses a schema of no JSON Schema type and a dangling
    reference."""
    spec = build_spec()
    spec["components"]["schemas"]["Run"]["properties"]["title"] = {"type": "nonsense"}
    with pytest.raises(OpenAPIValidationError):
        validate(spec)
    spec = build_spec()
    spec["paths"]["/runs"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/Nothing"
    }
    with pytest.raises(Unresolvable):
        validate(spec)


def test_the_document_describes_exactly_the_api_routes(app):
    spec = build_spec()
    documented = {
        ("GET", "/api/v1" + path) for path, item in spec["paths"].items() for method in item if method == "get"
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint not in ("api.openapi_json", "api.docs_page"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routed |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed


def test_every_operation_names_its_scope_and_its_errors():
    for path, item in build_spec()["paths"].items():
        op = item["get"]
        (scope,) = op["security"][0]["bearerAuth"]
        assert scope.endswith(":read"), path
        assert {"200", "304", "400", "401", "403", "429"} <= set(op["responses"]), path
        if "{" in path:
            assert "404" in op["responses"], path


def test_the_docs_page_renders_the_document_in_both_languages(client):
    danish = client.get("/api/v1/docs", headers={"Accept-Language": "da"})
    assert danish.status_code == 200
    html = danish.get_data(as_text=True)
    assert "API til BI- og HR-systemer" in html
    assert "GET /api/v1/runs/{run_id}/participants" in html
    assert "participants:read" in html and "completed_on" in html
    assert "<code>Authorization: Bearer kp_…</code>" in html
    assert "the <code>links.next</code> of the previous page" in html  # the document's code spans as code
    assert '<script src="http' not in html and "cdn" not in html.lower()
    english = client.get("/api/v1/docs", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "API for BI and HR systems" in english and "Gives access to" in english


def test_the_coordinators_integrations_page_links_to_the_docs(client, login_as, coordinator):
    login_as(coordinator)
    html = client.get("/integrations").get_data(as_text=True)
    assert 'href="/api/v1/docs"' in html
