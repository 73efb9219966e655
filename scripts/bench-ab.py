#!/usr/bin/env python3
"""Compare two `baton` binaries with `baton bench`: the binaries alternate (A B, B A, ...), each
run on a fresh `baton serve` with its own data folder, and the median throughput of each
scenario is printed for both with the ratio new/old. Alternating spreads a noisy machine's
drift over both sides; compare the ratios, not the absolute figures.

    python3 scripts/bench-ab.py OLD_BATON NEW_BATON [--rounds 5] [--executions 2000] \\
        [--scenario pass-chain,callback,start-burst]

The load is driven by NEW_BATON's `bench` in both cases, so only the server differs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_once(server: str, client: str, scenarios: str, executions: int) -> dict[str, float]:
    data = Path(tempfile.mkdtemp(prefix="baton-ab-"))
    port = free_port()
    proc = subprocess.Popen([server, "serve", "--data-dir", str(data / "data"), "--port", str(port),
                             "--activity-poll-ms", "2000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{server} did not answer /health")
                time.sleep(0.05)
        report = data / "report.json"
        subprocess.run([client, "bench", "--endpoint", f"http://127.0.0.1:{port}", "--scenario", scenarios,
                        "--executions", str(executions), "--json", str(report), "--quiet", "--pid", str(proc.pid)],
                       check=True, stdout=subprocess.DEVNULL)
        reports = json.loads(report.read_text())["reports"]
        return {r["scenario"]: r["throughput_per_s"] for r in reports}
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--scenario", default="pass-chain,callback,start-burst")
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {args.old: {}, args.new: {}}
    for round_ in range(args.rounds):
        order = [args.old, args.new] if round_ % 2 == 0 else [args.new, args.old]
        for binary in order:
            figures = run_once(binary, args.new, args.scenario, args.executions)
            for scenario, per_s in figures.items():
                results[binary].setdefault(scenario, []).append(per_s)
            print(f"round {round_ + 1} {'new' if binary == args.new else 'old'}: "
                  + ", ".join(f"{s} {v:.1f}/s" for s, v in figures.items()), flush=True)
    for scenario, old_runs in results[args.old].items():
        old, new = statistics.median(old_runs), statistics.median(results[args.new][scenario])
        print(f"{scenario:12s} old {old:10.1f}/s  new {new:10.1f}/s  new/old {new / old:.3f}  (n={len(old_runs)})")


if __name__ == "__main__":
    main()
