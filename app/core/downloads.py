"""File downloads: one place that names the file for every browser and keeps personal data out of caches."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response


def as_attachment(response: Response, ascii_name: str, name: str, *, no_store: bool = True) -> Response:
    """Mark `response` as a download called `name` (with the extension): an ASCII `filename=` for every client,
    and the Unicode name per RFC 6266/5987 (`filename*=`) when it differs. `no_store` (the default, for files
    with personal data): never kept by a shared cache or the browser's. Always `nosniff`."""
    disposition = f'attachment; filename="{ascii_name}"'
    if name != ascii_name:
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    response.headers["Content-Disposition"] = disposition
    if no_store:
        response.headers["Cache-Control"] = "no-store, private"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
