"""The console in headless Chromium (tests/console/console.test.mjs, playwright-core): start an
execution from the console, watch it pause, answer a form from the inbox and an approval from
a link that arrived by email. The email goes through a real SMTP server on loopback (aiosmtpd),
sent by an activity worker here, as a deployment's mailer would."""

from __future__ import annotations

import json
import os
import shutil
import smtplib
import subprocess
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest

from seeds_helpers import free_port
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
    """An SMTP server's handler that writes each message into a folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.count += 1
        (self.folder / f"{self.count}.eml").write_bytes(envelope.content)
        return "250 OK"


def mailer(sfn, activity: str, smtp_port: int, stop: threading.Event) -> None:
    """The activity worker: emails each task's message (with its links) to its recipient."""
    while not stop.is_set():
        task = sfn.get_activity_task(activityArn=activity, workerName="mailer")
        if not task.get("taskToken"):
            continue
        sent = json.loads(task["input"])
        msg = EmailMessage()
        msg["From"] = "baton@example.com"
        msg["To"] = sent["to"]
        msg["Subject"] = sent["subject"]
        msg.set_content(sent["body"])
        with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
            smtp.send_message(msg)


def test_console_in_a_browser(server, sfn, machine, name, tmp_path):
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    controller = aiosmtpd_controller.Controller(Mailbox(mail_dir), hostname="127.0.0.1", port=free_port())
    controller.start()
    exam = sfn.create_activity(name=name("exam"))["activityArn"]
    mail = sfn.create_activity(name=name("mail"))["activityArn"]
    states = {
        "Register": {"Type": "Pass", "Result": {"incident": 7}, "ResultPath": "$.incident", "Next": "Exam"},
        "Exam": {
            "Type": "Task",
            "Resource": exam,
            "Parameters": {"student.$": "$.student", "BatonForm": FORM},
            "TimeoutSeconds": 3600,
            "ResultPath": "$.exam",
            "Next": "Review",
        },
        "Review": {
            "Type": "Task",
            "Resource": mail,
            "Parameters": {
                "to": "teacher@example.com",
                "subject.$": "States.Format('Review the exam of {}', $.student)",
                "body.$": "States.Format('Score {}. Approve: baton:link:approve Reject: baton:link:reject', $.exam.score)",
            },
            "TimeoutSeconds": 3600,
            "ResultPath": "$.review",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    }
    machine_arn = machine(definition(states, start="Register"))
    execution_name = name("run")
    execution_arn = machine_arn.replace(":stateMachine:", ":execution:") + ":" + execution_name
    stop = threading.Event()
    worker = threading.Thread(target=mailer, args=(sfn, mail, controller.port, stop), daemon=True)
    worker.start()
    try:
        setup = {
            "endpoint": server.endpoint,
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
        stop.set()
        controller.stop()
