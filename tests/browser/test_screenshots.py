"""Screenshots of the main pages of each access level, as PNG, for the README and docs/.

`make screenshots` writes them to docs/screenshots/ (SCREENSHOT_DIR); an ordinary test run writes them to a
temporary folder, so the test proves the pages render in the browser without touching the working tree.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CourseRun, Programme
from tests.browser.conftest import COORDINATOR, LEADER, PROVIDER, STAFF, log_in, new_page

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _targets(live) -> dict:
    with live.app.app_context():
        runs = {r.title: r for r in db.session.scalars(select(CourseRun))}
        hold_a, hold_b = runs["Tidlig inddragelse, hold A"], runs["Tidlig inddragelse, hold B"]
        programme = db.session.scalar(select(Programme).filter(Programme.name.like("Tidlig inddragelse af%")))
        return {"run": hold_a.id, "day": hold_a.days[0].id, "staff_run": hold_b.id, "programme": programme.id}


#: (file name, who, path, viewport width); the phone shots are 390 px wide.
SHOTS = [
    ("login", None, "/login", 1280),
    ("verify", None, "/verify", 1280),
    ("staff-my-courses", STAFF, "/me/courses", 1280),
    ("staff-run", STAFF, "/runs/{staff_run}", 1280),
    ("staff-my-courses-phone", STAFF, "/me/courses", 390),
    ("staff-runs-phone", STAFF, "/runs", 390),
    ("provider-runs", PROVIDER, "/runs", 1280),
    ("provider-run", PROVIDER, "/runs/{run}", 1280),
    ("coordinator-runs", COORDINATOR, "/runs", 1280),
    ("coordinator-run", COORDINATOR, "/runs/{run}", 1280),
    ("coordinator-run-form", COORDINATOR, "/runs/new", 1280),
    ("coordinator-dashboard", COORDINATOR, "/programmes/{programme}/dashboard", 1280),
    ("coordinator-attendance-phone", COORDINATOR, "/runs/{run}/days/{day}/attendance", 390),
    ("leader-approvals", LEADER, "/approvals", 1280),
    ("leader-competence", LEADER, "/competence/", 1280),
    ("coordinator-integrations", COORDINATOR, "/integrations", 1280),
]


def test_screenshots_of_the_main_pages(live, chromium, screenshot_dir):
    targets = _targets(live)
    pages = {}
    try:
        for name, who, path, width in SHOTS:
            key = (who, width)
            if key not in pages:
                pages[key] = new_page(chromium, width=width, height=844 if width < 500 else 900, mobile=width < 500)
                if who:
                    log_in(pages[key], live, who)
            page = pages[key]
            response = page.goto(live.url(path.format(**targets)))
            assert response.status == 200, f"{name}: {path} answered {response.status}"
            target = screenshot_dir / f"{name}.png"
            page.screenshot(path=str(target), full_page=True, animations="disabled")
            assert target.read_bytes().startswith(PNG_SIGNATURE)
    finally:
        for page in pages.values():
            page.context.close()
