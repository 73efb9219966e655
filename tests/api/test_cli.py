"""The command line as a person types it, checking what is printed and the exit codes: the aws
CLI against `baton serve` (with dummy credentials, conftest.py sets them), and `baton`'s own
`eval`, `run`, `validate` and `serve`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seeds_helpers import free_port
from support import (
    EXEC_PREFIX,
    baton_binary,
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


def command(argv: list[str], expect_rc: int, env: dict | None) -> subprocess.CompletedProcess:
    """Run a command as a person would type it (no stdin); check its exit code."""
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == expect_rc, f"rc={proc.returncode}\nstdout={proc.stdout}\nstderr={proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def aws(server):
    binary = aws_binary()

    def run(*args: str, expect_rc: int = 0, env: dict | None = None):
        argv = [binary, "stepfunctions", *args, "--endpoint-url", server.endpoint, "--output", "json"]
        proc = command(argv, expect_rc, env)
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


# ----- baton's own commands ------------------------------------------------------------------
# Exit codes (README): 0 done, 1 the execution or the expression failed (a syntax error in
# either query language included), 2 bad usage or an invalid definition.


def baton(*args: str, expect_rc: int = 0, env: dict | None = None) -> subprocess.CompletedProcess:
    return command([str(baton_binary()), *args], expect_rc, env)


def test_eval_reads_the_context_object_of_a_made_up_execution_without_context():
    out = json.loads(baton("eval", "$$.Execution.Id").stdout)
    assert out.startswith(f"{EXEC_PREFIX}local:"), out
    both = json.loads(baton("eval", '{"machine.$": "$$.StateMachine.Name", "in.$": "$$.Execution.Input"}',
                            "--input", '{"a": 1}', "--json").stdout)
    assert both == {"result": {"machine": "local", "in": {"a": 1}}}
    # A field this context lacks fails, and says where $$ came from and how to give another.
    missing = baton("eval", "$$.Task.Token", expect_rc=1)
    assert missing.stderr.startswith("States.Runtime: "), missing.stderr
    assert "made-up execution" in missing.stderr and "--context" in missing.stderr
    given = baton("eval", "$$.Execution.Id", "--context", '{"Execution": {"Id": "mine"}}')
    assert json.loads(given.stdout) == "mine"


def test_eval_takes_expressions_that_start_with_a_hyphen():
    assert json.loads(baton("eval", "-4").stdout) == -4
    assert json.loads(baton("eval", "-4", "--json").stdout) == {"result": -4}
    assert json.loads(baton("eval", "--json", "-2.5").stdout) == {"result": -2.5}
    assert json.loads(baton("eval", "--jsonata", "-4").stdout) == -4
    assert json.loads(baton("eval", "--jsonata", "-price", "--input", '{"price": 3}', "--json").stdout) == {"result": -3}


def test_syntax_errors_exit_1_in_both_query_languages():
    jsonpath = baton("eval", "$.a[", "--json", expect_rc=1)
    assert json.loads(jsonpath.stdout)["error"] == "INVALID_JSON_PATH"
    intrinsic = baton("eval", "States.Format('{}'", "--json", expect_rc=1)
    assert json.loads(intrinsic.stdout)["error"] == "INVALID_INTRINSIC_FUNCTION"
    jsonata = baton("eval", "--jsonata", "$sum(", "--json", expect_rc=1)
    assert json.loads(jsonata.stdout)["error"] == "S0207"
    # Without --json: the code and the message on stderr, nothing on stdout.
    plain = baton("eval", "$.a[", expect_rc=1)
    assert plain.stdout == "" and plain.stderr.startswith("INVALID_JSON_PATH: Invalid JSONPath '$.a['")
    # An evaluation that fails also exits 1; bad usage exits 2.
    baton("eval", "$.missing", expect_rc=1)
    baton("eval", "$.a", "--input", "{not json", expect_rc=2)


def test_a_json_argument_that_names_a_file_hints_at_the_at_sign(tmp_path):
    data = tmp_path / "order.json"
    data.write_text('{"total": 7}')
    wrong = baton("eval", "$.total", "--input", str(data), expect_rc=2)
    assert f"write --input @{data}" in wrong.stderr, wrong.stderr
    assert json.loads(baton("eval", "$.total", "--input", f"@{data}").stdout) == 7
    machine = tmp_path / "pass.json"
    machine.write_text(PASS_DEFINITION)
    wrong = baton("run", str(machine), "--input", "input.json", expect_rc=2)
    assert "write --input @input.json" in wrong.stderr, wrong.stderr


def test_run_prints_each_validation_problem_on_its_own_line_with_the_file(tmp_path):
    broken = tmp_path / "broken.asl.json"
    broken.write_text(definition({"A": {"Type": "Pass", "Next": "Nowhere"}, "B": {"Type": "Bogus"}}))
    ran = baton("run", str(broken), expect_rc=2)
    validated = baton("validate", str(broken), expect_rc=2)
    lines = ran.stderr.splitlines()
    assert len(lines) == 2, ran.stderr
    assert lines[0] == f"{broken}: MISSING_TRANSITION_TARGET: Missing 'Next' target: Nowhere at /States/A/Next"
    assert lines[1].startswith(f"{broken}: SCHEMA_VALIDATION_FAILED: ") and lines[1].endswith(" at /States/B/Type")
    assert ran.stderr == validated.stderr
    as_json = json.loads(baton("run", str(broken), "--json", expect_rc=2).stdout)
    assert as_json["error"] == "InvalidDefinition" and "MISSING_TRANSITION_TARGET" in as_json["cause"]


def test_logs_written_to_a_file_are_plain_text_and_start_with_the_useful_line(tmp_path):
    log_path = tmp_path / "serve.log"
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(baton_binary()), "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if k not in ("BATON_LOG", "NO_COLOR")},
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = log_path.read_text()
    assert "\x1b[" not in text, f"colour codes in a log file:\n{text!r}"
    assert "schema migrated" not in text, "migrations are logged at DEBUG"
    assert "serving the Step Functions API" in text.splitlines()[0], text
    # Debug output of `baton run` to a pipe: plain too.
    machine = tmp_path / "pass.json"
    machine.write_text(PASS_DEFINITION)
    ran = baton("run", str(machine), env={"BATON_LOG": "debug"})
    assert "history event" in ran.stderr and "\x1b[" not in ran.stderr, ran.stderr


def test_serve_help_names_both_stores():
    text = baton("serve", "--help").stdout
    assert "SQLite" in text and "PostgreSQL" in text, text


def wait_healthy(endpoint: str, timeout: float = 30.0) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(endpoint + "/health", timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_serve_refuses_a_trigger_on_a_console_path_before_listening(tmp_path):
    config = tmp_path / "baton.toml"
    config.write_text('[triggers.grab-inbox]\npath = "/inbox"\nmethod = "GET"\nstate_machine = "Any"\n')
    proc = subprocess.run(
        [str(baton_binary()), "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "data"),
         "--config", str(config)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode != 0, proc.stderr
    assert "grab-inbox" in proc.stderr and "/inbox" in proc.stderr and "serves itself" in proc.stderr, proc.stderr
    assert "listening on" not in proc.stderr and "panicked" not in proc.stderr, proc.stderr
