"""TestState through boto3: one state run on its own, as a user tests a state before putting
it in a machine (inspection levels, Choice, mocked Tasks through Retry and Catch, a state of a
whole machine, variables and context, a real function call, AWS's validation errors)."""

from __future__ import annotations

import json

import pytest

from support import raises

ROLE = "arn:aws:iam::123456789012:role/test-state"


@pytest.fixture
def sfn(sfn_sync):
    """TestState carries the `sync-` host prefix in the service model, as StartSyncExecution."""
    return sfn_sync


def run(sfn, state: dict, input: dict | None = None, **kwargs) -> dict:
    response = sfn.test_state(definition=json.dumps(state), roleArn=ROLE, input=json.dumps(input or {}), **kwargs)
    response.pop("ResponseMetadata", None)
    return response


def data(response: dict) -> dict:
    """inspectionData with its JSON text members parsed."""
    out = {}
    for k, v in response.get("inspectionData", {}).items():
        out[k] = json.loads(v) if isinstance(v, str) else v
    return out


PASS = {
    "Type": "Pass",
    "InputPath": "$.order",
    "Parameters": {"id.$": "$.id", "source": "web"},
    "ResultPath": "$.shaped",
    "End": True,
}


def test_pass_state_at_info_gives_output_and_status_only(sfn):
    r = run(sfn, PASS, {"order": {"id": 7}}, inspectionLevel="INFO")
    assert r["status"] == "SUCCEEDED"
    assert json.loads(r["output"]) == {"order": {"id": 7}, "shaped": {"id": 7, "source": "web"}}
    assert "inspectionData" not in r and "nextState" not in r


def test_pass_state_at_debug_shows_each_processing_stage(sfn):
    r = run(sfn, PASS, {"order": {"id": 7}}, inspectionLevel="DEBUG")
    assert data(r) == {
        "input": {"order": {"id": 7}},
        "afterInputPath": {"id": 7},
        "afterParameters": {"id": 7, "source": "web"},
        "afterResultSelector": {"id": 7, "source": "web"},
        "afterResultPath": {"order": {"id": 7}, "shaped": {"id": 7, "source": "web"}},
    }


def test_choice_state_names_the_next_state(sfn):
    choice = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.total", "NumericGreaterThan": 100, "Next": "AskForApproval"}],
        "Default": "Approve",
    }
    assert run(sfn, choice, {"total": 250})["nextState"] == "AskForApproval"
    r = run(sfn, choice, {"total": 5}, inspectionLevel="DEBUG")
    assert (r["status"], r["nextState"]) == ("SUCCEEDED", "Approve")
    assert data(r) == {"input": {"total": 5}, "afterInputPath": {"total": 5}}


