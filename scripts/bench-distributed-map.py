#!/usr/bin/env python3
"""Distributed Map throughput against a running `baton serve`: an N-row CSV uploaded to the
built-in S3, read by a distributed Map of Pass children with an ItemBatcher and
MaxConcurrency 1,000. Prints items/s of each run, their median, and the server's peak
resident memory (VmHWM of /proc/PID/status, the pid of the `baton serve` given).

    baton serve --data-dir /tmp/bench-dmap &
    python3 scripts/bench-distributed-map.py --endpoint http://127.0.0.1:8083 --pid $! \\
        --rows 100000 [--runs 3] [--batch 1000]

Needs boto3 (the API tests' virtualenv has it). Each run is timed from StartExecution to the
execution's end, as DescribeExecution reports it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid

import boto3
from botocore.config import Config

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/bench"


def clients(endpoint: str):
    session = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION)
    cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"},
                 read_timeout=600)
    return session.client("s3", endpoint_url=endpoint, config=cfg), session.client(
        "stepfunctions", endpoint_url=endpoint, config=cfg)


def csv_body(rows: int) -> bytes:
    lines = ["id,name,score"]
    lines.extend(f"{i},name-{i},{i % 100}" for i in range(rows))
    return ("\n".join(lines) + "\n").encode()


def definition(bucket: str, key: str, batch: int) -> str:
    return json.dumps({
        "StartAt": "Rows",
        "States": {
            "Rows": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                    "Parameters": {"Bucket": bucket, "Key": key},
                },
                "ItemBatcher": {"MaxItemsPerBatch": batch},
                "MaxConcurrency": 1000,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "Result": "ok", "End": True}},
                },
                # The children's results are not the measure: keep the Map's output small.
                "ResultSelector": {"done": True},
                "End": True,
            }
        },
    })


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def run_once(sfn, machine: str) -> float:
    started = time.monotonic()
    ex = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    while True:
        d = sfn.describe_execution(executionArn=ex)
        if d["status"] != "RUNNING":
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    if d["status"] != "SUCCEEDED":
        raise RuntimeError(f"execution {ex} ended {d['status']}: {d.get('error')} {d.get('cause')}")
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", default="http://127.0.0.1:8083")
    p.add_argument("--pid", type=int, required=True, help="pid of the baton serve process")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--batch", type=int, default=1000, help="MaxItemsPerBatch")
    args = p.parse_args()

    s3, sfn = clients(args.endpoint)
    tag = uuid.uuid4().hex[:8]
    bucket, key = f"bench-dmap-{tag}", f"rows-{args.rows}.csv"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=csv_body(args.rows))
    machine = sfn.create_state_machine(name=f"bench-dmap-{tag}", definition=definition(bucket, key, args.batch),
                                       roleArn=ROLE)["stateMachineArn"]
    rates = []
    for i in range(args.runs):
        elapsed = run_once(sfn, machine)
        rates.append(args.rows / elapsed)
        print(f"run {i + 1}: {args.rows} rows in {elapsed:.2f} s = {rates[-1]:,.0f} items/s", flush=True)
    print(f"median: {statistics.median(rates):,.0f} items/s over {args.runs} runs "
          f"({args.rows} rows, batches of {args.batch}, MaxConcurrency 1000)")
    print(f"server peak RSS (VmHWM): {peak_rss_mib(args.pid):.1f} MiB")


if __name__ == "__main__":
    main()
