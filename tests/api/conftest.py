"""The read API's fixtures: an integration client with the scopes a test names, and its Authorization header."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.core import clock
from app.extensions import db
from app.integrations import services as integrations
from tests import factories

ALL_READ_SCOPES = ("runs:read", "participants:read", "completions:read", "programmes:read")


@pytest.fixture
def make_token(app) -> Callable[..., dict[str, str]]:
    """make_token(*scopes, name=...) -> the headers of a new integration client holding `scopes`."""
    creator = factories.make_user(access_level="coordinator")
    made = 0

    def make(*scopes: str, name: str | None = None) -> dict[str, str]:
        nonlocal made
        made += 1
        client, token = integrations.create_client(
            actor=creator, name=name or f"BI-system {made}", scopes=scopes or ALL_READ_SCOPES, now=clock.utcnow()
        )
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def api_headers(make_token) -> dict[str, str]:
    """A client holding every read scope."""
    return make_token(*ALL_READ_SCOPES, name="HR-systemet")
