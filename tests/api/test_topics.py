"""Built-in topics end to end: `sns:publish` and `.waitForTaskToken` from a definition, with
subscriptions of every kind declared in baton.toml: a queue (SNS's envelope, read with
boto3's SQS client), email through a real SMTP server on loopback (aiosmtpd), and a webhook
(a real HTTP server in the test). Also what happens when the SMTP server is down: the
execution does not wait for it, and the email is retried, logged and counted until the
server is back.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import threading
import urllib.request

import pytest

from seeds_helpers import ROLE_ARN, Baton, free_port, history_types, mail_subject, mail_text, start_smtp, wait_for_status

import aiosmtpd  # noqa: F401  (a real SMTP server; in requirements.txt)


class Hooks(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hooks.received.append((dict(self.headers), body.decode()))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("topics")
    controller, inbox = start_smtp()
    down_port = free_port()  # nothing listens here until the test starts a server on it
    hooks = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    config = folder / "baton.toml"
    config.write_text(f"""
[smtp]
host = "127.0.0.1"
port = {controller.port}
from = "Baton <baton@example.com>"

[queues.notifications]

[topics.alerts]
subscriptions = [
  {{ protocol = "sqs", endpoint = "notifications" }},
  {{ protocol = "email", endpoint = "ops@example.com" }},
  {{ protocol = "http", endpoint = "http://127.0.0.1:{hooks.server_port}/hook" }},
]

[topics.raw]
subscriptions = [{{ protocol = "sqs", endpoint = "arn:aws:sqs:us-east-1:123456789012:notifications", raw_message_delivery = true }}]
""")
    down_config = folder / "down.toml"
    down_config.write_text(f"""
[smtp]
host = "127.0.0.1"
port = {down_port}
from = "baton@example.com"

