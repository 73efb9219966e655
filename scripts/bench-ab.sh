#!/usr/bin/env bash
# Durability A/B: one binary's `baton serve` against another's, alternating, in one run on
# one machine, so the machine's load falls on every variant alike:
#
#   bash scripts/bench-ab.sh OUT ROUNDS BEFORE_BIN AFTER_BIN
#
# Each round runs every scenario on three fresh servers in turn: BEFORE_BIN as it is (its
# default durability), AFTER_BIN with --durability full, AFTER_BIN with --durability
# relaxed. AFTER_BIN's `baton bench` is the load tool for all three. JSON reports go to
# OUT/VARIANT/roundN-SCENARIO-cC.json, then the medians and ratios to full/before and
# relaxed/before are printed (and written to OUT/summary.txt). `uptime` is printed before
# each round.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?output folder}"
rounds="${2:?rounds}"
before="${3:?the baseline binary}"
after="${4:?the binary under test}"
for b in "$before" "$after"; do
  [ -x "$b" ] || { echo "error: no binary $b" >&2; exit 1; }
done
mkdir -p "$out"
port="${BATON_AB_PORT:-18300}"
data="$out/data"

# scenario executions concurrency (the sizes of scripts/bench-all.sh)
plan=("pass-chain 20000 32" "callback 5000 16" "callback 2000 4" "start-burst 20000 32")

pid=""
stop_server() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
trap stop_server EXIT

start_server() { # start_server BIN ARGS...
  local bin=$1; shift
  rm -rf "$data"
  BATON_LOG=warn "$bin" serve --host 127.0.0.1 --port "$port" --data-dir "$data" "$@" >"$out/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "error: the server did not start; see $out/server.log" >&2
  exit 1
}

for round in $(seq 1 "$rounds"); do
  echo "== round $round: $(uptime)"
  for step in "${plan[@]}"; do
    read -r scenario n c <<<"$step"
    for variant in before full relaxed; do
      case "$variant" in
      before) start_server "$before" ;;
      full) start_server "$after" --durability full ;;
      relaxed) start_server "$after" --durability relaxed ;;
      esac
      mkdir -p "$out/$variant"
      "$after" bench --endpoint "http://127.0.0.1:$port" --pid "$pid" --scenario "$scenario" \
        --executions "$n" --concurrency "$c" --duration 5 --finish-timeout 60 --quiet \
        --json "$out/$variant/round$round-$scenario-c$c.json" >/dev/null || true
      stop_server
      printf '%-8s %-12s c=%-3s %s\n' "$variant" "$scenario" "$c" \
        "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["reports"][0]; print(r.get("throughput_per_s"), r.get("throughput_unit","executions") + "/s")' \
          "$out/$variant/round$round-$scenario-c$c.json" 2>/dev/null || echo "no report")"
    done
  done
done
rm -rf "$data"

python3 - "$out" <<'EOF' | tee "$out/summary.txt"
import glob, json, os, re, statistics, sys
out = sys.argv[1]
figures = {}
for path in glob.glob(os.path.join(out, "*", "round*.json")):
    variant = os.path.basename(os.path.dirname(path))
    m = re.match(r"round\d+-(.+)-c(\d+)\.json", os.path.basename(path))
    report = json.load(open(path))["reports"][0]
    if report.get("throughput_per_s") is not None:
        figures.setdefault((m.group(1), int(m.group(2))), {}).setdefault(variant, []).append(report["throughput_per_s"])
print(f"{'scenario':<22}{'before':>10}{'full':>10}{'relaxed':>10}{'full/before':>13}{'relaxed/before':>16}  runs")
for (scenario, c), v in sorted(figures.items()):
    med = {k: statistics.median(x) for k, x in v.items()}
    b = med.get("before")
    ratio = lambda k: f"{med[k] / b:.2f}x" if b and k in med else "-"
    runs = "/".join(str(len(v.get(k, []))) for k in ("before", "full", "relaxed"))
    print(f"{scenario + ' c' + str(c):<22}{med.get('before', 0):>10.0f}{med.get('full', 0):>10.0f}"
          f"{med.get('relaxed', 0):>10.0f}{ratio('full'):>13}{ratio('relaxed'):>16}  {runs}")
EOF
