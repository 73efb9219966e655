"""The console in headless Chromium (tests/console/console.test.mjs, playwright-core): start an
execution from the console, watch it pause, answer a form from the inbox, and an approval from
a link that Baton emailed through a real SMTP server on loopback (aiosmtpd): the link is read
from the raw message as received, and followed from the console's Mail page. Pages are checked
for sideways scrolling at 1280 px wide, with long JSON in the input, and screenshots are saved
in tests/console/artifacts/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from seeds_helpers import Baton, free_port
from support import definition, wait_done

import aiosmtpd.controller as aiosmtpd_controller

CONSOLE_TESTS = Path(__file__).resolve().parent.parent / "console"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(autouse=True)
def browser_available():
    """Fails, never skips, when the browser or playwright-core is missing."""
    if not (shutil.which("node") and Path(CHROMIUM).exists() and (CONSOLE_TESTS / "node_modules").exists()):
        pytest.fail("needs node, Debian's chromium and `npm ci` in tests/console (.ci/run installs them)")


FORM = [
    {"name": "score", "type": "integer", "label": "Score", "required": True},
    {"name": "result", "label": "Result", "allowed": ["pass", "fail"], "required": True},
]


class Mailbox:
    """An SMTP server's handler that writes each message, as received, into a folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.count += 1
        (self.folder / f"{self.count}.eml").write_bytes(envelope.content)
        return "250 OK"


def test_console_in_a_browser(tmp_path):
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    controller = aiosmtpd_controller.Controller(Mailbox(mail_dir), hostname="127.0.0.1", port=free_port())
    controller.start()
    config = tmp_path / "baton.toml"
    config.write_text(f"""
[smtp]
host = "127.0.0.1"
port = {controller.port}
from = "Baton <baton@example.com>"

[topics.reviews]
subscriptions = [{{ protocol = "email", endpoint = "teacher@example.com" }}]
""")
    run_id = uuid.uuid4().hex[:6]
    states = {
        "Register": {"Type": "Pass", "Result": {"incident": 7}, "ResultPath": "$.incident", "Next": "Exam"},
        "Exam": {
            "Type": "Task",
            "Resource": "arn:aws:states:us-east-1:123456789012:activity:exam",
            "Parameters": {"student.$": "$.student", "BatonForm": FORM},
            "TimeoutSeconds": 3600,
            "ResultPath": "$.exam",
            "Next": "Review",
        },
        "Review": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
            "Parameters": {
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:reviews",
                "Subject.$": "States.Format('Review the exam of {}', $.student)",
                "Message.$": "States.Format('Score {}.\nApprove: baton:link:approve\nReject: baton:link:reject', "
                             "$.exam.score)",
            },
            "TimeoutSeconds": 3600,
            "ResultPath": "$.review",
            "Next": "Decide",
        },
        "Decide": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.review.approved", "BooleanEquals": True, "Next": "Done"}],
            "Default": "Rejected",
        },
        "Rejected": {"Type": "Fail", "Error": "Rejected"},
        "Done": {"Type": "Succeed"},
    }
    try:
        with Baton(config) as baton:
            sfn = baton.client()
            sfn.create_activity(name="exam")
            machine_arn = sfn.create_state_machine(
                name=f"exam-{run_id}", definition=definition(states, start="Register"),
                roleArn="arn:aws:iam::123456789012:role/console",
            )["stateMachineArn"]
            execution_name = f"run-{run_id}"
            execution_arn = machine_arn.replace(":stateMachine:", ":execution:") + ":" + execution_name
            setup = {
                "endpoint": baton.endpoint,
                "machine": machine_arn,
                "name": execution_name,
                "execution": execution_arn,
                "mailDir": str(mail_dir),
            }
            run = subprocess.run(
                ["node", str(CONSOLE_TESTS / "console.test.mjs")],
                env={**os.environ, "BATON_CONSOLE_TEST": json.dumps(setup), "CHROMIUM": CHROMIUM},
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert run.returncode == 0, run.stdout + run.stderr
            done = wait_done(sfn, execution_arn)
            assert done["status"] == "SUCCEEDED"
            output = json.loads(done["output"])
            assert output["exam"] == {"score": 9, "result": "pass"}
            assert output["review"] == {"approved": True, "comment": "well done"}
    finally:
        controller.stop()
