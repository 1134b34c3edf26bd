"""The login limits hold across workers: two app processes (as two gunicorn workers would be) count failed logins
for one account together in one real redis-server, and each alone with memory:// - why production refuses it.

Needs /usr/bin/redis-server (Debian's redis-server package); without it these tests are skipped with the reason,
and with CI=true they fail instead (.ci/run installs it), as the browser tests do without Chromium.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from limits import parse

from config import BASE_DIR, TestingConfig

EMAIL = "sara@test.dk"
RIGHT = "rigtig-adgangskode-123"
WRONG = "forkert-adgangskode"
#: The documented per-account limit (config.py LOGIN_LIMIT_PER_ACCOUNT), e.g. 5.
LIMIT = parse(TestingConfig.LOGIN_LIMIT_PER_ACCOUNT).amount

#: One "worker": its own process and app (its own SQLite database holding the same account), logging in
#: through its test client once per line read, the password being the line; prints each answer's status.
WORKER = """
import sys
from config import TestingConfig
from app import create_app
from app.extensions import db
from tests import factories

storage = sys.argv[1]

class Worker(TestingConfig):
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    WTF_CSRF_ENABLED = False
    RATELIMIT_STORAGE_URI = storage
    RATELIMIT_STORAGE_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2} if storage != "memory://" else {}

app = create_app(Worker)
with app.app_context():
    db.create_all()
    factories.make_user(email=sys.argv[2], password=sys.argv[3])
client = app.test_client()
print("ready", flush=True)
for line in sys.stdin:
    response = client.post("/login", data={"email": sys.argv[2], "password": line.strip()})
    print(response.status_code, flush=True)
"""


class Worker:
    def __init__(self, storage: str):
        env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", WORKER, storage, EMAIL, RIGHT],
            cwd=BASE_DIR,
            env={**env, "SCHEDULER": "off"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def login(self, password: str) -> int:
        self.process.stdin.write(password + "\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


@pytest.fixture
def workers():
    started: list[Worker] = []

    def start(storage: str) -> Worker:
        started.append(Worker(storage))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A redis-server of our own on loopback, nothing saved; stopped after the module."""
    server = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if server is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "CI=true makes the shared-limit tests mandatory, but redis-server is missing "
                "(apt-get install redis-server)"
            )
        pytest.skip("needs redis-server (apt-get install redis-server); CI=true makes these tests mandatory")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(  # noqa: S603 - the installed redis-server, fixed arguments
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def test_two_workers_share_the_per_account_count_in_redis(redis_url, workers):
    """Failures alternate between the two workers; after LIMIT in all, both refuse the account, even the
    right password - the same as one worker does (tests/accounts/test_throttling.py)."""
    first, second = workers(redis_url), workers(redis_url)
    answers = [(first if n % 2 == 0 else second).login(WRONG) for n in range(LIMIT)]
    assert answers == [200] * LIMIT  # normal failures ("Forkert e-mail eller adgangskode.")
    assert second.login(RIGHT) == 429
    assert first.login(RIGHT) == 429


def test_per_process_counters_multiply_the_limit(workers):
    """memory:// counts in each worker alone: the same alternating failures leave both workers open (twice the
    documented limit in all). ProductionConfig refuses it for that reason (tests/test_production.py)."""
    first, second = workers("memory://"), workers("memory://")
    answers = [(first if n % 2 == 0 else second).login(WRONG) for n in range(2 * LIMIT - 2)]
    assert answers == [200] * (2 * LIMIT - 2)
    assert first.login(RIGHT) == 302


def test_a_dead_redis_degrades_to_counting_in_the_worker(workers):
    """Redis gone (nothing listens on the port): logins go on and the worker limits them in its own memory
    (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED) rather than failing or letting every attempt through."""
    worker = workers(f"redis://127.0.0.1:{_free_port()}/0")
    answers = [worker.login(WRONG) for _ in range(LIMIT + 1)]
    assert answers == [200] * LIMIT + [429]
