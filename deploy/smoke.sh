#!/usr/bin/env bash
# Start the production set-up on loopback — gunicorn with 2 workers, one `python -m scheduler`, a local
# aiosmtpd as the mail server — against the PostgreSQL database SMOKE_DATABASE_URL, load the demo data,
# run deploy/smoke.py over HTTP, and stop everything. Used by .ci/run; runnable by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SMOKE_DATABASE_URL:?set SMOKE_DATABASE_URL=postgresql://user@host:port/empty_database}"
BIN=${BIN:-.venv/bin}
WEB_PORT=${SMOKE_WEB_PORT:-8061}
SMTP_PORT=${SMOKE_SMTP_PORT:-8025}
WORK=$(mktemp -d /tmp/kp-smoke.XXXXXX)
# aiosmtpd's Mailbox handler makes the Maildir ($WORK/mail) itself, with its cur/new/tmp folders.

export KURSUSPORTALEN_CONFIG=production
SECRET_KEY=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(48))')
export SECRET_KEY
export DATABASE_URL="$SMOKE_DATABASE_URL"
export SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
export INSTANCE_PATH="$WORK/instance"
export BASE_URL="http://127.0.0.1:$WEB_PORT"
export PROXY_COUNT=0                 # no nginx in front here
export MFA_REQUIRED=false            # the smoke logs in with passwords only
export SCHEDULER_DELIVERY_SECONDS=2  # deliver the invitation within seconds
export SCHEDULER_BEAT_SECONDS=5
export LOG_LEVEL=WARNING

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${SMOKE_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN/flask" --app wsgi db upgrade >/dev/null 2>&1
"$BIN/flask" --app wsgi demo load >/dev/null
"$BIN/python" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$WORK/mail" &
pids+=($!)
"$BIN/gunicorn" -c gunicorn.conf.py --bind "127.0.0.1:$WEB_PORT" --workers 2 --access-logfile "$WORK/access.log" wsgi:app \
  2>"$WORK/gunicorn.log" &
pids+=($!)
"$BIN/python" -m scheduler 2>"$WORK/scheduler.log" &
pids+=($!)

if ! PYTHONPATH=. "$BIN/python" deploy/smoke.py --base-url "$BASE_URL" --maildir "$WORK/mail"; then
  echo "--- gunicorn log"; tail -n 40 "$WORK/gunicorn.log"
  echo "--- scheduler log"; tail -n 40 "$WORK/scheduler.log"
  exit 1
fi
