"""Access control is declared on every view and enforced centrally (app.core.access)."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint

from app.core.access import AccessLevel, allow, public


def test_every_endpoint_declares_an_access_rule(app):
    missing = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and getattr(app.view_functions[rule.endpoint], "access_rule", None) is None
    ]
    assert missing == [], f"endpoints without an access rule: {missing}"


def _concrete(rule) -> str:
    """A URL for `rule` with every converter filled by 1 (enough to reach the access check)."""
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule.rule)


def test_anonymous_users_are_sent_to_login_everywhere_but_public_pages(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        access = app.view_functions[rule.endpoint].access_rule
        if access.public or "GET" not in rule.methods:
            continue
        response = client.get(_concrete(rule))
        if access.client_scope is not None:  # a program's route: no login page, a bearer challenge
            assert response.status_code == 401, rule.rule
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), rule.rule
            continue
        assert response.status_code == 302, rule.rule
        assert response.location.startswith("/login"), rule.rule
        checked += 1
    assert checked >= 5


@pytest.mark.own_app  # adds routes: needs an app that has served no request yet
def test_view_without_rule_is_denied(app, client, coordinator, login_as):
    bp = Blueprint("forgotten", __name__)

    @bp.get("/forgotten")
    def forgotten():
        return "secret"

    app.register_blueprint(bp)
    login_as(coordinator)
    assert client.get("/forgotten").status_code == 403


@pytest.mark.own_app  # adds routes: needs an app that has served no request yet
def test_wrong_level_is_403_and_failed_ownership_is_404(app, client, staff_member, login_as):
    bp = Blueprint("probe", __name__)

    @bp.get("/probe/coordinators")
    @allow(AccessLevel.COORDINATOR)
    def coordinators_only():
        return "ok"

    @bp.get("/probe/owned/<int:thing_id>")
    @allow(AccessLevel.STAFF, check=lambda user, thing_id: thing_id == user.id)
    def owned(thing_id):
        return "mine"

    @bp.get("/probe/open")
    @public
    def open_page():
        return "open"

    app.register_blueprint(bp)
    assert client.get("/probe/open").status_code == 200
    login_as(staff_member)
    assert client.get("/probe/coordinators").status_code == 403
    assert client.get(f"/probe/owned/{staff_member.id}").status_code == 200
    assert client.get(f"/probe/owned/{staff_member.id + 1}").status_code == 404


def test_allow_needs_a_level():
    with pytest.raises(ValueError):
        allow()


@pytest.mark.parametrize("level", ["coordinator", "staff", "provider"])
def test_home_sends_every_level_to_its_start_page(client, login_as, level, request):
    user = request.getfixturevalue(
        {"coordinator": "coordinator", "staff": "staff_member", "provider": "provider_user"}[level]
    )
    login_as(user)
    response = client.get("/")
    assert response.status_code == 302
    assert response.location.endswith("/me/courses" if level == "staff" else "/runs")


def test_settings_hub_is_coordinator_only(client, login_as, coordinator, staff_member):
    login_as(staff_member)
    assert client.get("/settings").status_code == 403


def test_ids_beyond_the_integer_range_are_404_not_500(app, client, coordinator, login_as):
    login_as(coordinator)
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or "<int:" not in rule.rule and "(max=" not in rule.rule:
            continue
        url = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", str(2**40), rule.rule)
        assert client.get(url).status_code == 404, rule.rule
        checked += 1
    assert checked >= 5
