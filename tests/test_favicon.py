"""Every page names the portal's icon, and /favicon.ico (which browsers ask for on their own) answers
instead of logging a 404 on every first visit; browsers may keep the icon for a long time."""

from __future__ import annotations

import re


def test_favicon_ico_answers_with_a_long_cache(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in {"image/vnd.microsoft.icon", "image/x-icon"}
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age=2592000" in response.headers["Cache-Control"]
    assert "no-store" not in response.headers["Cache-Control"]


def test_favicon_svg_answers_with_a_long_cache(client):
    response = client.get("/favicon.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data
    assert "max-age=2592000" in response.headers["Cache-Control"]


def test_every_page_links_the_icon(client):
    page = client.get("/login").get_data(as_text=True)
    links = re.findall(r'<link rel="icon" href="([^"]+)"', page)
    assert links == ["/favicon.ico", "/favicon.svg"]
    for href in links:
        assert client.get(href).status_code == 200


def test_a_browser_that_has_the_icon_gets_a_304(client):
    etag = client.get("/favicon.ico").headers["ETag"]
    again = client.get("/favicon.ico", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
