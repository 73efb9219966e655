"""The awsJson1_0 wire format as raw HTTP shows it, beneath what SDKs smooth over: error
`__type` namespaces, content types, timestamps; and the `/health` and `/metrics` endpoints."""

from __future__ import annotations

import email.message
import json
import re
import urllib.error
import urllib.request

from support import EXEC_PREFIX, PASS_DEFINITION, ROLE_ARN, wait_done

CONTENT_TYPE = "application/x-amz-json-1.0"


def post(endpoint: str, target: str, body, *, raw: bytes | None = None) -> tuple[int, "email.message.Message", dict]:
    req = urllib.request.Request(
        endpoint + "/",
        data=raw if raw is not None else json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": target},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"{}")


def test_errors_carry_aws_namespaced_types(server):
    missing = EXEC_PREFIX + "m:missing"
    status, headers, body = post(server.endpoint, "AWSStepFunctions.DescribeExecution", {"executionArn": missing})
    assert status == 400
    assert headers["Content-Type"] == CONTENT_TYPE
    assert body == {
        "__type": "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist",
        "message": f"Execution Does Not Exist: '{missing}'",
    }

    status, _, body = post(server.endpoint, "AWSStepFunctions.ListStateMachines", {"maxResults": 1001})
    assert status == 400
    assert body["__type"] == "com.amazon.coral.validate#ValidationException"
    # The Rust SDK cuts __type at ':'; AWS never puts one there.
    assert ":" not in body["__type"]


def test_missing_required_field_is_a_validation_error(server):
    status, _, body = post(server.endpoint, "AWSStepFunctions.DescribeExecution", {})
    assert status == 400
    assert body["__type"].endswith("#ValidationException")
    assert "executionArn" in body["message"]


def test_unknown_operation_and_bad_bodies(server):
    status, _, body = post(server.endpoint, "AWSStepFunctions.DoSomethingElse", {})
    assert status == 400
    assert body["__type"].endswith("#UnknownOperationException")
    status, _, body = post(server.endpoint, "SomethingElse.ListStateMachines", {})
    assert status == 400
    assert body["__type"].endswith("#UnknownOperationException")
    status, _, body = post(server.endpoint, "AWSStepFunctions.ListStateMachines", None, raw=b"{nope")
    assert status == 400
    assert body["__type"].endswith("#SerializationException")


def test_success_answers_with_epoch_second_timestamps(server, name):
    status, headers, body = post(
        server.endpoint,
        "AWSStepFunctions.CreateStateMachine",
        {"name": name(), "definition": PASS_DEFINITION, "roleArn": ROLE_ARN},
    )
    assert status == 200
    assert headers["Content-Type"] == CONTENT_TYPE
    assert isinstance(body["creationDate"], (int, float)) and not isinstance(body["creationDate"], bool)
    assert 1.5e9 < body["creationDate"] < 1e10  # seconds, not milliseconds


def test_health(server):
    with urllib.request.urlopen(server.endpoint + "/health", timeout=5) as r:
        assert r.status == 200
        assert json.load(r) == {"status": "ok"}


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def test_metrics_count_what_happens(server, sfn, machine):
    def scrape() -> str:
        with urllib.request.urlopen(server.endpoint + "/metrics", timeout=5) as r:
            assert r.status == 200
            return r.read().decode()

    before = scrape()
    assert "# TYPE baton_executions_started_total counter" in before
    arn = sfn.start_execution(stateMachineArn=machine())["executionArn"]
    wait_done(sfn, arn)
    after = scrape()
    assert metric(after, "baton_executions_started_total") == metric(before, "baton_executions_started_total") + 1
    assert metric(after, "baton_state_transitions_total") > metric(before, "baton_state_transitions_total")
    assert 'baton_request_duration_seconds_count{action="StartExecution"}' in after
