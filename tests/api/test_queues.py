"""Built-in queues end to end: boto3's SQS client against `baton serve` (the SQS JSON protocol
on the same endpoint), the `sqs:sendMessage` Task and its `.waitForTaskToken` form answered
by a worker that consumes the queue, and a queue that does not exist.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest

from seeds_helpers import ROLE_ARN, Baton, history_types, wait_for_status


# A consumer that fails its first call (the batch must come back) and records the rest.
CONSUMER = """
import json, os
def handler(event, context):
    out = os.environ["OUT"]
    first = os.path.join(out, "failed-once")
    if not os.path.exists(first):
        open(first, "w").close()
        raise RuntimeError("first delivery fails")
    with open(os.path.join(out, "consumed.jsonl"), "a") as f:
        for r in event["Records"]:
            f.write(json.dumps(r) + "\\n")
    return {}
"""


@pytest.fixture(scope="module")
def baton(tmp_path_factory):
    folder = tmp_path_factory.mktemp("queues")
    config = folder / "baton.toml"
    (folder / "consumer.py").write_text(CONSUMER)
    config.write_text(
        '[queues.declared]\nvisibility_timeout_seconds = 5\n\n'
        f'[functions.collect]\nruntime = "python3"\nhandler = "consumer.handler"\nenv = {{ OUT = "{folder}" }}\n\n'
        '[queues.inbox]\nfunction = "collect"\nbatch_size = 5\nvisibility_timeout_seconds = 1\n'
    )
    with Baton(config) as b:
        yield b


def machine(baton, name, definition):
    return baton.client().create_state_machine(name=name, definition=json.dumps(definition),
                                               roleArn=ROLE_ARN)["stateMachineArn"]


def test_boto3_sqs_client_uses_the_built_in_queues(baton):
    sqs = baton.client("sqs")
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    assert url.endswith("/jobs")
    assert sqs.create_queue(QueueName="jobs")["QueueUrl"] == url, "CreateQueue is idempotent"
    assert sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == url
    listed = sqs.list_queues()["QueueUrls"]
    assert url in listed and any(u.endswith("/declared") for u in listed), "baton.toml's queue exists"
    assert sqs.list_queues(QueueNamePrefix="jo")["QueueUrls"] == [url]

    sent = sqs.send_message(QueueUrl=url, MessageBody="hello",
                            MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}})
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    assert "MD5OfMessageAttributes" in sent

    got = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60, MessageAttributeNames=["All"],
                              AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in got] == ["hello"]
    assert got[0]["MessageId"] == sent["MessageId"]
    assert got[0]["MessageAttributes"]["kind"]["StringValue"] == "greeting"
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=url), "in flight: invisible to other receivers"
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attributes["VisibilityTimeout"] == "30"

    # Back to visible at once: received again, a second time.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert again[0]["MessageId"] == sent["MessageId"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert "MessageAttributes" not in again[0], "message attributes come only when asked for"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)

    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in batch] == ["m0", "m1", "m2"], "oldest first"
    sqs.purge_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="jobs")


def test_errors_have_sqs_names(baton):
    sqs = baton.client("sqs")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
        sqs.send_message(QueueUrl=f"{baton.endpoint}/123456789012/nowhere", MessageBody="x")
    assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    url = sqs.create_queue(QueueName="errors")["QueueUrl"]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    with pytest.raises(sqs.exceptions.ClientError) as e:
        sqs.create_queue(QueueName="bad name!")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.ClientError) as e:
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_a_long_poll_returns_the_message_sent_while_it_waits(baton):
    sqs = baton.client("sqs")
    url = sqs.create_queue(QueueName="long-poll")["QueueUrl"]
    started = threading.Event()
    received = []

    def poll():
        client = baton.client("sqs")
        started.set()
        received.extend(client.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", []))

    t = threading.Thread(target=poll)
    t.start()
    started.wait()
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    t.join(30)
    assert [m["Body"] for m in received] == ["wake up"]


def test_send_message_task_answers_as_aws(baton):
    sqs = baton.client("sqs")
    url = sqs.create_queue(QueueName="from-task")["QueueUrl"]
    arn = machine(baton, "send-message", {
        "StartAt": "Send",
        "States": {"Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                            "Parameters": {"QueueUrl.$": "$.url", "MessageBody.$": "$.body"}, "End": True}},
    })
    sfn = baton.client()
    # The URL AWS would have: only the queue's name matters.
    aws_url = "https://sqs.us-east-1.amazonaws.com/123456789012/from-task"
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"url": aws_url, "body": {"order": 7}}))
    d = wait_for_status(sfn, ex["executionArn"])
    assert d["status"] == "SUCCEEDED", d
    output = json.loads(d["output"])
    assert output["MD5OfMessageBody"] == hashlib.md5(b'{"order":7}').hexdigest()
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    msg = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert json.loads(msg["Body"]) == {"order": 7}, "a JSON body is sent as its text"
    assert msg["MessageId"] == output["MessageId"]


def test_wait_for_task_token_is_answered_by_a_queue_worker(baton):
    sqs = baton.client("sqs")
    url = sqs.create_queue(QueueName="callbacks")["QueueUrl"]
    arn = machine(baton, "queue-callback", {
        "StartAt": "Ask",
        "States": {"Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                           "Parameters": {"QueueUrl": url, "MessageBody": {"n.$": "$.n", "token.$": "$$.Task.Token"}},
                           "End": True}},
    })
    sfn = baton.client()
    ex = sfn.start_execution(stateMachineArn=arn, input='{"n": 20}')
    msg = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)["Messages"][0]
    body = json.loads(msg["Body"])
    sfn.send_task_success(taskToken=body["token"], output=json.dumps({"doubled": body["n"] * 2}))
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    d = wait_for_status(sfn, ex["executionArn"])
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"doubled": 40}
    assert "TaskSubmitted" in history_types(sfn, ex["executionArn"])


def test_an_unknown_queue_fails_the_task_with_aws_error_and_catch_sees_it(baton):
    arn = machine(baton, "no-queue", {
        "StartAt": "Send",
        "States": {
            "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                     "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/missing",
                                    "MessageBody": "x"},
                     "Retry": [{"ErrorEquals": ["SQS.QueueDoesNotExistException"], "MaxAttempts": 1,
                                "IntervalSeconds": 1}],
                     "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}], "End": True},
            "Caught": {"Type": "Pass", "End": True},
        },
    })
    sfn = baton.client()
    ex = sfn.start_execution(stateMachineArn=arn, input="{}")
    d = wait_for_status(sfn, ex["executionArn"])
    assert d["status"] == "SUCCEEDED", d
    caught = json.loads(d["output"])
    assert caught["Error"] == "SQS.QueueDoesNotExistException"
    assert "Error Code: AWS.SimpleQueueService.NonExistentQueue" in caught["Cause"]
    assert history_types(sfn, ex["executionArn"]).count("TaskFailed") == 2, "retried once, then caught"


def test_a_configured_function_consumes_a_queue_and_a_failed_batch_comes_back(baton):
    sqs = baton.client("sqs")
    url = sqs.get_queue_url(QueueName="inbox")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="first")
    out = baton.config.parent / "consumed.jsonl"
    deadline = time.monotonic() + 30
    while not (out.exists() and out.read_text().endswith("\n")) and time.monotonic() < deadline:
        time.sleep(0.1)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["body"] for r in records] == ["first"]
    assert records[0]["eventSource"] == "aws:sqs" and records[0]["eventSourceARN"].endswith(":inbox")
    assert records[0]["attributes"]["ApproximateReceiveCount"] == "2", "delivered again after the failure"
    assert (baton.config.parent / "failed-once").exists()
    # Consumed messages are deleted.
    while time.monotonic() < deadline:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0":
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the consumed message is still in the queue: {attrs}")
