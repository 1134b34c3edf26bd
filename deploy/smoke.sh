#!/usr/bin/env bash
# Start the production set-up on loopback — gunicorn with 2 workers, one `python -m scheduler`, a local
# aiosmtpd as the mail server, a redis-server holding the login limits' counters — against the PostgreSQL
# database SMOKE_DATABASE_URL, set it up as an operator would (no demo data: `flask demo load` must refuse; the
# accounts come from `flask users create`), run deploy/smoke.py over HTTP (which also proves the login limit per
# account and address across both workers), stop everything, and check that gunicorn and the scheduler refuse to start
# once the database holds a demo account. Used by .ci/run; runnable by hand (needs redis-server installed).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SMOKE_DATABASE_URL:?set SMOKE_DATABASE_URL=postgresql://user@host:port/empty_database}"
BIN=${BIN:-.venv/bin}
WEB_PORT=${SMOKE_WEB_PORT:-8061}
SMTP_PORT=${SMOKE_SMTP_PORT:-8025}
REDIS_PORT=${SMOKE_REDIS_PORT:-6391}
WORK=$(mktemp -d /tmp/kp-smoke.XXXXXX)
# aiosmtpd's Mailbox handler makes the Maildir ($WORK/mail) itself, with its cur/new/tmp folders.

export KURSUSPORTALEN_CONFIG=production
SECRET_KEY=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(48))')
export SECRET_KEY
# /healthz's details for deploy/smoke.py (a monitor elsewhere would send it; this host would not need it).
HEALTHZ_TOKEN=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))')
export HEALTHZ_TOKEN
export DATABASE_URL="$SMOKE_DATABASE_URL"
export SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
export INSTANCE_PATH="$WORK/instance"
export BASE_URL="http://127.0.0.1:$WEB_PORT"
export PROXY_COUNT=0                 # no nginx in front here
export MFA_REQUIRED=false            # the smoke logs in with passwords only
export SCHEDULER_DELIVERY_SECONDS=2  # deliver the invitation within seconds
export SCHEDULER_BEAT_SECONDS=5
export LOG_LEVEL=WARNING
# The login limits' counters, shared by the workers: a redis-server of our own on loopback (nothing saved).
export RATELIMIT_STORAGE_URI="redis://127.0.0.1:$REDIS_PORT/0"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${SMOKE_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "SMOKE FAILED: $*"; exit 1; }

REDIS_SERVER=$(command -v redis-server || echo /usr/bin/redis-server)
[ -x "$REDIS_SERVER" ] || fail "redis-server is missing (apt-get install redis-server)"
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
pids+=($!)
"$BIN/python" - "$REDIS_PORT" <<'PY' || fail "redis-server did not answer on port $REDIS_PORT"
import sys, time, redis
client = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), socket_timeout=1)
for _ in range(100):
    try:
        sys.exit(0 if client.ping() else 1)
    except redis.ConnectionError:
        time.sleep(0.1)
sys.exit(1)
PY

"$BIN/flask" --app wsgi db upgrade >/dev/null 2>&1
# Production never carries the demo: the loader refuses, says how to start instead, and writes nothing.
if "$BIN/flask" --app wsgi demo load >"$WORK/demo-load.out" 2>&1; then fail "flask demo load ran under the production configuration"; fi
grep -q "flask users create" "$WORK/demo-load.out" || { cat "$WORK/demo-load.out"; fail "the demo refusal doesn't say how to start"; }
echo "smoke: flask demo load refused under the production configuration"
PASSWORD=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(18))')
COORDINATOR=koordinator@smoke.example
STAFF=sara@smoke.example
PYTHONPATH=. "$BIN/python" deploy/smoke.py --setup
"$BIN/flask" --app wsgi users create --access coordinator --email "$COORDINATOR" --name "Karin Koordinator" --password "$PASSWORD" >/dev/null
"$BIN/flask" --app wsgi users create --access staff --staff-role Sagsbehandler --email "$STAFF" --name "Sara Sagsbehandler" --password "$PASSWORD" >/dev/null
# The account whose login is locked by wrong passwords (deploy/smoke.py proves the limit across both workers).
LOCKED=lars@smoke.example
"$BIN/flask" --app wsgi users create --access staff --staff-role Sagsbehandler --email "$LOCKED" --name "Lars Låst" --password "$PASSWORD" >/dev/null
"$BIN/python" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$WORK/mail" &
pids+=($!)
"$BIN/gunicorn" -c gunicorn.conf.py --bind "127.0.0.1:$WEB_PORT" --workers 2 --access-logfile "$WORK/access.log" wsgi:app \
  2>"$WORK/gunicorn.log" &
pids+=($!)
"$BIN/python" -m scheduler 2>"$WORK/scheduler.log" &
pids+=($!)

if ! PYTHONPATH=. "$BIN/python" deploy/smoke.py --base-url "$BASE_URL" --maildir "$WORK/mail" \
    --staff "$STAFF" --coordinator "$COORDINATOR" --password "$PASSWORD" \
    --locked "$LOCKED" --access-log "$WORK/access.log"; then
  echo "--- gunicorn log"; tail -n 40 "$WORK/gunicorn.log"
  echo "--- scheduler log"; tail -n 40 "$WORK/scheduler.log"
  exit 1
fi

# A database that holds a demo account (here made with the development configuration, as a mistaken
# `flask demo load` would) is refused by both production processes before they serve anything.
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
KURSUSPORTALEN_CONFIG=development SCHEDULER=off "$BIN/flask" --app wsgi users create --access coordinator \
  --email koordinator@demo.test --name "Karen Koordinator" --password "$PASSWORD" >/dev/null
if timeout 60 "$BIN/gunicorn" -c gunicorn.conf.py --bind "127.0.0.1:$WEB_PORT" --workers 2 wsgi:app 2>"$WORK/refused-web.log"; then
  fail "gunicorn started on a database with demo accounts"
fi
grep -q "demokonti" "$WORK/refused-web.log" || { tail -n 20 "$WORK/refused-web.log"; fail "gunicorn stopped without saying why"; }
status=0
timeout 60 "$BIN/python" -m scheduler 2>"$WORK/refused-scheduler.log" || status=$?
[ "$status" -eq 78 ] || { tail -n 20 "$WORK/refused-scheduler.log"; fail "the scheduler answered $status, not 78, to demo accounts"; }
echo "smoke: gunicorn and the scheduler refuse a database with demo accounts"
