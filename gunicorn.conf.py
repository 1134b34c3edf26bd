"""gunicorn settings for Kursusportalen: `gunicorn -c gunicorn.conf.py wsgi:app` (deploy/ starts it so).

Every value can be overridden from the environment (GUNICORN_*/WEB_CONCURRENCY) or the command line.
The web workers never run the scheduler: that is the separate `python -m scheduler` process.
"""

import gc
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
#: gunicorn's rule of thumb is 2 x cores + 1; on a 2-core box with PostgreSQL beside it 2 workers measured
#: as fast as 5 (docs/technical-notes.md#performance-ceiling), so the default is capped at 2 x cores + 1 and 12.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 12)))
worker_class = "sync"
#: A request that takes longer than this is killed; exports of a national data set finish well inside it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
#: Recycle workers now and then, so a slow leak can never grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
#: Import the app once in the master (the workers share its memory); no database connection is opened
#: before the fork, and post_fork drops the pool in any case.
preload_app = True

accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
#: One JSON object a line, as the application logs; the path without the query string (no search terms,
#: which can be names), the request id the application sends back (app/core/logs.py) and the worker that
#: answered (pid; deploy/smoke.py reads it to prove the login limits hold across workers).
access_log_format = (
    '{"time":"%(t)s","remote":"%(h)s","method":"%(m)s","path":"%(U)s","status":%(s)s,'
    '"bytes":"%(B)s","duration_ms":%(M)s,"request_id":"%({x-request-id}o)s","worker":"%(p)s"}'
)
#: The access and error logs without the secrets some paths carry (`/password/reset/<token>`, `/invitation/
#: <token>`, `/calendar/<token>.ics` are written with `[redacted]` for the token), and every value escaped for
#: the JSON string it is written into (app/core/logs.py).
logger_class = "app.core.logs.GunicornLogger"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    # Production never serves a database that holds demo accounts (their password is public): checked once,
    # in the master, before any worker starts; gunicorn then exits with status 1 and the reason.
    app = server.app.wsgi()
    if "sqlalchemy" not in getattr(app, "extensions", {}):
        return  # not Kursusportalen (bench/hello_app.py)
    from app.demo import DemoAccountsInProduction, refuse_demo_accounts

    try:
        refuse_demo_accounts(app)
    except DemoAccountsInProduction as refusal:
        raise SystemExit(str(refusal)) from None


def when_ready(server):
    # Objects made while importing the app are never freed: keep the garbage collector from touching
    # (and so copying) those shared pages in every worker (gunicorn #1640).
    gc.freeze()


#: After this many requests a worker has compiled its templates and filled its caches (routing, SQLAlchemy's
#: statement cache, Babel's formats); those objects live as long as the worker does, so they are frozen too,
#: and each collection walks only what requests leave behind: measured 2.9 -> 0.6 ms of collection per run
#: page with 100 participants (bench/profile_request.py freezes the same way).
GC_FREEZE_AFTER = int(os.environ.get("GUNICORN_GC_FREEZE_AFTER", "100"))  # 0: never


def post_request(worker, req, environ, resp):
    if worker.nr == GC_FREEZE_AFTER:
        gc.freeze()


def post_fork(server, worker):
    app = server.app.wsgi()
    if "sqlalchemy" not in getattr(app, "extensions", {}):
        return  # not Kursusportalen (bench/hello_app.py, the benchmark's ceiling, has no database)
    from app.extensions import db

    with app.app_context():
        db.engine.dispose(close=False)  # never share a connection inherited from the master
