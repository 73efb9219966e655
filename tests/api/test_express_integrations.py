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
import sys
import threading
import time

import boto3
import pytest
from botocore.config import Config

from seeds_helpers import ROLE_ARN, Baton, wait_for_status

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


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    config = tmp_path_factory.mktemp("express") / "baton.toml"
    echo = [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read())"]
    config.write_text(f"""
[functions.echo]
command = {json.dumps(echo)}

[queues.orders]
[queues.alerts-inbox]

[topics.alerts]
subscriptions = [{{ protocol = "sqs", endpoint = "alerts-inbox" }}]
""")
    with Baton(config) as baton:
        yield baton, f"http://127.0.0.1:{backend.server_port}"
    backend.shutdown()


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