[topics.mail]
subscriptions = [{{ protocol = "email", endpoint = "someone@example.com" }}]
""")
    with Baton(config) as b:
        yield {"baton": b, "inbox": inbox, "down_config": down_config, "down_port": down_port}
    hooks.shutdown()
    controller.stop()


def machine(baton, name, definition):
    return baton.client().create_state_machine(name=name, definition=json.dumps(definition),
                                               roleArn=ROLE_ARN)["stateMachineArn"]


PUBLISH = {
    "StartAt": "Publish",
    "States": {"Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                           "Parameters": {"TopicArn.$": "$.topic", "Message.$": "$.message", "Subject": "Payment"},
                           "End": True}},
}


def test_publish_reaches_queue_email_and_webhook(world):
    baton, inbox = world["baton"], world["inbox"]
    before = len(inbox.messages)
    arn = machine(baton, "publish", PUBLISH)
    sfn, sqs = baton.client(), baton.client("sqs")
    topic = "arn:aws:sns:us-east-1:123456789012:alerts"
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"topic": topic, "message": {"paid": 100}}))
    d = wait_for_status(sfn, ex["executionArn"])
    assert d["status"] == "SUCCEEDED", d
    message_id = json.loads(d["output"])["MessageId"]

    url = sqs.get_queue_url(QueueName="notifications")["QueueUrl"]
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"][0]
    envelope = json.loads(got["Body"])
    assert envelope["Type"] == "Notification" and envelope["MessageId"] == message_id
    assert envelope["TopicArn"] == topic and envelope["Subject"] == "Payment"
    assert json.loads(envelope["Message"]) == {"paid": 100}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got["ReceiptHandle"])

    recipients, raw = inbox.wait_for(before + 1)[-1]
    assert recipients == ["ops@example.com"]
    assert mail_subject(raw) == "Payment"
    assert '{"paid":100}' in mail_text(raw)

    for _ in range(600):
        if Hooks.received:
            break
        threading.Event().wait(0.05)
    headers, body = Hooks.received[-1]
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert json.loads(body)["MessageId"] == message_id


def test_raw_delivery_and_wait_for_task_token(world):
    baton = world["baton"]
    sfn, sqs = baton.client(), baton.client("sqs")
    arn = machine(baton, "publish-wait", {
        "StartAt": "Ask",
        "States": {"Ask": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                           "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:raw",
                                          "Message": {"token.$": "$$.Task.Token"}},
                           "End": True}},
    })
    ex = sfn.start_execution(stateMachineArn=arn, input="{}")
    url = sqs.get_queue_url(QueueName="notifications")["QueueUrl"]
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"][0]
    token = json.loads(got["Body"])["token"]  # raw: the message itself, no envelope
    sfn.send_task_success(taskToken=token, output='{"answered": true}')
    d = wait_for_status(sfn, ex["executionArn"])
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"answered": True}
    assert "TaskSubmitted" in history_types(sfn, ex["executionArn"])


def test_an_unknown_topic_fails_the_task_as_aws_and_catch_sees_it(world):
    baton = world["baton"]
    definition = json.loads(json.dumps(PUBLISH))
    definition["States"]["Publish"]["Catch"] = [{"ErrorEquals": ["SNS.NotFoundException"], "Next": "Caught"}]
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    arn = machine(baton, "publish-missing", definition)
    sfn = baton.client()
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps(
        {"topic": "arn:aws:sns:us-east-1:123456789012:nowhere", "message": "x"}))
    d = wait_for_status(sfn, ex["executionArn"])
    assert d["status"] == "SUCCEEDED", d
    caught = json.loads(d["output"])
    assert caught["Error"] == "SNS.NotFoundException"
    assert caught["Cause"].startswith("Topic does not exist (Service: AmazonSNS; Status Code: 404; Error Code: NotFound;")


def metric(baton, name: str) -> float:
    with urllib.request.urlopen(baton.endpoint + "/metrics") as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
    return 0.0


def test_smtp_down_does_not_hold_the_execution_and_the_email_is_retried_until_it_goes_out(world):
    with Baton(world["down_config"]) as baton:
        arn = machine(baton, "publish-mail", PUBLISH)
        sfn = baton.client()
        ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps(
            {"topic": "arn:aws:sns:us-east-1:123456789012:mail", "message": "hello"}))
        d = wait_for_status(sfn, ex["executionArn"])
        assert d["status"] == "SUCCEEDED", "publishing does not wait for the mail server"
        retried = 'baton_topic_deliveries_total{kind="email",outcome="retried"}'
        for _ in range(600):
            if metric(baton, retried) >= 1:
                break
            threading.Event().wait(0.05)
        assert metric(baton, retried) >= 1, "the failed attempt is counted"
        assert "email not sent; will retry" in baton.logs()
        # The mail server comes up: a later attempt delivers the email.
        controller, inbox = start_smtp(world["down_port"])
        try:
            recipients, raw = inbox.wait_for(1, timeout=60)[0]
            assert recipients == ["someone@example.com"] and "hello" in mail_text(raw)
            sent = 'baton_topic_deliveries_total{kind="email",outcome="sent"}'
            for _ in range(600):  # counted once the server's answer is read, just after the mail lands
                if metric(baton, sent) >= 1:
                    break
                threading.Event().wait(0.05)
            assert metric(baton, sent) == 1
        finally:
            controller.stop()


def test_an_email_waiting_for_its_retry_survives_a_crash_of_the_server(world):
    """The outbox is a queue in the store: a server killed while the mail server is down
    sends the email after it restarts."""
    first = Baton(world["down_config"])
    first.__enter__()
    try:
        arn = machine(first, "publish-mail", PUBLISH)
        sfn = first.client()
        ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps(
            {"topic": "arn:aws:sns:us-east-1:123456789012:mail", "message": "kept across a crash"}))
        assert wait_for_status(sfn, ex["executionArn"])["status"] == "SUCCEEDED"
        retried = 'baton_topic_deliveries_total{kind="email",outcome="retried"}'
        for _ in range(600):
            if metric(first, retried) >= 1:
                break
            threading.Event().wait(0.05)
        assert metric(first, retried) >= 1
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait()
        controller, inbox = start_smtp(world["down_port"])
        second = Baton(world["down_config"])
        second.data_dir, second.log_path = first.data_dir, first.data_dir / "baton-2.log"
        try:
            with second:
                recipients, raw = inbox.wait_for(1, timeout=60)[0]
                assert recipients == ["someone@example.com"] and "kept across a crash" in mail_text(raw)
        finally:
            controller.stop()
    finally:
        first.__exit__(None, None, None)


# ----- links in mail, and the console's Mail page ----------------------------------------------

LINK_DEFINITION = {
    "StartAt": "Ask",
    "States": {"Ask": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                       "Parameters": {"TopicArn.$": "$.topic", "Subject": "Approve the order",
                                      "Message.$": "States.Format('Order {} – approve: baton:link:approve\nor reject: "
                                                   "baton:link:reject', $.order)"},
                       "TimeoutSeconds": 600, "End": True}},
}

LINK = re.compile(r"http://127\.0\.0\.1:\d+/link/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def follow(link: str) -> str:
    """Press the button of a link's page: POST it, as the page's form does."""
    request = urllib.request.Request(link, data=b"comment=", method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return r.read().decode()


def mail_page(baton) -> str:
    with urllib.request.urlopen(baton.endpoint + "/mail", timeout=10) as r:
        return r.read().decode()


def test_links_in_an_email_work_as_copied_from_the_raw_message(world):
    """What a debugging SMTP server prints is the raw message: its links must work as they
    are there, with no quoted-printable `=3D` or soft line breaks to undo."""
    baton, inbox = world["baton"], world["inbox"]
    before = len(inbox.messages)
    sfn = baton.client()
    arn = machine(baton, "publish-links", LINK_DEFINITION)
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps(
        {"topic": "arn:aws:sns:us-east-1:123456789012:alerts", "order": "o-7"}))["executionArn"]
    _, raw = inbox.wait_for(before + 1)[-1]
    headers, _, body = raw.partition("\r\n\r\n") if "\r\n\r\n" in raw else raw.partition("\n\n")
    assert "Content-Transfer-Encoding: 8bit" in headers, headers  # the text holds a dash (U+2013)
    assert "=\r\n" not in body and "=\n" not in body and "=3D" not in body, body
    links = LINK.findall(body)
    assert len(links) == 2, body
    assert any(line.endswith(links[0]) and "approve" in line for line in body.splitlines()), body
    # The link, copied from the raw message, answers the task.
    assert "Thank you" in follow(links[0])
    d = wait_for_status(sfn, ex)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"approved": True}
    # The console's Mail page lists it, with the same links made clickable.
    page = mail_page(baton)
    assert "Approve the order" in page and "To ops@example.com" in page and "sent through [smtp]" in page
    assert f'<a href="{links[1]}">' in page, page


def test_without_smtp_email_is_kept_on_the_mail_page(tmp_path):
    """No mail server is needed to try a flow that emails people: without [smtp] the server
    starts, says so in its log, and keeps the mail on the console's Mail page."""
    config = tmp_path / "baton.toml"
    config.write_text('[topics.alerts]\nsubscriptions = [{ protocol = "email", endpoint = "ana@example.com" }]\n')
    with Baton(config) as baton:
        assert "no [smtp]" in baton.logs()
        assert "No mail yet." in mail_page(baton)
        sfn = baton.client()
        arn = machine(baton, "publish-kept", LINK_DEFINITION)
        ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps(
            {"topic": "arn:aws:sns:us-east-1:123456789012:alerts", "order": "o-8"}))["executionArn"]
        for _ in range(200):
            page = mail_page(baton)
            if "Approve the order" in page:
                break
            threading.Event().wait(0.05)
        assert "To ana@example.com" in page and "kept here (no [smtp])" in page and "Order o-8" in page, page
        approve = re.search(r'approve: <a href="(http[^"]+)"', page)
        assert approve, page
        assert "Thank you" in follow(approve[1])
        assert wait_for_status(sfn, ex)["status"] == "SUCCEEDED"
