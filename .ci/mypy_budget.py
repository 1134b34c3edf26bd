"""`make lint` / `make test`: mypy on app/ and scheduler/, held to a per-package error budget that only goes down.

mypy runs with the settings in pyproject.toml ([tool.mypy]); its cache is .mypy_cache (not committed), so a
second run checks only what changed. Its errors are counted per package (app/<package>, a top-level module
such as app/demo.py, or scheduler) and compared with `.ci/mypy-budget.txt`:

- a package not listed there has a budget of 0: app/core, app/notifications, app/enrolment, app/courses and
  scheduler are type-clean and must stay so, and so must any new package;
- a listed package fails when it has more errors than its number (the new errors are printed);
- a listed package with fewer errors than its number also fails, asking you to lower the number (or run
  `python .ci/mypy_budget.py --update`, which only ever lowers it), so a fixed error cannot come back unnoticed.

Exit codes: 0 within budget, 1 over budget or budget stale, 2 mypy itself failed (crash, bad configuration).
docs/development.md ("Type checking") explains how to work with it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET = ROOT / ".ci" / "mypy-budget.txt"
ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+: error: ")
HEADER = """\
# mypy errors allowed per package (.ci/mypy_budget.py; docs/development.md, "Type checking").
# These numbers only go down. A package not listed here must have none.
"""


def package_of(path: str) -> str:
    """'app/accounts/views.py' -> 'app/accounts'; 'app/demo.py' -> 'app/demo.py'; 'scheduler/x.py' -> 'scheduler'."""
    parts = Path(path).as_posix().split("/")
    if parts[0] == "app" and len(parts) > 2:
        return "/".join(parts[:2])
    if parts[0] == "app":
        return path
    return parts[0]


def read_budget() -> dict[str, int]:
    budget: dict[str, int] = {}
    for line in BUDGET.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            package, number = line.split()
            budget[package] = int(number)
    return budget


def write_budget(budget: dict[str, int]) -> None:
    lines = [f"{package} {number}" for package, number in sorted(budget.items()) if number > 0]
    BUDGET.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")


def run_mypy() -> tuple[int, list[str]]:
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "mypy", "--no-pretty", "--no-error-summary", "--show-error-codes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, (result.stdout + result.stderr).splitlines()


def main(argv: list[str]) -> int:
    update = "--update" in argv
    code, lines = run_mypy()
    errors = [(package_of(match["path"]), line) for line in lines if (match := ERROR.match(line))]
    if code not in (0, 1) or (code == 1 and not errors):
        print("\n".join(lines))
        print(f"mypy failed (exit {code}) without reporting type errors: see above.")
        return 2
    found = Counter(package for package, _line in errors)
    budget = read_budget()
    over, stale = [], []
    for package in sorted(set(found) | set(budget)):
        allowed, count = budget.get(package, 0), found.get(package, 0)
        if count > allowed:
            over.append(package)
            print(f"{package}: {count} mypy errors, the budget allows {allowed}:")
            print("\n".join(f"  {line}" for where, line in errors if where == package))
        elif count < allowed:
            stale.append(package)
    if update and not over:
        write_budget({package: min(budget.get(package, 0), found.get(package, 0)) for package in budget})
        print(f"{BUDGET.relative_to(ROOT)} lowered: {', '.join(stale) or 'nothing to lower'}.")
        return 0
    for package in stale:
        print(
            f"{package}: {found.get(package, 0)} mypy errors, fewer than the budget's {budget[package]}: well done."
            f" Lower its number in {BUDGET.relative_to(ROOT)} (or run `python .ci/mypy_budget.py --update`)."
        )
    if over or stale:
        return 1
    total = sum(found.values())
    print(f"mypy: {total} errors, within the budget ({len(budget)} packages not yet clean; the rest clean).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
