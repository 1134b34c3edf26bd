""".ci/audit_deps.py: pip-audit's report read into "clean", "vulnerable" or "could not audit" (exit 0 / 1 / 3),
with pip-audit itself replaced by canned reports (the real run needs a vulnerability service)."""

from __future__ import annotations

import importlib.util

import pytest

from config import BASE_DIR


@pytest.fixture
def audit():
    spec = importlib.util.spec_from_file_location("audit_deps", BASE_DIR / ".ci" / "audit_deps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLEAN = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []}], "fixes": []}
ALL_SKIPPED = {
    "dependencies": [
        {"name": "flask", "skip_reason": "Dependency not found on PyPI and could not be audited: flask (3.1.3)"}
    ],
    "fixes": [],
}
VULNERABLE = {
    "dependencies": [
        {
            "name": "jinja2",
            "version": "3.1.2",
            "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "aliases": ["CVE-2024-22195"], "fix_versions": ["3.1.3"]}],
        },
        {"name": "flask", "version": "3.1.3", "vulns": []},
    ]
}


def answers(audit, monkeypatch, reports: dict):
    monkeypatch.setattr(audit, "service_answers", lambda service: True)
    monkeypatch.setattr(audit, "run_pip_audit", lambda service, requirements=None: reports.get(service))
    return audit.main([])


def test_a_clean_report_passes(audit, monkeypatch, capsys):
    assert answers(audit, monkeypatch, {"pypi": CLEAN}) == audit.OK
    assert "1 dependencies audited" in capsys.readouterr().out


def test_a_vulnerability_fails_and_names_the_fix(audit, monkeypatch, capsys):
    assert answers(audit, monkeypatch, {"pypi": VULNERABLE}) == audit.VULNERABLE
    assert "jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in: 3.1.3)" in capsys.readouterr().out


def test_an_explained_vulnerability_is_accepted_by_id_or_alias(audit, monkeypatch):
    monkeypatch.setitem(audit.EXPLAINED, "CVE-2024-22195", "explained in docs/dependency-audit.md")
    assert answers(audit, monkeypatch, {"pypi": VULNERABLE}) == audit.OK


def test_every_dependency_skipped_is_not_a_clean_bill(audit, monkeypatch, capsys):
    assert answers(audit, monkeypatch, {"pypi": ALL_SKIPPED, "osv": None}) == audit.UNREACHABLE
    assert "DEPENDENCY AUDIT NOT DONE" in capsys.readouterr().out


def test_osv_is_asked_when_pypi_audited_nothing(audit, monkeypatch):
    assert answers(audit, monkeypatch, {"pypi": ALL_SKIPPED, "osv": VULNERABLE}) == audit.VULNERABLE
    assert answers(audit, monkeypatch, {"pypi": None, "osv": CLEAN}) == audit.OK


def test_a_service_that_does_not_answer_is_not_run_through_pip_audit(audit, monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(audit, "service_answers", lambda service: service == "osv")
    monkeypatch.setattr(audit, "run_pip_audit", lambda service, requirements=None: asked.append(service) or CLEAN)
    assert audit.main([]) == audit.OK
    assert asked == ["osv"]
    assert "pip-audit (pypi): not asked, the service does not answer" in capsys.readouterr().out


def test_no_service_answering_is_unreachable_at_once(audit, monkeypatch):
    monkeypatch.setattr(audit, "service_answers", lambda service: False)
    monkeypatch.setattr(audit, "run_pip_audit", lambda *a, **k: pytest.fail("pip-audit ran without a service"))
    assert audit.main([]) == audit.UNREACHABLE


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [(200, b'{"info": {"name": "pip"}}', True), (404, b'{"message": "Not Found"}', False), (200, b"<html>", False)],
)
def test_the_probe_wants_a_json_answer(audit, monkeypatch, status, body, expected):
    """Against a local HTTP server: JSON with 200 is an answer; a proxy's "not found" or HTML page is not."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's hook)
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        monkeypatch.setitem(audit.PROBES, "pypi", (f"http://127.0.0.1:{server.server_port}/pypi/pip/json", None))
        assert audit.service_answers("pypi") is expected
    finally:
        server.shutdown()
        server.server_close()


def test_the_probe_of_a_host_that_is_not_there_is_no(audit, monkeypatch):
    monkeypatch.setitem(audit.PROBES, "osv", ("http://127.0.0.1:9/v1/query", {"package": {}}))
    assert audit.service_answers("osv") is False
