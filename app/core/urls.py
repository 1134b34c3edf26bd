"""Redirect targets taken from the request (`?next=`, a form's `next`): only paths on this site."""
from __future__ import annotations

import re

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
