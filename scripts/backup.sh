#!/usr/bin/env bash
# Back up the PostgreSQL database named by DATABASE_URL: one custom-format dump (pg_dump -Fc),
# consistent (a single snapshot), compressed, restorable table by table with pg_restore.
#
#   DATABASE_URL=postgres://user@host:5432/compute_vouchers scripts/backup.sh [output-file]
#
# Default output: var/backups/<database>-<UTC timestamp>.dump. Prints the file and its SHA-256.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL to the PostgreSQL database to back up}"
case "$DATABASE_URL" in
  postgres://*|postgresql://*) ;;
  *) echo "backup.sh: DATABASE_URL is not a PostgreSQL URL (SQLite: copy var/db.sqlite3 while the app is stopped)" >&2; exit 2 ;;
esac
command -v pg_dump >/dev/null || { echo "backup.sh: pg_dump is missing (Debian: apt-get install postgresql-client)" >&2; exit 2; }
name="${DATABASE_URL##*/}"; name="${name%%\?*}"
out="${1:-var/backups/${name}-$(date -u +%Y%m%dT%H%M%SZ).dump}"
mkdir -p "$(dirname "$out")"
pg_dump --format=custom --no-owner --no-privileges --dbname="$DATABASE_URL" --file="$out.partial"
mv "$out.partial" "$out"  # never leave a half-written file under the final name
echo "backup: $out"
echo "sha256: $(sha256sum "$out" | cut -d' ' -f1)"