TASK = {
    "Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
    "ResultSelector": {"charged.$": "$.Payload.ok"},
    "Retry": [{"ErrorEquals": ["Card.Declined"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 2}],
    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Refund"}],
    "Next": "Ship",
}


def test_task_with_a_mocked_result_runs_the_result_through_its_stages(sfn):
    mock = {"result": json.dumps({"StatusCode": 200, "Payload": {"ok": True}})}
    r = run(sfn, TASK, {"amount": 3}, inspectionLevel="DEBUG", mock=mock)
    assert (r["status"], r["nextState"]) == ("SUCCEEDED", "Ship")
    assert json.loads(r["output"]) == {"charged": True}
    d = data(r)
    assert d["afterParameters"] == {"FunctionName": "charge", "Payload": {"amount": 3}}
    assert d["result"] == {"StatusCode": 200, "Payload": {"ok": True}}
    assert d["afterResultSelector"] == {"charged": True}


def test_a_mocked_error_a_retrier_handles_is_retriable_with_its_backoff(sfn):
    mock = {"errorOutput": {"error": "Card.Declined", "cause": "insufficient funds"}}
    r = run(sfn, TASK, {"amount": 3}, inspectionLevel="DEBUG", mock=mock)
    assert (r["status"], r["error"], r["cause"]) == ("RETRIABLE", "Card.Declined", "insufficient funds")
    assert r["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 2}
    # The second retry waits IntervalSeconds x BackoffRate.
    r = run(sfn, TASK, {}, inspectionLevel="DEBUG", mock=mock, stateConfiguration={"retrierRetryCount": 1})
    assert r["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 6}


def test_once_retries_are_spent_the_catcher_takes_the_error(sfn):
    mock = {"errorOutput": {"error": "Card.Declined", "cause": "insufficient funds"}}
    r = run(sfn, TASK, {"amount": 3}, inspectionLevel="DEBUG", mock=mock, stateConfiguration={"retrierRetryCount": 2})
    assert (r["status"], r["nextState"], r["error"]) == ("CAUGHT_ERROR", "Refund", "Card.Declined")
    assert json.loads(r["output"]) == {"amount": 3, "error": {"Error": "Card.Declined", "Cause": "insufficient funds"}}
    assert r["inspectionData"]["errorDetails"] == {"catchIndex": 0}


def test_an_error_no_retrier_or_catcher_handles_fails_the_state(sfn):
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {}, "End": True,
             "QueryLanguage": "JSONata"}
    r = run(sfn, state, {}, mock={"errorOutput": {"error": "Boom", "cause": "it broke"}})
    assert (r["status"], r["error"], r["cause"]) == ("FAILED", "Boom", "it broke")
    assert "output" not in r


def test_a_state_of_a_whole_machine_by_state_name(sfn):
    machine = {
        "StartAt": "Validate",
        "States": {
            "Validate": {"Type": "Pass", "Result": {"valid": True}, "ResultPath": "$.check", "Next": "Store"},
            "Store": {"Type": "Fail", "Error": "NotHere", "Cause": "not tested"},
        },
    }
    r = run(sfn, machine, {"n": 1}, stateName="Validate")
    assert (r["status"], r["nextState"]) == ("SUCCEEDED", "Store")
    assert json.loads(r["output"]) == {"n": 1, "check": {"valid": True}}
    r = run(sfn, machine, {"n": 1}, stateName="Store")
    assert (r["status"], r["error"], r["cause"]) == ("FAILED", "NotHere", "not tested")


def test_variables_and_context_are_what_the_state_sees(sfn):
    state = {
        "Type": "Pass",
        "QueryLanguage": "JSONata",
        "Output": {
            "total": "{% $states.input.n * $rate %}",
            "execution": "{% $states.context.Execution.Name %}",
            "state": "{% $states.context.State.Name %}",
        },
        "Assign": {"seen": "{% $states.input.n %}"},
        "End": True,
    }
    r = run(sfn, state, {"n": 4}, inspectionLevel="DEBUG", variables=json.dumps({"rate": 10}))
    output = json.loads(r["output"])
    assert (output["total"], output["state"]) == (40, "StateName")
    assert output["execution"], "the state runs in an execution of its own"
    assert data(r)["variables"] == {"rate": 10, "seen": 4}
    # A context given is the whole context object the state sees.
    context = {"Execution": {"Name": "nightly-run"}, "State": {"Name": "Charge"}}
    r = run(sfn, state, {"n": 4}, variables=json.dumps({"rate": 10}), context=json.dumps(context))
    assert json.loads(r["output"]) == {"total": 40, "execution": "nightly-run", "state": "Charge"}


def test_a_task_without_a_mock_calls_the_configured_function(sfn):
    state = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo", "End": True}
    r = run(sfn, state, {"hello": "world"}, inspectionLevel="DEBUG")
    assert r["status"] == "SUCCEEDED", r
    assert json.loads(r["output"]) == {"hello": "world"}
    assert data(r)["result"] == {"hello": "world"}
    failing = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:boom", "End": True}
    r = run(sfn, failing, {})
    assert r["status"] == "FAILED" and r["error"]


def test_a_mocked_map_result_and_its_tolerated_failures(sfn):
    state = {
        "Type": "Map",
        "QueryLanguage": "JSONata",
        "Items": "{% $states.input.items %}",
        "ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}},
        "ToleratedFailureCount": 1,
        "Catch": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "TooManyFailed"}],
        "End": True,
    }
    mock = {"result": json.dumps([1, 2, 3])}
    r = run(sfn, state, {"items": [1, 2, 3]}, inspectionLevel="DEBUG", mock=mock)
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", [1, 2, 3])
    assert r["inspectionData"]["toleratedFailureCount"] == 1
    r = run(sfn, state, {"items": [1, 2, 3]}, mock=mock, stateConfiguration={"mapIterationFailureCount": 2})
    assert (r["status"], r["nextState"]) == ("CAUGHT_ERROR", "TooManyFailed")
    assert r["error"] == "States.ExceedToleratedFailureThreshold"


