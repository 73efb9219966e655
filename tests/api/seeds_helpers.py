"""Helpers for the seed scenarios' end-to-end tests: start `baton serve` with an example's
baton.toml on a free loopback port, point boto3 at it, wait for executions.

Self-contained (it does not need conftest.py): the binary comes from `BATON_BIN`, or the
debug build under `$CARGO_TARGET_DIR` (then `target/`), and must be built already.
"""

from __future__ import annotations

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
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/baton-seeds"


def baton_binary() -> Path:
    explicit = os.environ.get("BATON_BIN")
    candidates = [Path(explicit)] if explicit else []
    if not explicit:
        if os.environ.get("CARGO_TARGET_DIR"):
            candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "baton")
        candidates.append(REPO / "target" / "debug" / "baton")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    pytest.exit("no baton binary at " + ", ".join(map(str, candidates)) + ": run `cargo build -p baton` first", returncode=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dummy_aws_env() -> dict[str, str]:
    """This process's environment with the developer's AWS setup replaced by dummies."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    # Functions run with the python3 first on PATH: make it this one, which has boto3.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


class Baton:
    """A `baton serve` with a configuration, on a free port, with its own data folder."""

    def __init__(self, config: Path, extra_args: list[str] | None = None, env: dict[str, str] | None = None,
                 data: Path | None = None):
        """`data`: the data folder to serve, kept afterwards (by default a new one, removed)."""
        self.config = config
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="baton-seed-"))
        self.given_data = data
        self.log_path = self.data_dir / "baton.log"
        self.extra_args = extra_args or []
        self.env = {**dummy_aws_env(), **(env or {})}
        self.process: subprocess.Popen | None = None

    @property
    def data(self) -> Path:
        """The data folder served: the one given, else `data` under `data_dir` (which a test
        may point at another server's, to restart on its store)."""
        return self.given_data or self.data_dir / "data"

    def __enter__(self) -> "Baton":
        args = [str(baton_binary()), "serve", "--port", str(self.port), "--data-dir", str(self.data),
                "--config", str(self.config), *self.extra_args]
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=self.env,
                                        start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"baton serve exited with {self.process.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/health", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("baton serve did not answer /health within 20 s:\n" + self.logs())

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if hasattr(self, "log"):
            self.log.close()
        if exc and exc[0] is not None:
            print("---- baton serve log ----\n" + self.logs())
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def client(self, service: str = "stepfunctions"):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, read_timeout=70),
        )

    def create_machine(self, name: str, definition_file: Path) -> str:
        r = self.client().create_state_machine(name=name, definition=definition_file.read_text(), roleArn=ROLE_ARN)
        return r["stateMachineArn"]

    def http(self, method: str, path: str, body: object | None = None) -> tuple[int, str]:
        """A plain HTTP request to the server (a trigger); returns status and body text."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def wait_for_status(sfn, execution_arn: str, statuses=("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"), timeout=30.0):
    """Poll DescribeExecution until the status is one of `statuses`; return the description."""
    deadline = time.monotonic() + timeout
    while True:
        d = sfn.describe_execution(executionArn=execution_arn)
        if d["status"] in statuses:
            return d
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_arn} is still {d['status']} after {timeout} s")
        time.sleep(0.05)


def history_types(sfn, execution_arn: str) -> list[str]:
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [e["type"] for e in events]


def wait_for_state(sfn, execution_arn: str, event_type: str, timeout=30.0) -> dict:
    """Wait until the history has an event of `event_type`; return it."""
    deadline = time.monotonic() + timeout
    while True:
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        for e in events:
            if e["type"] == event_type:
                return e
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event_type} in the history of {execution_arn} after {timeout} s: "
                                 f"{[e['type'] for e in events]}")
        time.sleep(0.05)


class Inbox:
    """An SMTP server's mailbox: what aiosmtpd received, as (recipients, raw message)."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 30.0) -> list:
        """Wait until `count` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} emails arrived in {timeout} s, expected {count}")
            time.sleep(0.05)
        return list(self.messages)


def start_smtp(port: int | None = None):
    """A real SMTP server (aiosmtpd) on loopback; returns (controller, inbox). Stop the
    controller when done."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    return controller, inbox


def mail_text(raw: str) -> str:
    """The text of an email (its first text/plain part), decoded."""
    import email
    import email.policy

    msg = email.message_from_string(raw, policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
    return part.get_content()


def mail_subject(raw: str) -> str:
    import email
    import email.policy

    return email.message_from_string(raw, policy=email.policy.default)["Subject"]
