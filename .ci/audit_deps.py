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

Before pip-audit resolves anything (half a minute: it installs every requirement into its virtualenv), one
small question is put to each service (`PROBES`: the one pip-audit would ask about our Flask pin): a service that
does not answer it with JSON is not asked through pip-audit at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements-dev.txt"  # includes requirements.txt
#: Vulnerability ids we have looked at and accept, each explained in docs/dependency-audit.md. None today.
EXPLAINED: dict[str, str] = {}
OK, VULNERABLE, UNREACHABLE = 0, 1, 3


def _pinned(name: str, requirements: Path = ROOT / "requirements.txt") -> str:
    """The version `requirements` pins `name` to (name==version)."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        package, _, version = line.partition("==")
        if package.strip().lower() == name:
            return version.split()[0]
    raise SystemExit(f"{requirements} does not pin {name}")


#: Per service: a URL and, for a POST, its JSON body: the question pip-audit would ask about one of our own pins
#: (Flask's), which any working instance answers with a JSON object. (A package index proxy may answer for
#: some packages and not others: asking about another package proves nothing.)
FLASK = _pinned("flask")
PROBES: dict[str, tuple[str, dict | None]] = {
    "pypi": (f"https://pypi.org/pypi/flask/{FLASK}/json", None),
    "osv": ("https://api.osv.dev/v1/query", {"package": {"name": "flask", "ecosystem": "PyPI"}, "version": FLASK}),
}
PROBE_SECONDS = 10


def service_answers(service: str) -> bool:
    """Whether the vulnerability service answers its probe with a JSON object (an unreachable host, a proxy's
    error page or "not found": no)."""
    url, body = PROBES[service]
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=PROBE_SECONDS) as response:  # noqa: S310 (fixed https URLs)
            return response.status == 200 and isinstance(json.loads(response.read()), dict)
    except (OSError, ValueError):
        return False


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
        if not service_answers(service):
            print(f"pip-audit ({service}): not asked, the service does not answer ({PROBES[service][0]})")
            continue
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
