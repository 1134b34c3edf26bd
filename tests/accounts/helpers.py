"""Small helpers shared by the accounts tests."""
from __future__ import annotations

from tests.conftest import csrf_token_from


def csrf_token(client, url: str = "/accessibility-statement") -> str:
    """A valid CSRF token for the client's session, read from a page with a form (the language switch)."""
    return csrf_token_from(client.get(url).get_data(as_text=True))


def is_logged_in(client) -> bool:
    """The home page sends a logged-in user on to the course runs and anybody else to the login."""
    response = client.get("/")
    return response.status_code == 302 and not response.location.startswith("/login")
