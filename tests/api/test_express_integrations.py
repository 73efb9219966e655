"""Express executions reach every integration a Standard one does: one machine whose Tasks
send to a built-in queue (`sqs:sendMessage`), publish to a configured topic (`sns:publish`),
start a Standard execution (`states:startExecution`, fire-and-forget), call a function and an
HTTP endpoint (a real HTTP server in this test), and write to the built-in S3; started with
StartSyncExecution and with StartExecution, as boto3 would. The effects are read back with
boto3 (SQS, S3, Step Functions).
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time

import boto3
import pytest
from botocore.config import Config

from seeds_helpers import ROLE_ARN, Baton, dummy_aws_env, wait_for_status

import support


class Backend(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = json.dumps({"paid": json.loads(body)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def write_config(path):
    """A function, two queues and a topic delivering to one of them."""
    echo = [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read())"]
    path.write_text(f"""
[functions.echo]
command = {json.dumps(echo)}

[queues.orders]
[queues.alerts-inbox]

[topics.alerts]
subscriptions = [{{ protocol = "sqs", endpoint = "alerts-inbox" }}]
""")
    return path


@pytest.fixture(scope="module")
def backend():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def world(tmp_path_factory, backend):
    config = write_config(tmp_path_factory.mktemp("express") / "baton.toml")
    with Baton(config) as baton:
        yield baton, backend


def client(baton, service, **config):
    return boto3.client(service, endpoint_url=baton.endpoint, region_name=support.REGION,
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}, **config))


def every_integration(backend: str, child_arn: str, queue_url: str, bucket: str) -> str:
    return json.dumps({
        "StartAt": "Send",
        "States": {
            "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                     "Parameters": {"QueueUrl": queue_url, "MessageBody.$": "$.order"},
                     "ResultSelector": {"MessageId.$": "$.MessageId"}, "ResultPath": "$.sent", "Next": "Publish"},
            "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                        "Parameters": {"TopicArn": f"arn:aws:sns:{support.REGION}:123456789012:alerts",
                                       "Message.$": "$.order"},
                        "ResultSelector": {"MessageId.$": "$.MessageId"}, "ResultPath": "$.published",
                        "Next": "Child"},
            "Child": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                      "Parameters": {"StateMachineArn": child_arn, "Input.$": "$.order"},
                      "ResultSelector": {"ExecutionArn.$": "$.ExecutionArn"}, "ResultPath": "$.child",
                      "Next": "Function"},
            "Function": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo",
                         "Parameters": {"echoed.$": "$.order"}, "ResultPath": "$.function", "Next": "Http"},
            "Http": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                     "Parameters": {"ApiEndpoint": f"{backend}/pay", "Method": "POST", "RequestBody.$": "$.order"},
                     "ResultSelector": {"StatusCode.$": "$.StatusCode", "ResponseBody.$": "$.ResponseBody"},
                     "ResultPath": "$.http", "Next": "Store"},
            "Store": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                      "Parameters": {"Bucket": bucket, "Key.$": "States.Format('{}.json', $.order.id)",
                                     "Body.$": "$.order"},
                      "ResultSelector": {"ETag.$": "$.ETag"}, "ResultPath": "$.stored", "End": True},
        },
    })


def receive_all(sqs, url: str, count: int, timeout: float = 15) -> list[str]:
    bodies: list[str] = []
    deadline = time.monotonic() + timeout
    while len(bodies) < count and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def test_express_executions_reach_every_integration_sync_and_async(world):
    baton, backend = world
    sfn = client(baton, "stepfunctions")
    sfn_sync = client(baton, "stepfunctions", inject_host_prefix=False)
    sqs, s3 = client(baton, "sqs"), client(baton, "s3", s3={"addressing_style": "path"})
    s3.create_bucket(Bucket="express-orders")
    orders = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    alerts = sqs.get_queue_url(QueueName="alerts-inbox")["QueueUrl"]
    child = sfn.create_state_machine(name="express-child", roleArn=ROLE_ARN,
                                     definition=support.PASS_DEFINITION)["stateMachineArn"]
    arn = sfn.create_state_machine(name="express-everything", roleArn=ROLE_ARN, type="EXPRESS",
                                   definition=every_integration(backend, child, orders, "express-orders"),
                                   )["stateMachineArn"]

    done = sfn_sync.start_sync_execution(stateMachineArn=arn, input=json.dumps({"order": {"id": 1, "sum": 5}}))
    assert done["status"] == "SUCCEEDED", done
    out = json.loads(done["output"])
    assert out["function"] == {"echoed": {"id": 1, "sum": 5}}
    assert out["http"] == {"StatusCode": 200, "ResponseBody": {"paid": {"id": 1, "sum": 5}}}
    assert out["sent"]["MessageId"] and out["published"]["MessageId"] and out["stored"]["ETag"]
    assert wait_for_status(sfn, out["child"]["ExecutionArn"])["status"] == "SUCCEEDED"

    sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": {"id": 2, "sum": 7}}))

    sent = [json.loads(b) for b in receive_all(sqs, orders, 2)]
    assert sorted(o["id"] for o in sent) == [1, 2]
    published = [json.loads(json.loads(b)["Message"]) for b in receive_all(sqs, alerts, 2)]
    assert sorted(o["id"] for o in published) == [1, 2]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="express-orders").get("Contents", [])]
        if keys == ["1.json", "2.json"]:
            break
        time.sleep(0.1)
    assert keys == ["1.json", "2.json"], "the asynchronous Express execution stored its order too"
    children = sfn.list_executions(stateMachineArn=child)["executions"]
    assert len(children) == 2


def test_baton_run_runs_the_same_definition_with_the_same_config(tmp_path, backend):
    """`baton run` reaches the integrations an Express execution of `baton serve` reaches, with
    the same baton.toml; what it sends, publishes, stores and starts lands in its data folder,
    where `baton serve` then finds it."""
    config = write_config(tmp_path / "baton.toml")
    data = tmp_path / "data"
    with Baton(config, data=data) as baton:
        sfn, sqs = client(baton, "stepfunctions"), client(baton, "sqs")
        client(baton, "s3", s3={"addressing_style": "path"}).create_bucket(Bucket="run-orders")
        child = sfn.create_state_machine(name="run-child", roleArn=ROLE_ARN,
                                         definition=support.PASS_DEFINITION)["stateMachineArn"]
        orders = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    definition = tmp_path / "machine.asl.json"
    definition.write_text(every_integration(backend, child, orders, "run-orders"))

    run = subprocess.run(
        [str(support.baton_binary()), "run", str(definition), "--functions", str(config), "--data-dir", str(data),
         "--json", "--input", json.dumps({"order": {"id": 3, "sum": 9}})],
        capture_output=True, text=True, timeout=60, env={**os.environ, **dummy_aws_env()})
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["status"] == "SUCCEEDED", result
    out = result["output"]
    assert out["function"] == {"echoed": {"id": 3, "sum": 9}}
    assert out["http"] == {"StatusCode": 200, "ResponseBody": {"paid": {"id": 3, "sum": 9}}}
    assert out["sent"]["MessageId"] and out["published"]["MessageId"] and out["stored"]["ETag"]

    with Baton(config, data=data) as baton:
        sfn, sqs = client(baton, "stepfunctions"), client(baton, "sqs")
        s3 = client(baton, "s3", s3={"addressing_style": "path"})
        assert [json.loads(b) for b in receive_all(sqs, sqs.get_queue_url(QueueName="orders")["QueueUrl"], 1)] == [
            {"id": 3, "sum": 9}]
        inbox = sqs.get_queue_url(QueueName="alerts-inbox")["QueueUrl"]
        assert [json.loads(json.loads(b)["Message"]) for b in receive_all(sqs, inbox, 1)] == [{"id": 3, "sum": 9}]
        assert json.loads(s3.get_object(Bucket="run-orders", Key="3.json")["Body"].read()) == {"id": 3, "sum": 9}
        started = wait_for_status(sfn, out["child"]["ExecutionArn"])
        assert started["status"] == "SUCCEEDED" and json.loads(started["input"]) == {"id": 3, "sum": 9}
