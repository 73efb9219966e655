#!/usr/bin/env python3
"""Markdown tables from the JSON reports of scripts/bench-all.sh (standard library only).

    python3 scripts/bench-table.py OUT

OUT/<target>/run<k>-<scenario>.json, each {"reports": [...]} as `baton bench --json`
writes. Every figure is the median over the runs; ratios are Baton on SQLite divided by
the peer (throughput) or the peer divided by Baton (latency), so above 1 means Baton is
ahead.
"""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

TARGETS = ["sqlite", "pg1", "pg2", "pg3", "moto", "localstack"]
NAMES = {
    "sqlite": "Baton, SQLite",
    "pg1": "Baton, PostgreSQL, 1 node",
    "pg2": "Baton, PostgreSQL, 2 nodes",
    "pg3": "Baton, PostgreSQL, 3 nodes",
    "moto": "moto",
    "localstack": "LocalStack",
}
# The latency that matters most for each scenario.
KEY_LATENCY = {
    "pass-chain": "execution",
    "choice-loop": "execution",
    "map-fanout": "execution",
    "parallel": "execution",
    "wait": "timer-lateness",
    "callback": "resume",
    "start-burst": "start",
    "express": "sync-execution",
    "idle-waiters": "describe-while-waiting",
}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=1):
    if v is None:
        return "–"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def load(out):
    """{(title): {target: [report, ...]}} and the scenario order seen."""
    found = defaultdict(lambda: defaultdict(list))
    order = []
    for target_dir in sorted(Path(out).iterdir()):
        if not target_dir.is_dir():
            continue
        for f in sorted(target_dir.glob("run*.json")):
            for r in json.loads(f.read_text())["reports"]:
                title = r["scenario"] + (f" ({r['variant']})" if r.get("variant") else "")
                if r["scenario"] == "callback":
                    # Run at two loads: latency depends on how many wait at once.
                    title += f", {r['concurrency']} at once"
                if title not in order:
                    order.append(title)
                found[title][target_dir.name].append(r)
    return found, order


def summary(reports):
    ok = [r for r in reports if r["status"] == "ok"]
    if not ok:
        r = reports[0]
        return {"status": r["status"], "note": r.get("note") or ""}
    scenario = ok[0]["scenario"]
    key = KEY_LATENCY.get(scenario)
    lat = [r["latency"].get(key) for r in ok]
    errors = defaultdict(int)
    for r in ok:
        for k, v in r["errors"].items():
            errors[k] += v
    return {
        "status": "ok",
        "runs": len(ok),
        "throughput": median([r["throughput_per_s"] for r in ok]),
        "unit": ok[0]["throughput_unit"],
        "transitions": median([r.get("transitions_per_s") for r in ok]),
        "key": key,
        "p50": median([l["p50_ms"] if l else None for l in lat]),
        "p99": median([l["p99_ms"] if l else None for l in lat]),
        "rss": median([(r.get("server") or {}).get("rss_max_mib") for r in ok]),
        "cpu": median([(r.get("server") or {}).get("cpu_cores") for r in ok]),
        "done": f"{sum(r['succeeded'] for r in ok)}/{sum(r['started'] for r in ok)}",
        "errors": ", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "none",
    }


def main():
    out = sys.argv[1]
    found, order = load(out)
    scenarios = list(KEY_LATENCY)
    scenario_of = lambda t: t.replace(",", " ").split(" ")[0]  # noqa: E731
    order.sort(key=lambda t: (scenarios.index(scenario_of(t)) if scenario_of(t) in scenarios else 99, t))
    for title in order:
        if not any(t in found[title] for t in TARGETS):
            continue
        by_target = found[title]
        rows = {t: summary(by_target[t]) for t in TARGETS if t in by_target}
        if not rows:
            continue
        base = rows.get("sqlite")
        key = KEY_LATENCY.get(scenario_of(title), "")
        print(f"### {title}\n")
        print(f"| endpoint | runs | throughput | transitions/s | {key} p50 ms | {key} p99 ms "
              "| server RSS max MiB | server CPU cores | succeeded/started | errors | vs Baton SQLite |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for target, s in rows.items():
            if s["status"] != "ok":
                note = s["note"].replace("|", "/").replace("\n", " ")[:140]
                print(f"| {NAMES[target]} | – | {s['status']}: {note} | | | | | | | | |")
                continue
            ratio = ""
            if base and base["status"] == "ok" and target != "sqlite":
                parts = []
                if base["throughput"] and s["throughput"]:
                    parts.append(f"throughput ×{base['throughput'] / s['throughput']:.1f}")
                if base["p99"] and s["p99"] and base["p99"] > 0:
                    parts.append(f"p99 ×{s['p99'] / base['p99']:.1f}")
                ratio = ", ".join(parts)
            print(
                f"| {NAMES[target]} | {s['runs']} | {fmt(s['throughput'])} {s['unit']}/s "
                f"| {fmt(s['transitions'], 0)} | {fmt(s['p50'], 2)} | {fmt(s['p99'], 2)} "
                f"| {fmt(s['rss'])} | {fmt(s['cpu'], 2)} | {s['done']} | {s['errors']} | {ratio} |"
            )
        print()
    idle = Path(out) / "idle"
    for f in sorted(idle.glob("run*.json")) if idle.is_dir() else []:
        for r in json.loads(f.read_text())["reports"]:
            print("### idle-waiters, 100,000 executions (Baton, SQLite)\n")
            print("| waiting | server RSS MiB | of which anonymous (heap) MiB | DescribeExecution p50 / p99 ms "
                  "| ListExecutions p50 / p99 ms |")
            print("|---|---|---|---|---|")
            for c in r["extra"].get("checkpoints", []):
                print(f"| {c['waiting']:,} | {fmt(c['rss_mib'])} | {fmt(c.get('rss_anon_mib'))} "
                      f"| {fmt(c['describe_p50_ms'], 2)} / "
                      f"{fmt(c['describe_p99_ms'], 2)} | {fmt(c['list_p50_ms'], 2)} / {fmt(c['list_p99_ms'], 2)} |")
            print()


if __name__ == "__main__":
    main()
