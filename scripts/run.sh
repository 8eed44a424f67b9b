#!/usr/bin/env bash
# Start the app: gunicorn in the foreground; with REDIS_URL also a Celery worker and beat.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$1"; GUNICORN_CMD="$2"; WORKER_CMD="$3"; BEAT_CMD="$4"; HOST="$5"; PORT="$6"
export PATH="$BIN:$PATH"
mkdir -p var/log
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [ -n "${REDIS_URL:-}" ]; then
  # The worker's output (emails on the console backend included) shows here and in var/log/.
  $WORKER_CMD > >(tee var/log/worker.log) 2>&1 & pids+=($!)
  $BEAT_CMD >var/log/beat.log 2>&1 & pids+=($!)
  mode="Redis mode: Celery worker and beat running (logs also in var/log/)"
else
  mode="embedded mode: Celery tasks run in-process"
fi
if [[ "${DATABASE_URL:-}" == postgres* ]]; then mode="PostgreSQL, $mode"; else mode="SQLite in var/db.sqlite3, $mode"; fi

cat <<MSG

  Compute Vouchers is starting ($mode).

  Open  http://$HOST:$PORT/
  API   http://$HOST:$PORT/api/docs/
  Admin http://$HOST:$PORT/admin/

  Demo logins (password: ${DEMO_PASSWORD:-demo-pass-2026}):
    applicant@vouchers.example   startup founder: apply, follow, withdraw
    reviewer@vouchers.example    officer: screen, review, return applications
    approver@vouchers.example    senior officer: decide
    finance@vouchers.example     finance: payouts
    provider@vouchers.example    compute provider staff
    auditor@vouchers.example     auditor: read everything
    admin@vouchers.example       administrator (Django admin)

  Or create your own applicant account at http://$HOST:$PORT/accounts/signup/
  (emails, such as the confirmation link, are printed in this terminal).
  Press Ctrl+C to stop.

MSG
$GUNICORN_CMD
