"""Helpers the API tests share: starting `baton serve`, AWS clients, waiting on executions.

Nothing here builds Baton: the binary comes from `BATON_BIN`, or the debug build under
`$CARGO_TARGET_DIR` (then `target/`), and must exist already (`scripts/test.sh` builds it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/baton-api-tests"
SM_PREFIX = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:"
EXEC_PREFIX = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:"
ACTIVITY_PREFIX = f"arn:aws:states:{REGION}:{ACCOUNT}:activity:"

# How often the helpers look again while waiting for something to happen.
POLL = 0.05


def baton_binary() -> Path:
    """The `baton` binary under test; fails loudly when it has not been built."""
    explicit = os.environ.get("BATON_BIN")
    if explicit:
        candidates = [Path(explicit)]
    else:
        candidates = []
        if os.environ.get("CARGO_TARGET_DIR"):
            candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "baton")
        candidates.append(REPO / "target" / "debug" / "baton")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    pytest.exit(
        "no baton binary at "
        + ", ".join(str(c) for c in candidates)
        + ": build it first (`cargo build -p baton`) or set BATON_BIN",
        returncode=2,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# With "stall" (a folder): the first call answers, writes `answered` there and then waits
# for a `release` file (the test kills the server meanwhile); a call made again finds
# `answered`, leaves the token alone and returns at once.
ANSWERS_FIRST = """
import json, os, sys, time, boto3
event = json.load(sys.stdin)
stall = event.get("stall")
again = bool(stall) and os.path.exists(os.path.join(stall, "answered"))
sfn = boto3.client("stepfunctions")
if again:
    pass
elif event.get("succeed"):
    sfn.send_task_success(taskToken=event["token"], output=json.dumps({"answered": "first"}))
else:
    sfn.send_task_failure(taskToken=event["token"], error="Worker.Refused", cause="answered first")
if stall and not again:
    open(os.path.join(stall, "answered"), "w").close()
    for _ in range(600):
        if os.path.exists(os.path.join(stall, "release")):
            break
        time.sleep(0.1)
print(json.dumps({"handedOut": "again" if again else True}))
"""

# Functions the generated baton.toml offers to Tasks: local commands, JSON in and JSON out.
FUNCTIONS = {
    # The callback pattern's "send the token somewhere" step: accepts anything, answers {}.
    "empty": [sys.executable, "-c", "print('{}')"],
    # Returns its input.
    "echo": [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read())"],
    # Like "empty", but takes half a second: time to answer the token before the call returns.
    "slow": [sys.executable, "-c", "import time; time.sleep(0.5); print('{}')"],
    # Answers its own token (SendTaskFailure, or SendTaskSuccess when the payload asks for
    # it) on the server, and returns only once that answer is accepted: the callback is
    # queued while the call that handed the token out is still in flight.
    "answers_first": [sys.executable, "-c", ANSWERS_FIRST],
    # Fails every time.
    "boom": [sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"],
}


def _toml_string(s: str) -> str:
    # TOML basic strings take JSON's escapes.
    return json.dumps(s)


def write_config(path: Path) -> None:
    lines = []
    for name, command in FUNCTIONS.items():
        lines.append(f"[functions.{name}]")
        lines.append("command = [" + ", ".join(_toml_string(a) for a in command) + "]")
        lines.append("")
    path.write_text("\n".join(lines))


class BatonServer:
    """One `baton serve` process on a free loopback port with its own data folder."""

    def __init__(self, workdir: Path, activity_poll_ms: int, env: dict[str, str] | None = None):
        self.workdir = workdir
        # Extra environment for the server process (e.g. SFN_MOCK_CONFIG).
        self.env = dict(env or {})
        self.data_dir = workdir / "data"
        self.config = workdir / "baton.toml"
        self.log_path = workdir / "baton.log"
        self.activity_poll_ms = activity_poll_ms
        self.proc: subprocess.Popen | None = None
        self.port = 0
        write_config(self.config)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "BatonServer":
        binary = baton_binary()
        last_error = ""
        # A port found free can be taken before the server binds it: try a few.
        for _ in range(3):
            self.port = _free_port()
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [
                    str(binary),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    "--config",
                    str(self.config),
                    "--activity-poll-ms",
                    str(self.activity_poll_ms),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            )
            log.close()
            try:
                self._wait_healthy(timeout=30)
                return self
            except RuntimeError as e:
                last_error = str(e)
                self.stop()
        raise RuntimeError(f"baton serve did not start: {last_error}")

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"baton serve exited early; its log:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/health", timeout=1) as r:
                    if r.status == 200 and json.load(r).get("status") == "ok":
                        return
            except OSError:
                pass
            time.sleep(POLL)
        raise RuntimeError(f"GET /health did not answer within {timeout} s; log:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        # Ctrl-C is the graceful shutdown `baton serve` listens for.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def crash_and_restart(self) -> "BatonServer":
        """SIGKILL the server (no graceful shutdown) and start it again on the same data."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=5)
        self.proc = None
        return self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def client(endpoint: str, **config) -> "boto3.client":
    """A Step Functions client on `endpoint` with dummy credentials and no retries, so every
    error the server returns reaches the test as it was sent."""
    session = boto3.session.Session(
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name=REGION,
    )
    cfg = Config(
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        # GetActivityTask long-polls; stay above the longest poll the tests configure.
        read_timeout=70,
        **config,
    )
    return session.client("stepfunctions", endpoint_url=endpoint, config=cfg)


