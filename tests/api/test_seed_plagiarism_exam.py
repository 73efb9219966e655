"""Seed 000, plagiarism exam (examples/plagiarism-exam): staff register an incident through
POST /incident; the student gets an email (through a real SMTP server on loopback) with a
link carrying the task token; the test, as the testing centre's website, follows the link's
parameters and submits the exam to POST /exam. A pass resolves the incident; a fail means a
re-sit; three fails, or exams not sat within their deadline, mean administrative action."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from seeds_helpers import EXAMPLES, Baton, history_types, mail_text, start_smtp, wait_for_status

import aiosmtpd  # noqa: F401  (a real SMTP server; in requirements.txt)
EXAMPLE = EXAMPLES / "plagiarism-exam"
LINK = re.compile(r"http://localhost:3000/\?IncidentId=(?P<incident>[^&\s]+)&ExamId=(?P<exam>[^&\s]+)&TaskToken=(?P<token>\S+)")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    controller, inbox = start_smtp()
    # The example with its [smtp] lines uncommented, as its README says, and the SMTP port of
    # this test's server.
    folder = tmp_path_factory.mktemp("plagiarism") / "example"
    shutil.copytree(EXAMPLE, folder)
    config = folder / "baton.toml"
    text = config.read_text()
    for key in ("[smtp]", "host =", "port =", "from ="):
        assert f"\n#{key}" in text, key
        text = text.replace(f"\n#{key}", f"\n{key}")
    config.write_text(text.replace("port = 8025", f"port = {controller.port}"))
    with Baton(config) as b:
        b.create_machine("PlagiarismStateMachine", folder / "definition.asl.json")
        yield b, inbox
    controller.stop()


def register(baton, **extra) -> str:
    incident = json.loads((EXAMPLE / "input.json").read_text()) | extra
    status, body = baton.http("POST", "/incident", incident)
    assert status == 200, body
    return json.loads(body)["executionArn"]


def next_link(inbox, seen: int) -> re.Match:
    recipients, raw = inbox.wait_for(seen + 1)[seen]
    assert recipients == ["student@example.com"]
    # The link as the raw message has it, as a debugging SMTP server prints it.
    link = LINK.search(raw)
    assert link and link[0] in mail_text(raw), raw
    return link


def submit(baton, link: re.Match, score: int) -> tuple[int, str]:
    return baton.http("POST", "/exam", {"IncidentId": link["incident"], "ExamId": link["exam"],
                                        "Score": score, "TaskToken": link["token"]})


def test_a_student_who_fails_then_passes_the_resit_has_the_incident_resolved(world):
    baton, inbox = world
    seen = len(inbox.messages)
    execution = register(baton)
    first = next_link(inbox, seen)
    status, body = submit(baton, first, 40)
    assert status == 200, body
    second = next_link(inbox, seen + 1)
    assert second["incident"] == first["incident"] and second["exam"] != first["exam"], "a re-sit, same incident"
    status, body = submit(baton, second, 80)
    assert status == 200, body
    sfn = baton.client()
    d = wait_for_status(sfn, execution)
    assert d["status"] == "SUCCEEDED", d
    incident = json.loads(d["output"])
    assert incident["IncidentResolved"] is True and incident["AdministrativeActionRequired"] is False
    assert [(e["Result"], e["Score"]) for e in incident["Exams"]] == [("Pass", 80), ("Fail", 40)]
    # The first exam's token was answered: a second submission of it is refused.
    status, _ = submit(baton, first, 100)
    assert status in (404, 410)


def test_three_failed_exams_lead_to_administrative_action(world):
    baton, inbox = world
    seen = len(inbox.messages)
    execution = register(baton)
    for attempt in range(3):
        status, body = submit(baton, next_link(inbox, seen + attempt), 10)
        assert status == 200, body
    d = wait_for_status(baton.client(), execution)
    incident = json.loads(d["output"])
    assert incident["AdministrativeActionRequired"] is True
    assert [e["Result"] for e in incident["Exams"]] == ["Fail", "Fail", "Fail"]


def test_exams_not_sat_within_their_deadline_count_as_failed(world):
    baton, inbox = world
    seen = len(inbox.messages)
    # A one-second deadline for each exam (a week unless the incident says otherwise).
    execution = register(baton, ExamDeadlineSeconds=1)
    sfn = baton.client()
    d = wait_for_status(sfn, execution)
    assert d["status"] == "SUCCEEDED", d
    incident = json.loads(d["output"])
    assert incident["AdministrativeActionRequired"] is True
    assert [e["Result"] for e in incident["Exams"]] == ["DidNotSit"] * 3
    assert history_types(sfn, execution).count("TaskTimedOut") == 3
    assert len(inbox.wait_for(seen + 3)) >= seen + 3, "the student was emailed for each exam"
    # A late submission is refused.
    status, _ = submit(baton, next_link(inbox, seen), 90)
    assert status in (404, 410)


def test_the_readme_steps_as_written_need_no_mail_server(tmp_path):
    """The example as it is, without [smtp]: the link is read from the console's Mail page
    as the README's command reads it, and testing_centre.py submits the exam with it."""
    with Baton(EXAMPLE / "baton.toml") as baton:
        baton.create_machine("PlagiarismStateMachine", EXAMPLE / "definition.asl.json")
        execution = register(baton)
        page = ""
        for _ in range(200):
            status, page = baton.http("GET", "/mail")
            if "localhost:3000" in page:
                break
            time.sleep(0.05)
        found = re.search(r'http://localhost:3000/[^"<]*', page)
        assert found, page
        submitted = subprocess.run(
            [sys.executable, str(EXAMPLE / "testing_centre.py"), found[0], "80"],
            env={**os.environ, "BATON_URL": baton.endpoint}, capture_output=True, text=True, timeout=60)
        assert submitted.returncode == 0, submitted.stderr
        assert json.loads(submitted.stdout)["message"] == "exam submitted"
        d = wait_for_status(baton.client(), execution)
        assert d["status"] == "SUCCEEDED", baton.logs()
        again = subprocess.run(
            [sys.executable, str(EXAMPLE / "testing_centre.py"), found[0], "80"],
            env={**os.environ, "BATON_URL": baton.endpoint}, capture_output=True, text=True, timeout=60)
        assert again.returncode == 1 and "no longer waits" in again.stderr
