"""`make audit-deps`: pip-audit on the pinned requirements, telling "vulnerable" apart from "could not audit".

pip-audit resolves requirements-dev.txt (which includes requirements.txt) in a throw-away virtualenv and asks
a vulnerability service about every resolved package. Its own exit code does not separate the two outcomes
that matter (docs/dependency-audit.md has the observed behaviour):

- it exits 1 both for a vulnerability and for an unreachable package index or service;
- it exits 0 with "No known vulnerabilities found" when the PyPI JSON API answers "not found" for every
  package (as behind a proxy that serves only the simple index): every dependency is then *skipped*.

So this script (`python .ci/audit_deps.py [requirements file]`) reads pip-audit's JSON report and answers
with its own exit code:

    0  every dependency was audited and none has a vulnerability that is not explained below
    1  a vulnerability was found (the report lists package, version, id and the fixed versions)
    3  nothing could be audited (no report, or every dependency skipped): the service is unreachable

It asks the `pypi` service first and, when that audited nothing, `osv`. `.ci/run` fails on 1 and only
warns on 3 (CI must not depend on a service it may not reach).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements-dev.txt"  # includes requirements.txt
#: Vulnerability ids we have looked at and accept, each explained in docs/dependency-audit.md. None today.
EXPLAINED: dict[str, str] = {}
OK, VULNERABLE, UNREACHABLE = 0, 1, 3


def run_pip_audit(service: str, requirements: Path = REQUIREMENTS) -> dict | None:
    """pip-audit's JSON report, or None when it produced none (it could not resolve or reach the service)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [
            str(Path(sys.executable).with_name("pip-audit")),
            "--requirement",
            str(requirements),
            "--vulnerability-service",
            service,
            "--format",
            "json",
            "--output",
            str(report),
            "--progress-spinner",
            "off",
        ]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 (fixed argv)
        if report.exists() and report.stat().st_size:
            try:
                return json.loads(report.read_text(encoding="utf-8"))
            except ValueError:
                pass
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
        print(f"pip-audit ({service}) produced no report (exit {completed.returncode}):", *tail, sep="\n  ")
        return None


def classify(report: dict) -> tuple[list[dict], list[dict], list[tuple[str, str, dict]]]:
    """(audited, skipped, unexplained vulnerabilities as (name, version, vuln))."""
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if "skip_reason" in d]
    audited = [d for d in dependencies if "skip_reason" not in d]
    found = [
        (d["name"], d.get("version", "?"), vuln)
        for d in audited
        for vuln in d.get("vulns", [])
        if vuln.get("id") not in EXPLAINED and not set(vuln.get("aliases", [])) & set(EXPLAINED)
    ]
    return audited, skipped, found


def main(argv: list[str]) -> int:
    requirements = Path(argv[0]) if argv else REQUIREMENTS
    for service in ("pypi", "osv"):
        report = run_pip_audit(service, requirements)
        if report is None:
            continue
        audited, skipped, found = classify(report)
        if not audited:
            print(
                f"pip-audit ({service}): all {len(skipped)} dependencies skipped, e.g. {skipped[0]['skip_reason']!r}"
                if skipped
                else f"pip-audit ({service}): no dependencies in the report"
            )
            continue
        print(f"pip-audit ({service}): {len(audited)} dependencies audited, {len(skipped)} skipped.")
        for dependency in skipped:
            print(f"  skipped: {dependency['name']}: {dependency['skip_reason']}")
        if found:
            print("Known vulnerabilities (explain each in docs/dependency-audit.md or upgrade the pin):")
            for name, version, vuln in found:
                fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
                print(f"  {name} {version}: {vuln.get('id')} (fixed in: {fixes})")
            return VULNERABLE
        print("No known vulnerabilities" + (f" ({len(EXPLAINED)} explained ones accepted)." if EXPLAINED else "."))
        return OK
    print("DEPENDENCY AUDIT NOT DONE: no vulnerability service could be reached (see docs/dependency-audit.md).")
    return UNREACHABLE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
