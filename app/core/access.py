"""Declarative access control: every view states who may reach it, checked in one place.

Each view is decorated with `@public` or `@allow(level, ..., check=rule)`. A `before_request` hook
(`enforce_access_rules`) reads the rule of the endpoint about to run and:
- denies by default (403) an endpoint that declares no rule, so a forgotten decorator fails closed;
- sends anonymous users to the login page;
- answers 403 when the user's access level is not listed;
- answers 404 when the ownership rule `check(user, **view_args)` says no, because the existence of
  another provider's run or another person's enrolment is itself private.
Views called by programs with a bearer token (/scim/v2, /api/v1) declare their rule with
`app.integrations.auth.require_client(scope)` instead, which checks the token itself.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, request
from flask_login import current_user

from app.extensions import login_manager


class AccessLevel(enum.StrEnum):
    COORDINATOR = "coordinator"
    STAFF = "staff"
    PROVIDER = "provider"


OwnershipCheck = Callable[..., bool]


@dataclass(frozen=True)
class AccessRule:
    public: bool = False
    levels: frozenset[AccessLevel] = frozenset()
    check: OwnershipCheck | None = None
    #: Set by app.integrations.auth.require_client: a program's bearer-token call, not a logged-in user's.
    #: The session rules don't apply; the decorator authenticates the token and checks this scope itself.
    client_scope: str | None = None


def public(view):
    """Reachable without logging in (login page, health check, signed calendar feeds)."""
    view.access_rule = AccessRule(public=True)
    return view


def allow(*levels: AccessLevel, check: OwnershipCheck | None = None):
    """Reachable by logged-in users of `levels`; `check(user, **view_args)` False answers 404."""
    if not levels:
        raise ValueError("allow() needs at least one access level")

    def decorate(view):
        view.access_rule = AccessRule(levels=frozenset(levels), check=check)
        return view

    return decorate


ALL_LEVELS = tuple(AccessLevel)


def rule_for(endpoint: str) -> AccessRule | None:
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "access_rule", None)


def enforce_access_rules() -> Any:
    """before_request hook: apply the current endpoint's rule (see module docstring)."""
    endpoint = request.endpoint
    if endpoint is None or endpoint == "static":
        return None  # unknown URL -> 404 from routing; static files are public
    rule = rule_for(endpoint)
    if rule is None:
        current_app.logger.error("endpoint %s declares no access rule; denied", endpoint)
        abort(403)
    if rule.public or rule.client_scope is not None:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.access_level not in rule.levels:
        abort(403)
    if rule.check is not None and not rule.check(current_user, **(request.view_args or {})):
        abort(404)
    return None