def test_a_mocked_result_is_checked_against_the_service_response(sfn):
    state = {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution", "Parameters": {}, "End": True}
    with raises("ValidationException", "StartDate"):
        run(sfn, state, {}, mock={"result": json.dumps({"ExecutionArn": "arn", "StartDate": True})})
    r = run(sfn, state, {}, mock={"result": json.dumps({"StartDate": True}), "fieldValidationMode": "NONE"})
    assert r["status"] == "SUCCEEDED"


def test_invalid_requests_get_aws_errors(sfn):
    with raises("InvalidDefinition"):
        run(sfn, {"Type": "Pass"})
    with raises("InvalidDefinition"):
        sfn.test_state(definition="{not json", roleArn=ROLE)
    machine = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    with raises("ValidationException", "Missing"):
        run(sfn, machine, stateName="Missing")
    with raises("ValidationException"):
        run(sfn, {"Type": "Pass", "End": True}, mock={"result": "{}"})
    with raises("ValidationException", "not both"):
        run(sfn, TASK, mock={"result": "{}", "errorOutput": {"error": "E"}})
    error = {"errorOutput": {"error": "Card.Declined"}}
    with raises("ValidationException", "retrierRetryCount"):
        run(sfn, TASK, mock=error, stateConfiguration={"retrierRetryCount": 30000})
    no_retry = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {}, "End": True}
    with raises("ValidationException", "Retry"):
        run(sfn, no_retry, mock=error, stateConfiguration={"retrierRetryCount": 1})
    with raises("ValidationException", "inspectionLevel"):
        run(sfn, PASS, inspectionLevel="LOUD")
    with raises("ValidationException"):
        run(sfn, {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                  "Parameters": {}, "End": True})


@pytest.fixture
def http_peer():
    """A small HTTP service on loopback: GET /stock answers JSON, anything else 404."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/stock"):
                body = json.dumps({"sku": "A1", "left": 3}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
            else:
                body = b"no such thing"
                self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_http_task_really_calls_and_trace_shows_the_exchange(sfn, http_peer):
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {
            "ApiEndpoint": f"{http_peer}/stock",
            "Method": "GET",
            "QueryParameters": {"sku": "A1"},
            "Headers": {"X-Trace": "on"},
        },
        "ResultSelector": {"left.$": "$.ResponseBody.left"},
        "End": True,
    }
    r = run(sfn, state, {}, inspectionLevel="TRACE")
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", {"left": 3})
    request, response = r["inspectionData"]["request"], r["inspectionData"]["response"]
    assert (request["method"], request["url"]) == ("GET", f"{http_peer}/stock?sku=A1")
    assert "X-Trace: on" in request["headers"]
    assert (response["statusCode"], response["statusMessage"]) == ("200", "OK")
    assert json.loads(response["body"]) == {"sku": "A1", "left": 3}
    # DEBUG shows no exchange.
    assert "request" not in run(sfn, state, {}, inspectionLevel="DEBUG")["inspectionData"]

    state["Parameters"]["ApiEndpoint"] = f"{http_peer}/missing"
    r = run(sfn, state, {}, inspectionLevel="TRACE")
    assert (r["status"], r["error"]) == ("FAILED", "States.Http.StatusCode.404")
    assert r["inspectionData"]["response"]["statusCode"] == "404"
