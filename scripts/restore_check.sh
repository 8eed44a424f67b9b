#!/usr/bin/env bash
# Prove a backup is usable: restore it into a scratch database, then run on the restored copy
#   - the migrations check (the schema is the code's),
#   - the audit chain verification (nothing was edited, deleted, inserted or reordered),
#   - the ledger reconciliation (every voucher, program and claim adds up),
# and drop the scratch database again. Exit 0 only when all three pass.
#
#   DATABASE_URL=postgres://user@host:5432/compute_vouchers scripts/restore_check.sh FILE.dump
#
# The scratch database is created on the server of DATABASE_URL as <name>_restore_check (or
# RESTORE_DATABASE); the database of DATABASE_URL itself is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
dump="${1:?usage: scripts/restore_check.sh FILE.dump}"
[ -f "$dump" ] || { echo "restore_check.sh: no such file: $dump" >&2; exit 2; }
: "${DATABASE_URL:?set DATABASE_URL (the server to restore on; its database is not touched)}"
PY="${PYTHON:-.venv/bin/python}"
server="${DATABASE_URL%/*}"
name="${DATABASE_URL##*/}"; name="${name%%\?*}"
scratch="${RESTORE_DATABASE:-${name}_restore_check}"
scratch_url="$server/$scratch"
psql_admin() { psql --no-psqlrc --quiet --dbname="$server/postgres" -v ON_ERROR_STOP=1 "$@"; }
cleanup() { psql_admin -c "DROP DATABASE IF EXISTS \"$scratch\" WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
psql_admin -c "CREATE DATABASE \"$scratch\""
pg_restore --no-owner --no-privileges --exit-on-error --dbname="$scratch_url" "$dump"
echo "restored $dump into $scratch"
status=0
export DATABASE_URL="$scratch_url" REDIS_URL=""
DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.local}"
export DJANGO_SETTINGS_MODULE
"$PY" manage.py migrate --check >/dev/null && echo "schema: up to date with the code" \
  || { echo "schema: migrations are missing on the restored copy" >&2; status=1; }
"$PY" manage.py verify_audit_chain || status=1
"$PY" manage.py reconcile || status=1
if [ "$status" -eq 0 ]; then echo "restore check: PASSED"; else echo "restore check: FAILED" >&2; fi
exit "$status"
