"""Functions, the HTTP Task and triggers through `baton serve`: failures reach Retry and Catch
with AWS's names and nothing hangs; trigger routes start executions and call functions."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from seeds_helpers import Baton, wait_for_status

HANDLERS = '''import time

def slow(event, context):
    time.sleep(30)

def echo(request, context):
    return {"method": request["httpMethod"], "query": request["queryStringParameters"], "body": request["body"]}

def broken(request, context):
    raise RuntimeError("no database")

class PaymentDeclined(Exception):
    pass

def declines(event, context):
    raise PaymentDeclined("card declined")
'''

CONFIG = '''
[functions.slow]
runtime = "python3"
handler = "handlers.slow"
timeout_seconds = 1

[functions.echo]
runtime = "python3"
handler = "handlers.echo"

[functions.broken]
runtime = "python3"
handler = "handlers.broken"

[functions.declines]
runtime = "python3"
handler = "handlers.declines"

[triggers.start-by-get]
path = "/start"
method = "GET"
state_machine = "Echo"

[triggers.start-by-post]
path = "/start"
method = "POST"
state_machine = "Echo"

[triggers.echo]
path = "/echo"
method = "PUT"
function = "echo"

[triggers.broken]
path = "/broken"
function = "broken"
'''


class Backend(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        status = 500 if self.path.startswith("/fail") else 200
        body = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def backend():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def baton(tmp_path_factory):
    folder = tmp_path_factory.mktemp("functions")
    (folder / "handlers.py").write_text(HANDLERS)
    (folder / "baton.toml").write_text(CONFIG)
    with Baton(folder / "baton.toml") as b:
        b.client().create_state_machine(
            name="Echo", roleArn="arn:aws:iam::123456789012:role/r",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
        yield b


def run(baton, state: dict, execution_input=None):
    sfn = baton.client()
    states = {"Call": state}
    if "Catch" in state:
        states["Caught"] = {"Type": "Pass", "End": True}
    definition = {"StartAt": "Call", "States": states}
    name = f"m-{time.monotonic_ns()}"
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                   roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(execution_input or {}))["executionArn"]
    return sfn, execution


def test_a_function_timeout_is_retried_and_caught(baton):
    started = time.monotonic()
    sfn, arn = run(baton, {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow",
        "Retry": [{"ErrorEquals": ["Sandbox.Timedout"], "IntervalSeconds": 1, "MaxAttempts": 1}],
        "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}], "End": True,
    })
    d = wait_for_status(sfn, arn, timeout=30)
    assert d["status"] == "SUCCEEDED", baton.logs()
    assert json.loads(d["output"])["Error"] == "Sandbox.Timedout"
    types = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    assert types.count("LambdaFunctionFailed") == 2
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("resource", ["arn:aws:lambda:us-east-1:123456789012:function:declines",
                                      "arn:aws:states:::lambda:invoke"])
def test_a_function_that_raises_fails_with_the_exception_type_for_retry_and_catch(baton, resource):
    state = {"Type": "Task", "Resource": resource,
             "Retry": [{"ErrorEquals": ["PaymentDeclined"], "IntervalSeconds": 1, "MaxAttempts": 1}],
             "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}], "End": True}
    if resource.endswith("lambda:invoke"):
        state["Parameters"] = {"FunctionName": "declines", "Payload": {"amount": 5}}
    sfn, arn = run(baton, state)
    d = wait_for_status(sfn, arn)
    assert d["status"] == "SUCCEEDED", baton.logs()
    caught = json.loads(d["output"])
    assert caught["Error"] == "PaymentDeclined"
    cause = json.loads(caught["Cause"])
    assert (cause["errorType"], cause["errorMessage"]) == ("PaymentDeclined", "card declined")
    types = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    failed = "TaskFailed" if resource.endswith("lambda:invoke") else "LambdaFunctionFailed"
    assert types.count(failed) == 2, "retried once, then caught"


def test_an_http_task_whose_connection_is_refused_fails_with_states_http_socket(baton):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sfn, arn = run(baton, {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {"ApiEndpoint": f"http://127.0.0.1:{port}/pay", "Method": "POST", "RequestBody": {"a": 1}},
        "Retry": [{"ErrorEquals": ["States.Http.Socket"], "IntervalSeconds": 1, "MaxAttempts": 1}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True,
    })
    d = wait_for_status(sfn, arn)
    assert d["status"] == "SUCCEEDED", baton.logs()
    assert json.loads(d["output"])["Error"] == "States.Http.Socket"
    types = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    assert types.count("TaskFailed") == 2, "retried once, then caught"


def test_http_task_results_and_errors(baton, backend):
    sfn, arn = run(baton, {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {"ApiEndpoint": f"{backend}/ok", "Method": "GET", "QueryParameters": {"q": "1"}},
        "End": True,
    })
    out = json.loads(wait_for_status(sfn, arn)["output"])
    assert (out["StatusCode"], out["StatusText"], out["ResponseBody"]) == (200, "OK", {"path": "/ok?q=1"})
    sfn, arn = run(baton, {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {"ApiEndpoint": f"{backend}/fail", "Method": "GET"},
        "Retry": [{"ErrorEquals": ["States.Http.StatusCode.500"], "IntervalSeconds": 1, "MaxAttempts": 1}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True,
    })
    d = wait_for_status(sfn, arn)
    assert json.loads(d["output"]) == {"Error": "States.Http.StatusCode.500", "Cause": "Internal Server Error"}


def test_state_machine_triggers_start_executions(baton):
    sfn = baton.client()
    status, body = baton.http("GET", "/start?customer=42")
    assert status == 200, body
    d = wait_for_status(sfn, json.loads(body)["executionArn"])
    assert json.loads(d["output"]) == {"customer": "42"}
    status, body = baton.http("POST", "/start", {"order": [1, 2]})
    assert status == 200, body
    assert json.loads(wait_for_status(sfn, json.loads(body)["executionArn"])["output"]) == {"order": [1, 2]}
    status, body = baton.http("POST", "/start", b"not json")
    assert status == 400 and "InvalidExecutionInput" in body


def test_function_triggers_answer_with_the_function(baton):
    status, body = baton.http("PUT", "/echo?x=1", {"a": 1})
    assert status == 200, body
    assert json.loads(body) == {"method": "PUT", "query": {"x": "1"}, "body": '{"a": 1}'}
    status, body = baton.http("POST", "/broken", {})
    assert status == 502
    assert json.loads(body)["errorType"] == "RuntimeError"
    status, _ = baton.http("DELETE", "/echo")
    assert status == 405
