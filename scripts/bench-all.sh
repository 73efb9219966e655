#!/usr/bin/env bash
# The runs behind BENCHMARKS.md: every scenario on Baton (SQLite; PostgreSQL with 1, 2 and 3
# nodes), moto and LocalStack, RUNS times each, JSON reports into OUT, then the tables:
#
#   bash scripts/bench-all.sh OUT [RUNS] [TARGETS...]
#
# RUNS (default 3) for Baton on SQLite; the clusters run CLUSTER_RUNS times (default 2), the
# peers, far slower, PEER_RUNS times (default 2) with fewer executions in the same 5 s and
# 20 s, not 60, for the last executions to end.
# TARGETS (default all, in this order): sqlite idle pg1 pg2 pg3 moto localstack.
# `idle` is idle-waiters with 100,000 executions on SQLite, once. Needs a release build
# (`cargo build --release -p baton`), PostgreSQL (DATABASE_URL) for pg*, and PyPI once for
# the peers' virtualenvs (scripts/bench-peers.sh). Prints `uptime` before every run.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?output folder}"
runs="${2:-3}"
shift $(($# >= 2 ? 2 : $#))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(sqlite idle pg1 pg2 pg3 moto localstack)
mkdir -p "$out"

target_dir="$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
baton="${BATON_BIN:-$target_dir/release/baton}"
export BATON_BIN="$baton"
[ -x "$baton" ] || { echo "error: no $baton; run cargo build --release -p baton" >&2; exit 1; }

# scenario N concurrency, for Baton and for the peers (which run far fewer in the same time).
baton_plan=(
  "pass-chain 20000 32" "choice-loop 2000 32" "map-fanout 200 8" "parallel 10000 32"
  "wait 2000 200" "callback 5000 16" "callback 2000 4" "start-burst 20000 32" "express 20000 32"
  "idle-waiters 2000 32"
)
peer_plan=(
  "pass-chain 2000 32" "choice-loop 40 32" "map-fanout 4 4" "parallel 1000 32"
  "wait 500 200" "callback 500 16" "callback 200 4" "start-burst 2000 32" "express 2000 32"
  "idle-waiters 2000 32"
)
peer_runs="${PEER_RUNS:-2}"
cluster_runs="${CLUSTER_RUNS:-2}"
finish=60
cluster_plan=("pass-chain 20000 32" "callback 5000 16" "callback 2000 4" "start-burst 20000 32")

bench() { # bench NAME RUN PLAN-ARRAY-NAME ENDPOINT-ARGS...
  local name=$1 run=$2 plan=$3; shift 3
  local -n steps=$plan
  for step in "${steps[@]}"; do
    read -r scenario n c <<<"$step"
    echo "== $name run $run $scenario: $(uptime)"
    "$baton" bench "$@" --scenario "$scenario" --executions "$n" --concurrency "$c" \
      --duration 5 --finish-timeout "$finish" --quiet --json "$out/$name/run$run-$scenario-c$c.json" \
      | grep -E '^==|throughput' || true
  done
}

for target in "${targets[@]}"; do
  mkdir -p "$out/$target"
  case "$target" in
  sqlite)
    for run in $(seq "$runs"); do
      line="$(bash scripts/bench-baton.sh sqlite)"
      read -ra args <<<"$line"
      bench sqlite "$run" baton_plan "${args[@]}"
      bash scripts/bench-baton.sh stop
    done
    ;;
  idle)
    line="$(bash scripts/bench-baton.sh sqlite)"
    read -ra args <<<"$line"
    echo "== idle-waiters 100000: $(uptime)"
    "$baton" bench "${args[@]}" --scenario idle-waiters --executions 100000 --concurrency 32 \
      --quiet --json "$out/idle/run1-idle-waiters.json" | grep -E '^==|checkpoints' || true
    bash scripts/bench-baton.sh stop
    ;;
  pg1 | pg2 | pg3)
    for run in $(seq "$cluster_runs"); do
      line="$(bash scripts/bench-baton.sh postgres "${target#pg}")"
      read -ra args <<<"$line"
      bench "$target" "$run" cluster_plan "${args[@]}"
      bash scripts/bench-baton.sh stop
    done
    ;;
  moto | localstack)
    finish=20
    for run in $(seq "$peer_runs"); do
      line="$(bash scripts/bench-peers.sh "$target" 15100)"
      read -r _ pid url <<<"$line"
      bench "$target" "$run" peer_plan --endpoint "$url" --pid "$pid"
      bash scripts/bench-peers.sh stop
      sleep 1
    done
    ;;
  *) echo "error: unknown target $target" >&2; exit 2 ;;
  esac
done
python3 scripts/bench-table.py "$out"
