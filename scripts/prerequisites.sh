#!/usr/bin/env bash
# What the test suite needs besides Rust, checked one by one before any test starts:
#   Python 3 with venv and pip     the API suite's virtualenv (scripts/api-venv.sh)
#   PostgreSQL on DATABASE_URL     running, with that database (created here when missing)
#   psql                           the cluster test creates its own databases with it
#   Node.js with npm, chromium     the console's browser test (Debian's chromium; playwright
#                                  never downloads a browser), and `npm ci` in tests/console
# As root on Debian (a fresh machine, CI) it installs and starts what is missing, without
# asking. Otherwise it prints exactly what to run and exits 1.
# Used by scripts/test.sh and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export DEBIAN_FRONTEND=noninteractive

todo=()
can_install=""
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  can_install=1
fi
apt_updated=""
installed_postgresql=""

# Install Debian packages, or say how to.
need() {
  if [ -n "$can_install" ]; then
    [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
    apt-get install -y -qq "$@"
  else
    todo+=("sudo apt-get install -y $*")
  fi
}

command -v cargo >/dev/null ||
  todo+=("curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh   # Rust; then open a new shell")

command -v python3 >/dev/null || need python3
if command -v python3 >/dev/null; then
  python3 -c 'import venv, ensurepip' 2>/dev/null || need python3-venv
  python3 -m pip --version >/dev/null 2>&1 || need python3-pip
fi

command -v psql >/dev/null || need postgresql-client
{ command -v node >/dev/null && command -v npm >/dev/null; } || need nodejs npm
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need chromium

# PostgreSQL: the server DATABASE_URL names answers, and has the database.
read -r pg_host pg_port pg_db < <(python3 -c '
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(u.hostname or "127.0.0.1", u.port or 5432, u.path.lstrip("/") or "postgres")' "$DATABASE_URL" 2>/dev/null ||
  echo "127.0.0.1 5432 test")
local_pg=""
case "$pg_host" in 127.0.0.1 | localhost | ::1) local_pg=1 ;; esac
pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h "$pg_host" -p "$pg_port" 2>/dev/null; }
if ! pg_up; then
  if [ -n "$local_pg" ] && [ -n "$can_install" ]; then
    if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
      need postgresql
      installed_postgresql=1
    fi
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 50); do pg_up && break; sleep 0.2; done
    pg_up || todo+=("PostgreSQL did not start on $pg_host:$pg_port: see pg_lsclusters and its log in /var/log/postgresql")
  elif [ -n "$local_pg" ]; then
    todo+=("sudo apt-get install -y postgresql && sudo pg_ctlcluster \$(ls /etc/postgresql | head -n 1) main start")
  else
    todo+=("start the PostgreSQL server at $pg_host:$pg_port, or set DATABASE_URL to one that runs")
  fi
fi
# A server this script has just installed is ours to set up: the tests connect over loopback
# without a password, as the README says (trust authentication).
if [ -n "$installed_postgresql" ] && pg_up; then
  hba="$(ls /etc/postgresql/*/main/pg_hba.conf | head -n 1)"
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main reload
fi
if pg_up && command -v psql >/dev/null; then
  if ! err="$(psql "$DATABASE_URL" -qtAc 'SELECT 1' 2>&1 >/dev/null)"; then
    if [[ "$err" == *"does not exist"* ]]; then
      echo "== creating the PostgreSQL database $pg_db (DATABASE_URL)"
      psql "${DATABASE_URL%/*}/postgres" -qc "CREATE DATABASE \"$pg_db\""
    else
      todo+=("make PostgreSQL accept DATABASE_URL=$DATABASE_URL ($err); the tests connect without a password: add 'host all all 127.0.0.1/32 trust' at the top of pg_hba.conf and reload the server, or put a password in DATABASE_URL")
    fi
  fi
fi

# playwright-core for the browser test, pinned in tests/console/package-lock.json.
if [ ! -d tests/console/node_modules ]; then
  if command -v npm >/dev/null; then
    echo "== npm ci (tests/console)"
    npm ci --prefix tests/console --no-audit --no-fund
  else
    todo+=("npm ci --prefix tests/console   # once npm is installed")
  fi
fi

if [ ${#todo[@]} -gt 0 ]; then
  echo "The test suite needs these first; run:" >&2
  for t in "${todo[@]}"; do
    echo "  $t" >&2
  done
  echo "then run the tests again." >&2
  exit 1
fi
