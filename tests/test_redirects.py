"""Redirect targets from the request (`/login?next=`, the language form's `next`) stay on this site."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app.core.urls import local_path
from tests import factories
from tests.conftest import post_form

#: Each is another site to a browser: "//" and "/\" are scheme-relative, and browsers drop tabs and newlines.
FOREIGN = [
    "//evil.example/",
    "/\\evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "/\r\n/evil.example/",
    "https://evil.example/",
    "javascript:alert(1)",
    "\\\\evil.example",
    " /x",
]


@pytest.mark.parametrize("target", FOREIGN)
def test_foreign_targets_are_refused(target):
    assert local_path(target) is None


@pytest.mark.parametrize("target", ["/runs", "/runs?page=2&q=%C3%A6", "/me/courses#kalender", "/"])
def test_local_paths_are_kept(target):
    assert local_path(target) == target


@pytest.mark.parametrize("target", FOREIGN)
def test_login_never_redirects_to_another_site(client, staff_member, target):
    response = post_form(
        client,
        f"/login?next={quote(target, safe='')}",
        {"email": staff_member.email, "password": factories.PASSWORD},
        form_url="/login",
    )
    assert response.status_code == 302
    assert response.location == "/"


@pytest.mark.parametrize("target", FOREIGN)
def test_language_choice_never_redirects_to_another_site(client, target):
    response = post_form(client, "/language", {"lang": "da", "next": target}, form_url="/login")
    assert response.status_code == 302
    assert response.location == "/"


def test_login_keeps_a_local_next(client, staff_member):
    response = post_form(
        client,
        f"/login?next={quote('/runs?page=2')}",
        {"email": staff_member.email, "password": factories.PASSWORD},
        form_url="/login",
    )
    assert response.location == "/runs?page=2"