# ----- assertions on errors ----------------------------------------------------------------


@contextlib.contextmanager
def raises(code: str, message: str | None = None, status: int | None = None):
    """Expect a ClientError with this AWS error code (and message substring, HTTP status)."""
    with pytest.raises(ClientError) as info:
        yield info
    err = info.value.response["Error"]
    assert err["Code"] == code, f"expected {code}, got {err['Code']}: {err.get('Message')}"
    if message is not None:
        assert message in err.get("Message", ""), f"{message!r} not in {err.get('Message')!r}"
    if status is not None:
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


# ----- executions --------------------------------------------------------------------------


def wait_done(sfn, execution_arn: str, timeout: float = 10.0) -> dict:
    """DescribeExecution, polled until the execution is no longer RUNNING."""
    deadline = time.monotonic() + timeout
    while True:
        d = sfn.describe_execution(executionArn=execution_arn)
        if d["status"] != "RUNNING":
            return d
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_arn} still RUNNING after {timeout} s")
        time.sleep(POLL)


def history(sfn, execution_arn: str, **kwargs) -> list[dict]:
    """Every history event, through as many pages as it takes."""
    events: list[dict] = []
    token = None
    while True:
        page = sfn.get_execution_history(
            executionArn=execution_arn, **kwargs, **({"nextToken": token} if token else {})
        )
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def wait_event(sfn, execution_arn: str, event_type: str, timeout: float = 10.0, count: int = 1) -> dict:
    """Poll the history until it holds `count` events of `event_type`; return the last one."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in history(sfn, execution_arn) if e["type"] == event_type]
        if len(found) >= count:
            return found[count - 1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event_type} #{count} in {execution_arn} after {timeout} s")
        time.sleep(POLL)


def callback_token(sfn, execution_arn: str, count: int = 1, timeout: float = 10.0) -> str:
    """The task token of the `count`-th callback Task, read back from the `parameters` its
    TaskScheduled event recorded (the definitions put `$$.Task.Token` at Payload.token)."""
    ev = wait_event(sfn, execution_arn, "TaskSubmitted", timeout=timeout, count=count)
    scheduled = [e for e in history(sfn, execution_arn) if e["type"] == "TaskScheduled"]
    params = json.loads(scheduled[count - 1]["taskScheduledEventDetails"]["parameters"])
    assert ev["id"] > scheduled[count - 1]["id"]
    return params["Payload"]["token"]


def definition(states: dict, start: str | None = None, **top) -> str:
    return json.dumps({"StartAt": start or next(iter(states)), "States": states, **top})


PASS_DEFINITION = definition({"P": {"Type": "Pass", "End": True}})


def callback_state(function: str = "empty", **fields) -> dict:
    """A Task that calls a function with the task token and waits for the callback."""
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": function, "Payload": {"token.$": "$$.Task.Token", "input.$": "$"}},
    }
    state.update(fields)
    if "Next" not in state:
        state.setdefault("End", True)
    return state
