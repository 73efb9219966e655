"""Three `baton serve` nodes sharing one PostgreSQL database.

A mixed load (timers, callbacks, activities, a Map fan-out) goes through all three nodes; one
node is killed with SIGKILL while work is pending; the other two finish everything. Every
execution must end exactly once, with a history whose ids run 1..n without gaps and whose
states were entered as often as the definition says, no more.

Needs DATABASE_URL (a PostgreSQL server URL; a fresh database is created for the run) and
the `baton` binary (BATON_BIN, default target/debug/baton under CARGO_TARGET_DIR).
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest

ROLE = "arn:aws:iam::123456789012:role/cluster"


def _binary() -> str:
    path = os.environ.get("BATON_BIN")
    if not path:
        target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "target")
        path = os.path.join(target, "debug", "baton")
    if not os.path.exists(path):
        pytest.fail(f"baton binary not found at {path}: build it first (cargo build -p baton) or set BATON_BIN")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(endpoint: str, action: str, body: dict, timeout: float = 70):
    req = urllib.request.Request(
        endpoint,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AWSStepFunctions.{action}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return json.loads(raw) if raw else {}
    except urllib.error.HTTPError as e:
        body = json.loads(e.read() or b"{}")
        raise RuntimeError(f"{action} failed: {body}") from None


class Node:
    def __init__(self, binary: str, url: str, workdir: str, config: str, index: int):
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}/"
        self.dir = os.path.join(workdir, f"node{index}")
        os.makedirs(self.dir)
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--port", str(self.port), "--data-dir", self.dir, "--store", url,
             "--config", config, "--activity-poll-ms", "1000"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"node {index} did not start; see {self.log.name}")
                time.sleep(0.05)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture(scope="module")
def database_url():
    base = os.environ.get("DATABASE_URL")
    if not base:
        pytest.fail("DATABASE_URL must name a PostgreSQL server for the cluster test (scripts/test.sh sets it)")
    if shutil.which("psql") is None:
        pytest.fail("psql is needed to create the cluster test's database")
    name = f"baton_cluster_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", base, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    root, _, _ = base.rpartition("/")
    yield f"{root}/{name}"
    subprocess.run(["psql", base, "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)


@pytest.fixture(scope="module")
def cluster(database_url):
    workdir = tempfile.mkdtemp(prefix="baton-cluster-")
    config = os.path.join(workdir, "baton.toml")
    with open(config, "w") as f:
        # The callback's initial call does nothing: the test answers the token itself.
        f.write(f'[functions.noop]\ncommand = ["{sys.executable}", "-c", "print(\\"{{}}\\")"]\n')
        # Answers the token through the node the payload names, then returns: the answer is
        # queued while the call that handed the token out is still in flight on another node.
        # (TOML basic strings take JSON's escapes.)
        f.write(f"[functions.answers_first]\ncommand = [{json.dumps(sys.executable)}, \"-c\", {json.dumps(ANSWERS_FIRST)}]\n")
    binary = _binary()
    nodes = [Node(binary, database_url, workdir, config, i) for i in range(3)]
    yield nodes
    for n in nodes:
        n.stop()
    shutil.rmtree(workdir, ignore_errors=True)


ANSWERS_FIRST = """
import json, sys, urllib.request
event = json.load(sys.stdin)
body = {"taskToken": event["token"], "error": "Worker.Refused", "cause": "answered first"}
headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions.SendTaskFailure"}
req = urllib.request.Request(event["answerAt"], data=json.dumps(body).encode(), method="POST", headers=headers)
urllib.request.urlopen(req, timeout=30).read()
print(json.dumps({"handedOut": True}))
"""


def definitions(activity_arn: str) -> dict:
    return {
        "timer": {"StartAt": "Wait", "States": {
            "Wait": {"Type": "Wait", "Seconds": 2, "Next": "Done"},
            "Done": {"Type": "Pass", "Result": "waited", "End": True}}},
        "callback": {"StartAt": "Ask", "States": {
            "Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "noop", "Payload": {"token.$": "$$.Task.Token"}},
                    "TimeoutSeconds": 120, "Next": "Done"},
            "Done": {"Type": "Pass", "End": True}}},
        "activity": {"StartAt": "Work", "States": {
            "Work": {"Type": "Task", "Resource": activity_arn, "TimeoutSeconds": 120, "Next": "Done"},
            "Done": {"Type": "Pass", "End": True}}},
        "fanout": {"StartAt": "Map", "States": {
            "Map": {"Type": "Map", "MaxConcurrency": 4, "End": True,
                    "ItemProcessor": {"StartAt": "Nap", "States": {
                        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Echo"},
                        "Echo": {"Type": "Pass", "End": True}}}}}},
    }


# How often each state is entered in one execution of each kind.
EXPECTED_ENTRIES = {
    "timer": {"Wait": 1, "Done": 1},
    "callback": {"Ask": 1, "Done": 1},
    "activity": {"Work": 1, "Done": 1},
    "fanout": {"Map": 1, "Nap": 6, "Echo": 6},
}


def test_three_nodes_finish_everything_exactly_once_when_one_dies(cluster):
    a, b, c = cluster
    activity = call(a.endpoint, "CreateActivity", {"name": f"work-{uuid.uuid4().hex[:6]}"})["activityArn"]
    machines = {}
    for kind, definition in definitions(activity).items():
        machines[kind] = call(a.endpoint, "CreateStateMachine", {
            "name": f"{kind}-{uuid.uuid4().hex[:6]}", "roleArn": ROLE, "definition": json.dumps(definition),
        })["stateMachineArn"]

    executions = []  # (kind, arn)
    per_kind = 8
    for i in range(per_kind):
        for kind, sm in machines.items():
            node = cluster[(i + len(executions)) % 3]
            body = {"stateMachineArn": sm, "input": json.dumps(list(range(6)) if kind == "fanout" else {"n": i})}
            executions.append((kind, call(node.endpoint, "StartExecution", body)["executionArn"]))

    # Let callbacks be submitted and timers be armed, then kill a node with work in flight.
    time.sleep(0.5)
    b.kill()
    survivors = [a, c]

    def tokens_to_answer():
        found = []
        for kind, arn in executions:
            if kind != "callback":
                continue
            history = call(a.endpoint, "GetExecutionHistory", {"executionArn": arn, "maxResults": 1000})["events"]
            done = any(e["type"] in ("TaskSucceeded", "TaskFailed") for e in history)
            submitted = any(e["type"] == "TaskSubmitted" for e in history)
            if submitted and not done:
                sched = next(e for e in history if e["type"] == "TaskScheduled")
                params = json.loads(sched["taskScheduledEventDetails"]["parameters"])
                found.append((arn, params["Payload"]["token"]))
        return found

    answered = set()
    deadline = time.monotonic() + 120
    statuses = {}
    while time.monotonic() < deadline:
        for i, (arn, token) in enumerate(tokens_to_answer()):
            if arn in answered:
                continue
            call(survivors[i % 2].endpoint, "SendTaskSuccess", {"taskToken": token, "output": json.dumps({"answered": arn})})
            answered.add(arn)
        for node in survivors:
            task = call(node.endpoint, "GetActivityTask", {"activityArn": activity, "workerName": f"w{node.port}"})
            if task.get("taskToken"):
                call(node.endpoint, "SendTaskSuccess", {"taskToken": task["taskToken"], "output": task["input"]})
        statuses = {arn: call(c.endpoint, "DescribeExecution", {"executionArn": arn}) for _, arn in executions}
        if all(d["status"] != "RUNNING" for d in statuses.values()):
            break
        time.sleep(0.2)

    unfinished = [arn for arn, d in statuses.items() if d["status"] == "RUNNING"]
    assert not unfinished, f"{len(unfinished)} executions never finished after a node died: {unfinished[:3]}"
    for kind, arn in executions:
        d = statuses[arn]
        assert d["status"] == "SUCCEEDED", f"{kind} {arn}: {d.get('error')} {d.get('cause')}"
        history = []
        token = None
        while True:
            body = {"executionArn": arn, "maxResults": 1000}
            if token:
                body["nextToken"] = token
            page = call(a.endpoint, "GetExecutionHistory", body)
            history += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        ids = [e["id"] for e in history]
        assert ids == list(range(1, len(ids) + 1)), f"{arn}: event ids have gaps or repeats"
        entries = collections.Counter(
            e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered"))
        assert dict(entries) == EXPECTED_ENTRIES[kind], f"{kind} {arn}: states entered {dict(entries)}"
        ends = [e["type"] for e in history if e["type"].startswith("Execution") and e["type"] != "ExecutionStarted"]
        assert ends == ["ExecutionSucceeded"], f"{arn}: ended {ends}"
        if kind == "callback":
            assert json.loads(d["output"]) == {"answered": arn}
        if kind == "timer":
            assert json.loads(d["output"]) == "waited"


def test_an_answer_through_another_node_during_the_call_comes_after_the_submission(cluster):
    # Whichever node applies the events, the call's submission is recorded before the answer
    # that came while the call was in flight.
    live = [n for n in cluster if n.proc.poll() is None]
    assert len(live) >= 2
    definition = {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "answers_first",
                       "Payload": {"token.$": "$$.Task.Token", "answerAt.$": "$.answerAt"}},
        "End": True}}}
    sm = call(live[0].endpoint, "CreateStateMachine", {
        "name": f"early-{uuid.uuid4().hex[:6]}", "roleArn": ROLE, "definition": json.dumps(definition),
    })["stateMachineArn"]
    arns = []
    for i in range(6):
        start, answer = live[i % len(live)], live[(i + 1) % len(live)]
        body = {"stateMachineArn": sm, "input": json.dumps({"answerAt": answer.endpoint})}
        arns.append(call(start.endpoint, "StartExecution", body)["executionArn"])
    deadline = time.monotonic() + 60
    while True:
        statuses = {arn: call(live[0].endpoint, "DescribeExecution", {"executionArn": arn}) for arn in arns}
        if all(d["status"] != "RUNNING" for d in statuses.values()):
            break
        assert time.monotonic() < deadline, "executions answered early never finished"
        time.sleep(0.2)
    for arn in arns:
        assert statuses[arn]["status"] == "FAILED", arn
        history = call(live[0].endpoint, "GetExecutionHistory", {"executionArn": arn, "maxResults": 1000})["events"]
        assert [e["type"] for e in history] == [
            "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskFailed",
            "ExecutionFailed",
        ], arn
