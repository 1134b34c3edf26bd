"""What the benchmark scripts share: the repository on sys.path, peak memory, and the PostgreSQL database
they may empty. Imported as `_common` by scripts run as `.venv/bin/python bench/<script>.py`."""
from __future__ import annotations

import resource
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

#: A benchmark empties the database it is given: only databases named like this.
PG_PREFIXES = ("kp_bench", "kp_test")


def database_url(url: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3, exactly as in config.py."""
    from config import _database_url

    return _database_url(url)


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def prepare_postgres(url: str) -> None:
    """Refuse a PostgreSQL database not named `kp_bench…`/`kp_test…` (exit 2), and create it if missing.
    Nothing for SQLite."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        return
    if not (target.database or "").startswith(PG_PREFIXES):
        print(f"refusing to empty PostgreSQL database {target.database!r}: its name must start with one of "
              f"{PG_PREFIXES}", file=sys.stderr)
        raise SystemExit(2)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database})
            if not exists:
                conn.execute(text(f"CREATE DATABASE {engine.dialect.identifier_preparer.quote(target.database)}"))
                print(f"created database {target.database}", file=sys.stderr)
    finally:
        engine.dispose()
