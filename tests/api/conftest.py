"""Fixtures: one `baton serve` for the whole session, and AWS clients pointed at it.

The server runs from a prebuilt binary (see `support.baton_binary`) on a free loopback port,
with a fresh `--data-dir` and a generated baton.toml, and is stopped when the session ends.
Tests that need other server flags start their own with `baton_server_factory`.

StartSyncExecution carries the `sync-` host prefix in the service model, so boto3 sends it to
`http://sync-127.0.0.1:PORT/`, which does not resolve. The `sfn_sync` client turns the prefix
off (`Config(inject_host_prefix=False)`); the CLI gets `AWS_DISABLE_HOST_PREFIX_INJECTION`.
"""

from __future__ import annotations

import itertools
import os
import re
import uuid

import pytest

import support

# Keep the developer's own AWS setup out of the way: dummy credentials, no profiles, no
# configured endpoint. The aws CLI runs in subprocesses and inherits this.
for _key in [k for k in os.environ if k.startswith("AWS_")]:
    del os.environ[_key]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": support.REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)

# The session server's GetActivityTask long poll: short enough that pollers left without work
# return quickly, long enough that a worker polling first still gets the task.
SESSION_ACTIVITY_POLL_MS = 2000


@pytest.fixture(scope="session")
def baton_server_factory(tmp_path_factory):
    started: list[support.BatonServer] = []

    def start(activity_poll_ms: int = SESSION_ACTIVITY_POLL_MS, env: dict | None = None) -> support.BatonServer:
        server = support.BatonServer(tmp_path_factory.mktemp("baton"), activity_poll_ms, env).start()
        started.append(server)
        return server

    yield start
    problems = []
    for server in started:
        if server.proc is not None and server.proc.poll() is not None:
            problems.append(f"baton serve on port {server.port} died during the tests")
        server.stop()
        log = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
        if "panicked at" in log:
            problems.append(f"baton serve on port {server.port} panicked")
        if problems:
            problems.append(f"its log ({server.log_path}):\n{server.log_tail(80)}")
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture(scope="session")
def server(baton_server_factory) -> support.BatonServer:
    return baton_server_factory()


@pytest.fixture(scope="session")
def sfn(server):
    return support.client(server.endpoint)


@pytest.fixture(scope="session")
def sfn_sync(server):
    """For StartSyncExecution: no `sync-` host prefix (see the module doc)."""
    return support.client(server.endpoint, inject_host_prefix=False)


_counter = itertools.count()


@pytest.fixture
def name(request):
    """Unique, valid AWS names derived from the test's name: name(), name("suffix")."""
    base = re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name.removeprefix("test_"))[:40]

    def make(suffix: str = "") -> str:
        n = f"{base}-{next(_counter)}-{uuid.uuid4().hex[:6]}"
        return f"{n}-{suffix}" if suffix else n

    return make


@pytest.fixture
def machine(sfn, name):
    """Create a state machine: machine(definition, type="STANDARD", **kwargs) -> ARN."""

    def create(definition: str = support.PASS_DEFINITION, type: str = "STANDARD", **kwargs) -> str:
        r = sfn.create_state_machine(
            name=kwargs.pop("name", None) or name(),
            definition=definition,
            roleArn=support.ROLE_ARN,
            type=type,
            **kwargs,
        )
        return r["stateMachineArn"]

    return create
