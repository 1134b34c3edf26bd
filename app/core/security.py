"""HTTP hardening in one place: security headers on every response, and input no view could store.

`init_app(app)` (called by `create_app`'s `register_security`) adds:

- an `after_request` hook giving every response, error pages and static files included, the
  Content-Security-Policy (`CONTENT_SECURITY_POLICY`: no inline script or style, nothing from other
  origins, no framing, no `<base>`, no plugins), `X-Content-Type-Options: nosniff`,
  `Referrer-Policy: same-origin`, `X-Frame-Options: DENY` (for browsers without `frame-ancestors`),
  `Cross-Origin-Opener-Policy: same-origin`, a `Permissions-Policy` switching off the powerful features
  the portal never uses, and `Strict-Transport-Security` when `HSTS_SECONDS` > 0 (production).
  Responses of the application itself (not static files) that set no `Cache-Control` of their own get
  `no-store`: every page carries a CSRF token or personal data, and nothing is worth a cache keeping.
  Downloads keep what they set (`app.core.downloads`: `no-store, private`; the calendar: `private`).
- a `before_request` hook, run before every other, that answers 400 (the normal error page) when the
  path, the query string or a form carries a NUL byte or bytes that are not UTF-8. PostgreSQL refuses
  NUL in text (a 500 otherwise), and Werkzeug would silently turn invalid UTF-8 into U+FFFD.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import Flask, Response, abort, current_app, request

#: What the `Permissions-Policy` header switches off: features no page of the portal uses.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
FORM_MIMETYPE = "application/x-www-form-urlencoded"
MULTIPART_MIMETYPE = "multipart/form-data"


def init_app(app: Flask) -> None:
    # First of all before_request hooks: nothing (CSRF check, access rules, views) reads unreadable input.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unreadable_input)
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    config = current_app.config
    headers = response.headers
    csp = config.get("CONTENT_SECURITY_POLICY")
    if csp:
        headers.setdefault("Content-Security-Policy", csp)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    hsts_seconds = int(config.get("HSTS_SECONDS") or 0)
    if hsts_seconds > 0:
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts_seconds}; includeSubDomains")
    if request.endpoint != "static" and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    return response


def _readable_bytes(raw: bytes) -> bool:
    """True when `raw` is UTF-8 without NUL bytes."""
    if b"\x00" in raw:
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _readable(encoded: bytes) -> bool:
    """The same for URL-encoded bytes (a query string, one pair of a form body)."""
    return _readable_bytes(unquote_to_bytes(encoded.replace(b"+", b" ")))


def _readable_text(value: str) -> bool:
    """For text Werkzeug has already decoded (multipart fields): no NUL, no U+FFFD left by invalid UTF-8."""
    return "\x00" not in value and "\ufffd" not in value


def refuse_unreadable_input() -> None:
    """before_request: 400 for a NUL byte or invalid UTF-8 in the path, query string or form."""
    path_info = request.environ.get("PATH_INFO", "")
    try:
        raw_path = path_info.encode("latin-1")  # WSGI: the decoded path's bytes, one per code point
    except UnicodeEncodeError:
        raw_path = path_info.encode("utf-8", "surrogatepass")
    if not _readable_bytes(raw_path) or not _readable(request.query_string):
        abort(400)
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if request.mimetype == FORM_MIMETYPE:
        # Cached: Werkzeug parses request.form from the same bytes afterwards.
        if not all(_readable(part) for part in request.get_data(cache=True).split(b"&")):
            abort(400)
    elif request.mimetype == MULTIPART_MIMETYPE:
        texts = [text for pair in request.form.items(multi=True) for text in pair]
        texts += [text for name, upload in request.files.items(multi=True) for text in (name, upload.filename or "")]
        if not all(_readable_text(text) for text in texts):
            abort(400)
