#!/usr/bin/env bash
# The whole test suite, as the README describes it:
#   0. scripts/prerequisites.sh    PostgreSQL, psql, Python venv, Node.js, chromium: installed
#                                  and started as root on Debian, else what to run is printed
#   1. cargo test --workspace      unit, property and conformance tests of the crates
#   2. cargo build -p baton        the binary the API suite starts
#   3. pytest tests/api            boto3 and the aws CLI against a running `baton serve`,
#                                  and the console in headless Chromium (tests/console)
#      and tests/cluster           three nodes sharing one PostgreSQL database
# PostgreSQL comes from DATABASE_URL (default: the local server's `test` database).
# Exits non-zero when any step fails. Arguments are passed to pytest (e.g. -k callbacks).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

step() { printf '\n== %s\n' "$*"; }

step "prerequisites (scripts/prerequisites.sh)"
bash scripts/prerequisites.sh

step "cargo test --workspace"
cargo test --workspace

step "cargo build -p baton"
cargo build -p baton

# Where cargo put the binary: CARGO_TARGET_DIR, a cargo config, or target/.
target_dir="$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
export BATON_BIN="${BATON_BIN:-$target_dir/debug/baton}"

step "Python venv for tests/api"
python="$(bash scripts/api-venv.sh)"
echo "$python"

# Last, so pytest's summary line closes the output.
step "pytest tests/api tests/cluster (BATON_BIN=$BATON_BIN)"
exec "$python" -m pytest tests/api tests/cluster "$@"
