"""The login limits hold across workers: two app processes (as two gunicorn workers would be) count failed logins
for one account together in one real redis-server, and each alone with memory:// - why production refuses it.

Needs /usr/bin/redis-server (Debian's redis-server package); without it these tests are skipped with the reason,
and with CI=true they fail instead (.ci/run installs it), as the browser tests do without Chromium.
"""

from __future__ import annotations

import json
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
NEW = "blå hest under broen"
#: The documented hard stop per (account, IP address) (config.py LOGIN_LIMIT_PER_ACCOUNT_AND_IP), e.g. 5.
LIMIT = parse(TestingConfig.LOGIN_LIMIT_PER_ACCOUNT_AND_IP).amount
#: The documented ceiling per account from all addresses together (LOGIN_LIMIT_PER_ACCOUNT), e.g. 50.
CEILING = parse(TestingConfig.LOGIN_LIMIT_PER_ACCOUNT).amount
ATTACKER, VICTIM = "203.0.113.66", "198.51.100.10"

#: One "worker": its own process and app (its own SQLite database holding the same account), doing one thing
#: through its test client per line read: a login, the password being the line (or a JSON command: a login
#: from an IP address, or a password reset from the link in the mail the app queued); prints each answer's status.
WORKER = """
import json, os, sys
from config import TestingConfig
from app import create_app
from app.extensions import db
from tests import factories
from tests.accounts.helpers import link_in, outbox_rows

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
    command = json.loads(line) if line.startswith("{") else {"password": line.strip()}
    address = {"REMOTE_ADDR": command.get("ip", "127.0.0.1")}
    if command.get("reset"):
        client.post("/password/forgot", data={"email": sys.argv[2]}, environ_base=address)
        with app.app_context():
            link = link_in(outbox_rows("password_reset")[-1], "/password/reset/")
        new = command["reset"]
        response = client.post(link, data={"password": new, "confirm": new}, environ_base=address)
    else:
        data = {"email": sys.argv[2], "password": command["password"]}
        response = client.post("/login", data=data, environ_base=address)
    print(response.status_code, flush=True)
os._exit(0)  # stdin closed: done (the interpreter's own clean-up of the app took ~0.6 s a worker)
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

    def _send(self, line: str) -> int:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def login(self, password: str, ip: str | None = None) -> int:
        return self._send(password if ip is None else json.dumps({"password": password, "ip": ip}))

    def reset_password(self, new: str, ip: str) -> int:
        """Ask for the link, open it from the mail, choose `new` (in this worker's database only)."""
        return self._send(json.dumps({"reset": new, "ip": ip}))

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
def redis_server(tmp_path_factory):
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


@pytest.fixture
def redis_store(redis_server):
    """The module's redis-server, emptied: each test counts from zero (the windows run on the real clock)."""
    import redis

    url = redis_server
    client = redis.Redis.from_url(url, socket_timeout=1)
    client.flushdb()
    yield url, client
    client.close()


def test_two_workers_share_the_per_account_count_in_redis(redis_store, workers):
    """Failures from one address alternate between the two workers; after LIMIT in all, both refuse the account
    from that address, even the right password - the same as one worker does (tests/accounts/test_throttling.py)."""
    redis_url, _ = redis_store
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


def test_an_attacker_locks_the_account_only_from_their_own_address(redis_store, workers):
    """Issue 20: failures for a colleague's address from the attacker's machine, on both workers, lock it from
    there only; the colleague logs in from their own address on either worker."""
    redis_url, _ = redis_store
    first, second = workers(redis_url), workers(redis_url)
    answers = [(first if n % 2 == 0 else second).login(WRONG, ATTACKER) for n in range(LIMIT)]
    assert answers == [200] * LIMIT
    assert [first.login(RIGHT, ATTACKER), second.login(RIGHT, ATTACKER)] == [429, 429]
    assert [first.login(RIGHT, VICTIM), second.login(RIGHT, VICTIM)] == [302, 302]


def test_the_account_ceiling_is_shared_and_a_reset_clears_it(redis_store, workers):
    """Guessing spread over many addresses and both workers stops at CEILING for the account, from every
    address; the owner resets the password through one worker, and the other lets them in at once: the
    counters were cleared in Redis, not in one worker's memory. The keys never hold the email address."""
    redis_url, redis_client = redis_store
    first, second = workers(redis_url), workers(redis_url)
    answers = [(first if n % 2 == 0 else second).login(WRONG, f"10.20.{n // LIMIT}.1") for n in range(CEILING)]
    assert answers == [200] * CEILING
    assert [first.login(RIGHT, VICTIM), second.login(RIGHT, VICTIM)] == [429, 429]
    keys = [key.decode() for key in redis_client.keys("*")]
    assert keys and not [key for key in keys if "sara" in key or "test.dk" in key]
    assert first.reset_password(NEW, VICTIM) == 302
    assert second.login(RIGHT, VICTIM) == 302  # the second worker's database still has the old password
