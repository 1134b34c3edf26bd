"""`make mutate`'s helpers around cosmic-ray (mutation testing; not part of `make test`).

    python -m tests.mutation.scope config MODULE TESTS... > session.toml   # a cosmic-ray config
    python -m tests.mutation.scope keep SESSION FUNCTION...                 # skip mutants outside FUNCTIONs
    python -m tests.mutation.scope survivors SESSION                        # list the surviving mutants

Scoping by function name (cosmic-ray records each mutant's enclosing definition) keeps a run on a rule's
own code, in a time a developer waits for, and survives the module being edited or moved.
"""

from __future__ import annotations

import json
import shlex
import sys

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

PYTEST = ".venv/bin/python -m pytest -x -q -p no:cacheprovider"


def config(module: str, tests: list[str]) -> str:
    command = f"{PYTEST} {' '.join(shlex.quote(t) for t in tests)}"
    return (  # a JSON string is a TOML basic string
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(module)}\n"
        "timeout = 300.0\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n\n"
        '[cosmic-ray.distributor]\nname = "local"\n'
    )


def keep(session: str, functions: list[str]) -> None:
    wanted = set(functions)
    with use_db(session, WorkDB.Mode.open) as db:
        outside = [
            item.job_id
            for item in db.pending_work_items
            if not any(m.definition_name in wanted for m in item.mutations)
        ]
        if outside:
            db.set_multiple_results(
                outside, WorkResult(output="outside the scoped functions", worker_outcome=WorkerOutcome.SKIPPED)
            )
        print(f"{session}: {db.num_work_items - len(outside)} mutant(s) in {', '.join(sorted(wanted))}")


def survivors(session: str) -> None:
    with use_db(session, WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.NORMAL and result.test_outcome == TestOutcome.SURVIVED:
                for m in item.mutations:
                    print(
                        f"SURVIVED {m.module_path}:{m.start_pos[0]} {m.definition_name} {m.operator_name} "
                        f"#{m.occurrence} ({item.job_id})"
                    )
                print("    " + "\n    ".join(line for line in (result.diff or "").splitlines() if line[:1] in "+-"))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "config":
        print(config(args[0], args[1:]))
    elif command == "keep":
        keep(args[0], args[1:])
    elif command == "survivors":
        survivors(args[0])
    else:
        raise SystemExit(__doc__)
