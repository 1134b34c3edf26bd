"""Production settings for the tests that validate ProductionConfig or build a production app in the test
process: a key production accepts, and the single-process escape hatch for the rate-limit counters."""

from __future__ import annotations

import secrets

#: A key as production wants one (random, 384 bits): "x" * 40 and the like are refused (tests/test_production.py).
GOOD_SECRET = secrets.token_urlsafe(48)


def single_process(monkeypatch, config) -> None:
    """Let `config` (ProductionConfig or a subclass) keep the rate-limit counters in memory, as only a
    single-process trial may: ALLOW_MEMORY_RATELIMITS_IN_PRODUCTION=1 with WEB_CONCURRENCY=1."""
    monkeypatch.setattr(config, "RATELIMIT_STORAGE_URI", "memory://")
    monkeypatch.setattr(config, "ALLOW_MEMORY_RATELIMITS", True)
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
