"""Seed 004, promotion approval (examples/promotion-approval): an activity task waits for a
manager. The test plays everyone: it starts the execution, runs the activity worker
(worker.py), which emails the manager through a real SMTP server on loopback (aiosmtpd),
reads the mail, and follows the approve or the reject link, a trigger on Baton."""

import email
import email.policy
import json
import re
import subprocess
import sys
import time
import urllib.parse

import pytest

from seeds_helpers import EXAMPLES, Baton, dummy_aws_env, history_types, start_smtp, wait_for_status

import aiosmtpd  # noqa: F401  (a real SMTP server; in requirements.txt)
EXAMPLE = EXAMPLES / "promotion-approval"


@pytest.fixture(scope="module")
def smtp():
    controller, inbox = start_smtp()
    yield controller, inbox
    controller.stop()


@pytest.fixture(scope="module")
def baton():
    with Baton(EXAMPLE / "baton.toml", extra_args=["--activity-poll-ms", "5000"]) as b:
        sfn = b.client()
        sfn.create_activity(name="ManualStep")
        b.create_machine("PromotionApproval", EXAMPLE / "definition.asl.json")
        yield b


def run_worker(baton, smtp):
    controller, _ = smtp
    env = {**dummy_aws_env(), "AWS_ENDPOINT_URL": baton.endpoint, "SMTP_HOST": "127.0.0.1",
           "SMTP_PORT": str(controller.port)}
    return subprocess.run([sys.executable, str(EXAMPLE / "worker.py")], env=env, capture_output=True, text=True,
                          timeout=90)


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_the_manager_decides_by_following_a_link_in_the_email(baton, smtp, decision):
    _, inbox = smtp
    sfn = baton.client()
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:PromotionApproval"
    employee = f"Jim-{decision}"
    arn = sfn.start_execution(
        stateMachineArn=machine,
        input=json.dumps({"managerEmailAddress": "manager@example.com", "employeeName": employee}),
    )["executionArn"]
    before = len(inbox.messages)
    worker = run_worker(baton, smtp)
    assert worker.returncode == 0, worker.stderr
    assert "The email was successfully sent." in worker.stdout
    deadline = time.monotonic() + 10
    while len(inbox.messages) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    recipients, raw = inbox.messages[-1]
    assert recipients == ["manager@example.com"]
    mail = email.message_from_string(raw, policy=email.policy.default)
    assert mail["Subject"] == "Your Approval Needed for Promotion!"
    text = mail.get_content()
    assert f"{employee} has been nominated for promotion!" in text
    # The links work as the raw message has them (as a debugging SMTP server prints it).
    assert mail["Content-Transfer-Encoding"] == "7bit"
    links = {kind: url for url, kind in re.findall(r"(http://\S+/respond/(succeed|fail)\?taskToken=\S+)", raw)}
    assert set(links) == {"succeed", "fail"}
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"

    link = links["succeed" if decision == "approve" else "fail"]
    path = urllib.parse.urlsplit(link)
    status, body = baton.http("GET", f"{path.path}?{path.query}")
    assert status == 200, body + baton.logs()
    d = wait_for_status(sfn, arn)
    if decision == "approve":
        assert d["status"] == "SUCCEEDED"
        assert json.loads(d["output"]) == "Approve link was clicked."
    else:
        assert d["status"] == "FAILED"
        assert (d["error"], d["cause"]) == ("Rejected", "Reject link was clicked.")
    types = history_types(sfn, arn)
    assert types[:4] == ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted"]
    assert ("ActivitySucceeded" if decision == "approve" else "ActivityFailed") in types
    # The link was used: following it again says so (Step Functions answered TaskTimedOut).
    status, body = baton.http("GET", f"{path.path}?{path.query}")
    assert status == 410 and body.startswith("This promotion is no longer waiting"), body


def test_the_worker_finds_nothing_to_do_when_no_promotion_waits(baton, smtp):
    worker = run_worker(baton, smtp)
    assert worker.returncode == 0, worker.stderr
    assert "No activities received" in worker.stdout
