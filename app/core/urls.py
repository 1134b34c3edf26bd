"""Addresses: redirect targets taken from the request (`?next=`, a form's `next`) are only paths on this
site; absolute links are built on BASE_URL, never on the request's Host header."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from flask import current_app, request, url_for

#: ASCII control characters: browsers drop tabs and newlines from a URL (WHATWG URL parsing), so
#: "/\t/evil.example" would be followed as "//evil.example", another site.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site ("/runs?page=2"), else None.

    Refused: anything not starting with one "/" ("//host" and "/\\host" are other sites to a browser),
    backslashes anywhere, and control characters.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or _CONTROL.search(target):
        return None
    return target


_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def external_url(endpoint: str, **values) -> str:
    """An absolute URL on BASE_URL (not the request's Host header, which a proxy or a client may set).

    Plain http is upgraded to https except on a developer's own machine: addresses like the calendar feed's
    hold a secret and must only travel encrypted (docs/technical-notes.md#calendar). Needs a request context (url_for).
    """
    base = urlsplit(current_app.config["BASE_URL"])
    scheme = base.scheme
    if scheme == "http" and (base.hostname or "") not in _LOCAL_HOSTS:
        scheme = "https"
    # BASE_URL is the canonical address, a path prefix included; url_for's own prefix (SCRIPT_NAME) is not
    # added twice.
    path = url_for(endpoint, **values).removeprefix(request.script_root)
    path = base.path.rstrip("/") + path
    return urlunsplit((scheme, base.netloc, path, "", ""))
