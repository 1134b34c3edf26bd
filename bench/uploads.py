"""Benchmark: hostile staff-import files through the real import page - time and a worker's peak memory.

Not a test (tests/accounts/test_import_hostile.py checks the refusals with small files): a tool to answer "does a
hostile upload still cost a worker seconds or hundreds of MiB?", with the full-size files of issue 20 (a 200 MB
shared string in a 0.2 MB workbook, 2,000 x 16,384 cells in under 1 MB, ...).

    .venv/bin/python bench/uploads.py              # every file
    .venv/bin/python bench/uploads.py --only bomb,wide --json

For each file, in a fresh child process (so that its peak RSS, which never goes down, belongs to that one
upload): the testing app on an in-memory SQLite database with a coordinator, logged in through the login form,
the import page fetched once (templates compiled); then the measured request, the file POSTed to /users/import
through Flask's test client, as a browser would. Reported: the answer (the message at the file field), the
request's wall time, the RSS before it (VmRSS) and the peak after it (VmHWM, from /proc/self/status). Targets:
each refused within 2 s, the process under 200 MiB. The files are built by the parent in a temporary folder
(tests/accounts/hostile_files.py; the wide sheet is streamed into its archive).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import _common  # noqa: F401 (the repository on sys.path)

TARGET_SECONDS = 2.0
TARGET_MIB = 200


def _wide_stream(path: Path, rows: int, columns: int) -> None:
    """The reported file: `rows` x `columns` numeric cells with an honest dimension, streamed (the sheet is
    hundreds of MB unpacked: never held in memory here), cells without their optional reference, so that it
    compresses to under 1 MB as the reported one did."""
    from tests.accounts import hostile_files as hostile

    base = hostile.workbook()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in source.infolist():
            if info.filename != hostile.SHEET:
                out.writestr(info.filename, source.read(info.filename))
        last = hostile._column(columns)
        with out.open(hostile.SHEET, "w", force_zip64=True) as sheet:
            sheet.write(
                f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{hostile._MAIN_NS}">'
                f'<dimension ref="A1:{last}{rows}"/><sheetData>'.encode()
            )
            cells = "<c><v>1</v></c>" * columns  # no r="..." (optional): the same bytes over and over
            for number in range(1, rows + 1):
                sheet.write(f'<row r="{number}">{cells}</row>'.encode())
            sheet.write(b"</sheetData></worksheet>")


def build_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, upload filename)."""
    from tests.accounts import hostile_files as hostile

    made: dict[str, tuple[Path, str]] = {}

    def keep(name: str, data: bytes, filename: str) -> None:
        path = folder / filename
        path.write_bytes(data)
        made[name] = (path, filename)

    keep("bomb", hostile.shared_string_bomb(200), "bomb-200mb-string.xlsx")
    keep("forged", hostile.forged_size(200), "forged-size-200mb.xlsx")
    keep("dimension", hostile.huge_dimension(), "dimension-A1-XFD1048576.xlsx")
    wide = folder / "wide-2000x16384.xlsx"
    _wide_stream(wide, 2000, 16_384)
    made["wide"] = (wide, wide.name)
    keep("wide-lying", hostile.wide_sheet_lying(), "wide-16384-dimension-A1-D2.xlsx")
    keep("cells", hostile.wide_sheet(2600, 100, None), "cells-260000.xlsx")
    keep("laughs", hostile.billion_laughs(), "billion-laughs.xlsx")
    keep("macro", hostile.with_macro(), "macro.xlsx")
    keep("nested", hostile.with_nested_archive(), "nested-zip.xlsx")
    keep("parts", hostile.many_parts(5000), "5000-parts.xlsx")
    keep("csv-line", hostile.csv_long_line(), "long-line-5mb.csv")
    keep("csv-wide", hostile.csv_wide(16_384), "16384-columns.csv")
    keep("csv-chain", hostile.csv_quoted_chain(500_000), "quoted-line-breaks-5mb.csv")
    return made


def _status_kib(field: str) -> float:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    return float(match.group(1)) if match else float("nan")


def child(path: str, filename: str) -> None:
    """One upload in this fresh process; prints one JSON line."""
    from app import create_app
    from app.extensions import db
    from config import TestingConfig
    from tests import factories
    from tests.conftest import IsolatedClient, csrf_token_from

    class Bench(TestingConfig):
        SQLALCHEMY_DATABASE_URI = "sqlite://"

    app = create_app(Bench)
    app.test_client_class = IsolatedClient  # a fresh `g` per request, as in a real worker
    data = Path(path).read_bytes()
    with app.app_context():
        db.create_all()
        coordinator = factories.make_user(access_level="coordinator", email="koordinator@bench.dk")
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        login = {"csrf_token": csrf_token_from(page), "email": coordinator.email, "password": factories.PASSWORD}
        assert client.post("/login", data=login).status_code == 302
        page = client.get("/users/import").get_data(as_text=True)  # warm: templates compiled
        token = csrf_token_from(page)
        rss_before = _status_kib("VmRSS") / 1024
        started = time.perf_counter()
        response = client.post(
            "/users/import",
            data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
            content_type="multipart/form-data",
        )
        html = response.get_data(as_text=True)
        seconds = time.perf_counter() - started
    peak = _status_kib("VmHWM") / 1024
    # <span id="file-error"><span class="sr-only">Fejl: </span>the message</span>
    match = re.search(r'id="file-error"[^>]*>\s*<span[^>]*>[^<]*</span>([^<]*)<', html)
    answer = " ".join(match.group(1).split()) if match else f"status {response.status_code}, no message at the field"
    print(json.dumps({"seconds": seconds, "rss_before_mib": rss_before, "peak_mib": peak, "answer": answer}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated names (bomb, forged, dimension, wide, ...)")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "FILENAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="kp-bench-uploads-") as folder:
        print("building the files ...", file=sys.stderr)
        files = build_files(Path(folder))
        wanted = args.only.split(",") if args.only else list(files)
        for name in wanted:
            path, filename = files[name]
            print(f"uploading {filename} ...", file=sys.stderr)
            env = {**os.environ, "SCHEDULER": "off"}
            env.pop("TEST_DATABASE_URL", None)
            out = subprocess.run(  # noqa: S603 - this script, our interpreter
                [sys.executable, __file__, "--child", str(path), filename],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if out.returncode != 0:
                print(out.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"the child for {name} failed")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result.update(name=name, file=filename, kib=path.stat().st_size / 1024)
            results.append(result)
    print(f"{'file':34} {'size KiB':>9} {'time s':>7} {'RSS MiB':>8} {'peak MiB':>9}  answer")
    for r in results:
        ok = r["seconds"] <= TARGET_SECONDS and r["peak_mib"] < TARGET_MIB
        print(
            f"{r['file']:34} {r['kib']:9.0f} {r['seconds']:7.2f} {r['rss_before_mib']:8.0f} {r['peak_mib']:9.0f}  "
            f"{'' if ok else '(over target) '}{r['answer'][:90]}"
        )
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
