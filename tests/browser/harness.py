"""The pieces of the browser tests: a live server on loopback, Debian's Chromium under Playwright, axe-core.

Kept apart from conftest.py so `bench/`-style scripts (and a developer at a prompt) can use them too:

    from tests.browser.harness import LiveServer, launch_chromium
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from app.extensions import db
from config import BASE_DIR, TestingConfig
from tests.databases import private_database_url

#: Debian's Chromium (apt-get install chromium). Never a browser downloaded by Playwright.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: Flags for a closed network and a root user in a container (see the env notes in docs/architecture.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
AXE_JS = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
#: The rules we hold every page to: WCAG 2.0 and 2.1, levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def chromium_available() -> bool:
    return bool(shutil.which(CHROMIUM)) and AXE_JS.is_file()


def launch_chromium(playwright):
    """Headless Chromium. Its date and time inputs keep the en-US layout (mm/dd/yyyy, 12-hour clock) whatever
    the context's locale, `--lang` or LANGUAGE say; a Danish desktop browser shows dd-mm-åååå and 24 hours.
    The journeys ask the input for its segment order instead of assuming one."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def buffered(app):
    """The app with each response read whole and its iterator closed before werkzeug writes it.

    When the browser drops a connection (a page left while its icons load), werkzeug's dev server raises in its
    own cleanup before it closes the response iterator, so a static file stays open and its ResourceWarning
    fails whichever test is running when the garbage collector finds it. Test pages are small: buffering costs
    nothing here.
    """

    def wsgi(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return wsgi


class QuietHandler(WSGIRequestHandler):
    """No access log: the browser's requests would drown the test output."""

    def log_request(self, *args, **kwargs):
        pass


@dataclass
class LiveServer:
    """The real application served by werkzeug on 127.0.0.1 in a thread of the test process.

    The database is `<TEST_DATABASE_URL's>_live` (PostgreSQL in CI's second pass) or a SQLite file in `workdir`; the
    schema is created with the models and filled with the demo data of `today`. Tests reach the same
    database through `app_context()`.
    """

    workdir: Path
    today: date
    smtp_url: str | None = None
    app: object = field(init=False)
    base_url: str = field(init=False)

    def start(self) -> LiveServer:
        from app.demo import load_demo

        # A database of its own beside TEST_DATABASE_URL's (whose schema the other tests keep for the session),
        # or a SQLite file: an in-memory SQLite can't be shared with the server's threads.
        database_url = private_database_url("_live", self.workdir / "browser.db")

        class BrowserConfig(TestingConfig):
            SQLALCHEMY_DATABASE_URI = database_url
            SMTP_URL = self.smtp_url
            MAIL_DIR = str(self.workdir / "mail")

        self.app = create_app(BrowserConfig)
        with self.app.app_context():
            db.drop_all()
            db.create_all()
            load_demo(self.today)
            db.session.commit()
        self._server = make_server("127.0.0.1", 0, buffered(self.app), threaded=True, request_handler=QuietHandler)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self.app.config["BASE_URL"] = self.base_url
        # A short poll_interval: stop() waits for serve_forever to notice shutdown() (0.5 s by default).
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), name="live-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        with self.app.app_context():
            db.session.remove()
            if db.engine.dialect.name == "sqlite":
                db.engine.dispose()
            else:
                db.drop_all()
                db.engine.dispose()

    def url(self, path: str) -> str:
        return self.base_url + path


#: Added to every page by `tests/browser/conftest.py::new_page` (an init script, which no CSP governs): records
#: what the page's Content-Security-Policy refused, so `run_axe` can fail on it.
CSP_VIOLATION_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline") + " "
    + (event.sourceFile || "") + ":" + (event.lineNumber || ""));
});
"""


@functools.lru_cache(maxsize=1)
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def csp_violations(page) -> list[str]:
    """What the page's Content-Security-Policy has refused so far (needs CSP_VIOLATION_RECORDER)."""
    return page.evaluate("window.__cspViolations || []")


def run_axe(page, *, disable: tuple[str, ...] = ()) -> list[dict]:
    """Inject axe-core (from node_modules, never a CDN) and return the WCAG 2.0/2.1 A/AA violations.

    Fails first if the page's Content-Security-Policy refused anything. axe-core is evaluated through the
    DevTools protocol, which the page's CSP does not govern: a <script> element added to the page
    (`add_script_tag`) would be refused by `script-src 'self'` like any injected script."""
    refused = csp_violations(page)
    assert not refused, f"the Content-Security-Policy refused: {refused}"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    options = {
        "runOnly": {"type": "tag", "values": WCAG_TAGS},
        "rules": {r: {"enabled": False} for r in disable},
        "resultTypes": ["violations"],  # passes and inapplicable rules are not collected: faster, less to send
    }
    result = page.evaluate("options => axe.run(document, options)", options)
    return result["violations"]


def describe_violations(violations: list[dict]) -> str:
    """A readable failure message: rule, impact, help and the first few offending elements."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} - {v['helpUrl']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {json.dumps(node['target'])}: {node['failureSummary'].splitlines()[-1].strip()}")
    return "\n".join(lines)


def tab_to(page, locator, *, max_presses: int = 250, backwards: bool = False) -> None:
    """Press Tab (Shift+Tab) until `locator` has the keyboard focus: proves it is reachable without a mouse."""
    target = locator.element_handle()
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(max_presses):
        page.keyboard.press(key)
        if page.evaluate("el => el === document.activeElement", target):
            return
    raise AssertionError(f"{locator} was not reached with {max_presses} presses of {key}")


def focus_is_visible(page) -> bool:
    """Whether the focused element shows a focus indicator (an outline or a box shadow)."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el || el === document.body) return false;
            const s = getComputedStyle(el);
            return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
        }"""
    )
