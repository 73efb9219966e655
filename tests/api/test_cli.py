"""The aws CLI against `baton serve`: the same flows as a person would type them, with dummy
credentials (conftest.py sets them), checking the JSON printed and the exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import (
    EXEC_PREFIX,
    PASS_DEFINITION,
    ROLE_ARN,
    SM_PREFIX,
    callback_state,
    callback_token,
    definition,
    wait_done,
)

# The aws CLI v1 (pinned in requirements.txt) exits 255 when the service answers with an error.
CLI_SERVICE_ERROR = 255


def aws_binary() -> str:
    beside_python = Path(sys.executable).with_name("aws")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("aws")
    if not found:
        pytest.fail("the aws CLI is not installed (pip install -r tests/api/requirements.txt)")
    return found


@pytest.fixture(scope="module")
def aws(server):
    binary = aws_binary()

    def run(*args: str, expect_rc: int = 0, env: dict | None = None):
        proc = subprocess.run(
            [binary, "stepfunctions", *args, "--endpoint-url", server.endpoint, "--output", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == expect_rc, f"rc={proc.returncode}\nstdout={proc.stdout}\nstderr={proc.stderr}"
        if expect_rc == 0:
            return json.loads(proc.stdout) if proc.stdout.strip() else {}
        return proc.stderr

    return run


def test_cli_create_start_describe_history(aws, sfn, name):
    n = name()
    created = aws("create-state-machine", "--name", n, "--definition", PASS_DEFINITION, "--role-arn", ROLE_ARN)
    assert created["stateMachineArn"] == SM_PREFIX + n
    assert isinstance(created["creationDate"], (int, float))

    started = aws(
        "start-execution",
        "--state-machine-arn",
        created["stateMachineArn"],
        "--name",
        "cli-run",
        "--input",
        '{"from": "cli"}',
    )
    assert started["executionArn"] == f"{EXEC_PREFIX}{n}:cli-run"
    wait_done(sfn, started["executionArn"])

    described = aws("describe-execution", "--execution-arn", started["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"from": "cli"}

    hist = aws("get-execution-history", "--execution-arn", started["executionArn"], "--reverse-order")
    assert [e["type"] for e in hist["events"]] == [
        "ExecutionSucceeded",
        "PassStateExited",
        "PassStateEntered",
        "ExecutionStarted",
    ]

    listed = aws("list-executions", "--state-machine-arn", created["stateMachineArn"])
    assert [e["executionArn"] for e in listed["executions"]] == [started["executionArn"]]

    assert aws("delete-state-machine", "--state-machine-arn", created["stateMachineArn"]) == {}


def test_cli_paginates_history(aws, sfn, machine):
    states = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(3)}
    states["S3"] = {"Type": "Succeed"}
    arn = sfn.start_execution(stateMachineArn=machine(definition(states)))["executionArn"]
    wait_done(sfn, arn)
    # The CLI follows nextToken itself; --page-size makes it take several pages.
    hist = aws("get-execution-history", "--execution-arn", arn, "--page-size", "3")
    assert [e["id"] for e in hist["events"]] == list(range(1, 11))


def test_cli_errors_exit_non_zero_with_the_aws_error_name(aws):
    missing = EXEC_PREFIX + "nope:nope"
    stderr = aws("describe-execution", "--execution-arn", missing, expect_rc=CLI_SERVICE_ERROR)
    assert "(ExecutionDoesNotExist)" in stderr
    assert f"Execution Does Not Exist: '{missing}'" in stderr

    stderr = aws("describe-state-machine", "--state-machine-arn", "not-an-arn", expect_rc=CLI_SERVICE_ERROR)
    assert "(InvalidArn)" in stderr

    stderr = aws(
        "create-state-machine",
        "--name",
        "broken-cli",
        "--definition",
        definition({"A": {"Type": "Pass", "Next": "Nowhere"}}),
        "--role-arn",
        ROLE_ARN,
        expect_rc=CLI_SERVICE_ERROR,
    )
    assert "(InvalidDefinition)" in stderr and "MISSING_TRANSITION_TARGET" in stderr

    stderr = aws("send-task-success", "--task-token", "garbage", "--task-output", "{}", expect_rc=CLI_SERVICE_ERROR)
    assert "(InvalidToken)" in stderr

    stderr = aws("list-state-machines", "--max-results", "1001", "--no-paginate", expect_rc=CLI_SERVICE_ERROR)
    assert "(ValidationException)" in stderr


def test_cli_answers_a_callback(aws, sfn, machine):
    arn = sfn.start_execution(stateMachineArn=machine(definition({"Ask": callback_state()})))["executionArn"]
    token = callback_token(sfn, arn)
    assert aws("send-task-success", "--task-token", token, "--task-output", '{"via": "cli"}') == {}
    d = wait_done(sfn, arn)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"via": "cli"})
    stderr = aws("send-task-success", "--task-token", token, "--task-output", "{}", expect_rc=CLI_SERVICE_ERROR)
    assert "(TaskTimedOut)" in stderr


def test_cli_stop_execution(aws, sfn, machine):
    arn = sfn.start_execution(stateMachineArn=machine(definition({"W": {"Type": "Wait", "Seconds": 30, "End": True}})))[
        "executionArn"
    ]
    stopped = aws("stop-execution", "--execution-arn", arn, "--error", "Cli.Stop", "--cause", "typed by hand")
    assert "stopDate" in stopped
    d = wait_done(sfn, arn)
    assert (d["status"], d["error"], d["cause"]) == ("ABORTED", "Cli.Stop", "typed by hand")


def test_cli_start_sync_execution_needs_host_prefix_injection_off(aws, machine):
    sm = machine(definition({"P": {"Type": "Pass", "Result": {"sync": True}, "End": True}}), type="EXPRESS")
    r = aws(
        "start-sync-execution",
        "--state-machine-arn",
        sm,
        "--input",
        "{}",
        env={"AWS_DISABLE_HOST_PREFIX_INJECTION": "true"},
    )
    assert r["status"] == "SUCCEEDED"
    assert json.loads(r["output"]) == {"sync": True}
