"""Seed 003, payment callback (examples/payment-callback): the execution sends the payment to
a queue and waits; the queue's function consumer charges the card and answers the token; the
execution publishes the outcome to a topic, and the test reads it from the subscribed test
queue with boto3, as the seed's users do with `aws sqs receive-message`."""

import json

import pytest

from seeds_helpers import EXAMPLES, Baton, history_types, wait_for_status

EXAMPLE = EXAMPLES / "payment-callback"
MACHINE = "StateMachineWaitForCallback"


@pytest.fixture(scope="module")
def baton():
    with Baton(EXAMPLE / "baton.toml") as b:
        b.create_machine(MACHINE, EXAMPLE / "definition.asl.json")
        yield b


def notification(baton) -> dict:
    sqs = baton.client("sqs")
    url = sqs.get_queue_url(QueueName="WaitForCallbackDemoNotificationTestQueue")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20)["Messages"]
    assert len(messages) == 1, messages
    sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
    return json.loads(messages[0]["Body"])


def start(baton, card: str) -> str:
    sfn = baton.client()
    payment = json.loads((EXAMPLE / "input.json").read_text())
    payment["creditCardNumber"] = card
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{MACHINE}"
    return sfn.start_execution(stateMachineArn=arn, input=json.dumps(payment))["executionArn"]


def test_an_invalid_card_is_notified_as_a_failure(baton):
    execution = start(baton, "1234 1234 1234 1234")
    envelope = notification(baton)
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:WaitForCallbackTopic"
    assert json.loads(envelope["Message"]) == {"Error": "Failed to process payment", "Cause": "Invalid Credit Card"}
    sfn = baton.client()
    d = wait_for_status(sfn, execution)
    assert d["status"] == "SUCCEEDED"
    types = history_types(sfn, execution)
    assert "TaskSubmitted" in types and "TaskFailed" in types, types


def test_a_valid_card_is_notified_as_a_success(baton):
    execution = start(baton, "4242 4242 4242 4242")
    envelope = notification(baton)
    assert envelope["Message"] == "Payment processed successfully."
    sfn = baton.client()
    d = wait_for_status(sfn, execution)
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"])["MessageId"] == envelope["MessageId"]
