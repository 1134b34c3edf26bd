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
