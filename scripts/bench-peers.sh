#!/usr/bin/env bash
# Starts the Step Functions emulators BENCHMARKS.md compares Baton with, on loopback, in the
# background, each from its own virtualenv outside the clone (created on first use):
#
#   bash scripts/bench-peers.sh moto [PORT]         moto's server (default port 5000), with
#                                                   state machine execution switched on
#   bash scripts/bench-peers.sh localstack [PORT]   LocalStack's Step Functions on the host,
#                                                   no container (default port 4566)
#   bash scripts/bench-peers.sh stop                stops what this script started
#
# Prints "NAME PID URL" once the peer answers, e.g. for
#   baton bench --endpoint URL --pid PID --scenario all
# Not part of the test suite. Logs and pid files go to $BATON_BENCH_DIR
# (default ~/.cache/baton/bench).
set -euo pipefail

MOTO_VERSION="5.2.5"
# LocalStack's newer releases (4.14.0, 2026.3.0) need Python 3.12+ although their metadata
# says 3.10; 4.4.0 runs on Python 3.11 with these pins of packages that broke it since.
LOCALSTACK_VERSION="4.4.0"
LOCALSTACK_PINS="cbor2==5.6.5 pyopenssl==24.2.1 cryptography==43.0.3 service_identity==24.2.0"
dir="${BATON_BENCH_DIR:-$HOME/.cache/baton/bench}"
mkdir -p "$dir"

venv() { # venv NAME PACKAGE...: a virtualenv with exactly these packages, reused once made
  local path="$dir/$1-venv"; shift
  local want="$*"
  if [ ! -x "$path/bin/python" ] || [ "$(cat "$path/.packages" 2>/dev/null)" != "$want" ]; then
    rm -rf "$path"
    python3 -m venv "$path" >&2
    "$path/bin/pip" install -q --disable-pip-version-check "$@" >&2
    echo "$want" >"$path/.packages"
  fi
  echo "$path"
}

wait_until() { # wait_until SECONDS PID COMMAND...: retry COMMAND while PID lives
  local limit=$1 pid=$2; shift 2
  for _ in $(seq $((limit * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

case "${1:-}" in
moto)
  port="${2:-5000}"
  path="$(venv moto "moto[server]==$MOTO_VERSION")"
  "$path/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/moto.pid"
  wait_until 60 "$pid" curl -sf "http://127.0.0.1:$port/moto-api/config" \
    || { echo "error: moto did not start; see $dir/moto.log" >&2; exit 1; }
  # Without this moto records executions but never runs them.
  curl -sf -X POST -H 'content-type: application/json' \
    -d '{"stepfunctions": {"execute_state_machine": true}}' \
    "http://127.0.0.1:$port/moto-api/config" >/dev/null
  echo "moto $pid http://127.0.0.1:$port"
  ;;
localstack)
  port="${2:-4566}"
  # shellcheck disable=SC2086 # the pins are separate words
  path="$(venv localstack "localstack-core[runtime]==$LOCALSTACK_VERSION" $LOCALSTACK_PINS)"
  # The runtime itself, as its container would start it, on the host.
  # events: Step Functions reports status changes to EventBridge, as in a default LocalStack.
  GATEWAY_LISTEN="127.0.0.1:$port" SERVICES=stepfunctions,events EAGER_SERVICE_LOADING=1 \
    LOCALSTACK_HOST="127.0.0.1:$port" FILESYSTEM_ROOT="$dir/localstack-fs" \
    DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 \
    "$path/bin/python" -m localstack.runtime.main >"$dir/localstack.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/localstack.pid"
  wait_until 180 "$pid" sh -c "curl -sf http://127.0.0.1:$port/_localstack/health | grep -q '\"stepfunctions\": \"\\(available\\|running\\)\"'" \
    || { echo "error: LocalStack did not start; see $dir/localstack.log" >&2; exit 1; }
  echo "localstack $pid http://127.0.0.1:$port"
  ;;
stop)
  for name in moto localstack; do
    if [ -f "$dir/$name.pid" ]; then
      pid="$(cat "$dir/$name.pid")"
      kill "$pid" 2>/dev/null || true
      # LocalStack may ignore SIGTERM while it shuts its services down; do not leave it running.
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
  ;;
*)
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
