"""Cursor pagination of the read API: keyset on the listed rows' id, the cursor opaque and signed.

A cursor holds the last id of the page it follows and the list it belongs to (the endpoint and its filters),
signed with SECRET_KEY (itsdangerous, a salt of its own), so a client can neither forge a position nor carry a
cursor over to another list or other filters: both answer 400. Keyset pages stay correct while rows are added
(no offset drift) and cost the same at any depth (an index range scan on the primary key).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

#: Rows per page when the client does not say, and the most it may ask for.
DEFAULT_LIMIT = 50
MAX_LIMIT = 200

_SALT = "api-v1-cursor"


class BadCursor(ValueError):
    """The cursor was not made by this server for this list (tampered, truncated, or another list's)."""


@dataclass(frozen=True)
class Position:
    """Where a page starts: after the row with id `after` (0: the first page), `limit` rows."""

    after: int
    limit: int


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def list_key(endpoint: str, filters: dict[str, Any]) -> str:
    """A short fingerprint of the list a cursor belongs to: the endpoint and its filters (not the limit)."""
    canonical = json.dumps([endpoint, sorted((k, str(v)) for k, v in filters.items() if v is not None)])
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def make_cursor(after: int, key: str) -> str:
    return _serializer().dumps({"a": after, "k": key})


def read_cursor(cursor: str | None, key: str) -> int:
    """The id the page starts after (0 without a cursor). :raises BadCursor: not ours, or another list's."""
    if not cursor:
        return 0
    try:
        data = _serializer().loads(cursor)
    except BadSignature:
        raise BadCursor(cursor) from None
    if not isinstance(data, dict) or data.get("k") != key or not isinstance(data.get("a"), int) or data["a"] < 0:
        raise BadCursor(cursor)
    return data["a"]
