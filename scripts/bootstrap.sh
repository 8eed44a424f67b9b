#!/usr/bin/env bash
# Set-up steps behind `make run` and `make test`: virtual environment, Python packages, the
# Debian packages the app needs, and the PostgreSQL database when DATABASE_URL points at one.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  # apt_install <package>... ; installs only what is missing, as root, or explains what to run.
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if can_apt; then
    say "Installing Debian packages: ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
  else
    die "missing Debian packages: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}"
  fi
}

cmd_venv() {
  local python="$1" venv="$2"
  command -v "$python" >/dev/null || die "$python not found: install Python 3.11 or newer"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11 or newer is required"
  if ! "$python" -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    local ver; ver=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt_install "python${ver}-venv"
    "$python" -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
}

cmd_install() {
  local venv="$1" extras="$2" stamp
  stamp="$venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)-${extras//,/-}"
  [ -f "$stamp" ] && return 0
  say "Installing Python packages${extras:+ (with $extras)}"
  local target="."
  [ -n "$extras" ] && target=".[$extras]"
  "$venv/bin/python" -m pip install -q -c constraints.txt -e "$target"
  rm -f "$venv"/.installed-*
  touch "$stamp"
}

cmd_system() {
  local mode="$1"
  # WeasyPrint needs Pango; Chinese pages and letters need a CJK font.
  apt_install libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk
  if [ "$mode" = test ]; then
    apt_install chromium
    command -v chromium >/dev/null || die "chromium is needed for the browser tests: apt-get install chromium"
  fi
}

cmd_database() {
  # With DATABASE_URL set to PostgreSQL, create the database if the server has none yet.
  local venv="$1"
  [[ "${DATABASE_URL:-}" == postgres* ]] || return 0
  "$venv/bin/python" - <<'PY'
import os, sys
from urllib.parse import urlparse, unquote
import psycopg2
from psycopg2 import sql
url = urlparse(os.environ["DATABASE_URL"])
name = unquote(url.path.lstrip("/"))
kw = dict(host=url.hostname or "localhost", port=url.port or 5432, user=unquote(url.username or "postgres"),
          password=unquote(url.password) if url.password else None)
try:
    psycopg2.connect(dbname=name, connect_timeout=5, **kw).close()
except psycopg2.OperationalError as exc:
    if "does not exist" not in str(exc):
        sys.exit(f"ERROR: cannot reach PostgreSQL at {kw['host']}:{kw['port']}: {exc}")
    conn = psycopg2.connect(dbname="postgres", connect_timeout=5, **kw)
    conn.autocommit = True
    conn.cursor().execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()
    print(f"==> Created PostgreSQL database {name}")
PY
}

case "${1:-}" in
  venv) cmd_venv "$2" "$3" ;;
  install) cmd_install "$2" "${3:-}" ;;
  system) cmd_system "$2" ;;
  database) cmd_database "$2" ;;
  *) die "usage: bootstrap.sh venv|install|system|database ..." ;;
esac
