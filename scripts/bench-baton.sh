#!/usr/bin/env bash
# Starts release-built `baton serve` nodes for benchmarks, in the background, on loopback:
#
#   bash scripts/bench-baton.sh sqlite [PORT]          one node on a fresh embedded store
#   bash scripts/bench-baton.sh postgres N [PORT]      N nodes sharing a fresh PostgreSQL
#                                                      database (DATABASE_URL's server)
#   bash scripts/bench-baton.sh stop                   stops what this script started
#
# Prints the arguments for baton bench, e.g.
#   --endpoint http://127.0.0.1:18200 --pid 1234
# Nodes listen on PORT, PORT+1, ... (default 18200). Data folders, logs and pid files go to
# $BATON_BENCH_DIR (default ~/.cache/baton/bench). BATON_BIN picks the binary (default: the
# release build in cargo's target directory; build it with `cargo build --release -p baton`).
set -euo pipefail
cd "$(dirname "$0")/.."

dir="${BATON_BENCH_DIR:-$HOME/.cache/baton/bench}"
mkdir -p "$dir"
if [ "${1:-}" = stop ]; then
  for f in "$dir"/node*.pid; do
    [ -f "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  exit 0
fi
if [ -z "${BATON_BIN:-}" ]; then
  target_dir="$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  BATON_BIN="$target_dir/release/baton"
fi
[ -x "$BATON_BIN" ] || { echo "error: no $BATON_BIN; run cargo build --release -p baton" >&2; exit 1; }

start_node() { # start_node INDEX PORT [--store URL]
  local i=$1 port=$2; shift 2
  if curl -s -o /dev/null "http://127.0.0.1:$port/health"; then
    echo "error: port $port is taken" >&2
    exit 1
  fi
  rm -rf "$dir/node$i"
  BATON_LOG=warn "$BATON_BIN" serve --host 127.0.0.1 --port "$port" --data-dir "$dir/node$i" "$@" \
    >"$dir/node$i.log" 2>&1 &
  echo $! >"$dir/node$i.pid"
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$dir/node$i.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "error: node $i did not start; see $dir/node$i.log" >&2
  exit 1
}

args=()
case "${1:-}" in
sqlite)
  port="${2:-18200}"
  start_node 0 "$port"
  args+=(--endpoint "http://127.0.0.1:$port" --pid "$(cat "$dir/node0.pid")")
  ;;
postgres)
  nodes="${2:?how many nodes}"
  port="${3:-18200}"
  url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
  server="${url%/*}"
  db="baton_bench"
  PGOPTIONS="--client-min-messages=warning" psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  for i in $(seq 0 $((nodes - 1))); do
    start_node "$i" $((port + i)) --store "$server/$db"
    args+=(--endpoint "http://127.0.0.1:$((port + i))" --pid "$(cat "$dir/node$i.pid")")
  done
  ;;
*)
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
echo "${args[@]}"
