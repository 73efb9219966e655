"""People in the loop beyond one answer: approvals that need N of M people (from the inbox and
from per-person signed links, at once or one by one), separation of duties against whoever
started the execution, every answer audited in the execution's history, reminders and
escalation by email through a real SMTP server (aiosmtpd), and the console's search by the
start of a name. Executions are started with boto3; history is read from the API's own JSON,
since SDKs drop members of an event type they do not model."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
import urllib.request

import boto3
import pytest
from botocore.config import Config

import aiosmtpd  # noqa: F401  (a real SMTP server; in requirements.txt)
from seeds_helpers import Baton, ROLE_ARN, mail_subject, mail_text, start_smtp
from support import definition, wait_done
from test_console_access import Browser, pbkdf2, task_id


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("people")
    controller, mailbox = start_smtp()
    config = folder / "baton.toml"
    config.write_text(f"""
[smtp]
host = "127.0.0.1"
port = {controller.port}
from = "Baton <baton@example.com>"

[console.users.ana]
password = "{pbkdf2('ana-secret')}"
email = "ana@example.com"
groups = ["teachers"]
access_keys = ["AKIDANA"]

[console.users.bob]
password = "{pbkdf2('bob-secret')}"
email = "bob@example.com"
groups = ["teachers"]

[console.users.carol]
password = "{pbkdf2('carol-secret')}"
groups = ["teachers"]
""")
    with Baton(config) as b:
        yield {"baton": b, "mailbox": mailbox}
    controller.stop()


def sfn_as(endpoint: str, access_key: str = "test"):
    session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key="x", region_name="us-east-1")
    return session.client("stepfunctions", endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}))


def raw_history(endpoint: str, execution: str) -> list[dict]:
    """GetExecutionHistory as the server sends it."""
    req = urllib.request.Request(
        endpoint + "/",
        data=json.dumps({"executionArn": execution, "maxResults": 1000}).encode(),
        headers={"X-Amz-Target": "AWSStepFunctions.GetExecutionHistory", "Content-Type": "application/x-amz-json-1.0"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["events"]


def activity_task(sfn, name: str, parameters: dict, **fields) -> tuple[str, str]:
    """A machine whose one state waits on a new activity with these parameters; returns
    (machine ARN, activity ARN)."""
    activity = sfn.create_activity(name=name)["activityArn"]
    state = {"Type": "Task", "Resource": activity, "Parameters": parameters, "ResultPath": "$.answer", "End": True}
    state.update(fields)
    machine = sfn.create_state_machine(name=name, definition=definition({"Ask": state}), roleArn=ROLE_ARN)
    return machine["stateMachineArn"], activity


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout} s")


def answers(endpoint: str, execution: str) -> list[dict]:
    return [e["taskAnswerRecordedEventDetails"] for e in raw_history(endpoint, execution)
            if e["type"] == "TaskAnswerRecorded"]


def signed_in(baton, user: str) -> Browser:
    b = Browser(baton)
    assert b.sign_in(user, f"{user}-secret") == 303
    return b


def test_two_of_three_approve_from_the_inbox_one_vote_each(world):
    baton = world["baton"]
    sfn = sfn_as(baton.endpoint)
    machine, _ = activity_task(sfn, "two-of-three", {"BatonApprovals": 2, "BatonGroup": "teachers", "Exam": "re-sit"},
                               TimeoutSeconds=300)
    ex = sfn.start_execution(stateMachineArn=machine, input='{"student": 7}')["executionArn"]
    ana, bob = signed_in(baton, "ana"), signed_in(baton, "bob")
    task = wait_for(lambda: task_id(ana.request("/inbox")[1], ex), what="task in Ana's inbox")
    status, body, _ = ana.request("/inbox/answer", {"execution": ex, "task": task, "decision": "approve", "comment": "fine"})
    assert status == 200 and "once enough people have answered" in body
    # One approval of two: the task still waits, and says so.
    wait_for(lambda: len(answers(baton.endpoint, ex)) == 1, what="Ana's vote in the history")
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    assert "1 of 2 approvals (ana)" in bob.request("/inbox")[1]
    assert "You have answered" in ana.request("/inbox")[1]
    # A second vote by the same person counts once.
    status, body, _ = ana.request("/inbox/answer", {"execution": ex, "task": task, "decision": "approve"})
    assert status == 409 and "answered already" in body
    assert bob.request("/inbox/answer", {"execution": ex, "task": task, "decision": "approve"})[0] == 200
    done = wait_done(sfn, ex)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["answer"] == {"approved": True, "approvals": ["ana", "bob"]}
    # Both votes are audited in the history, before the task's result, with who and what.
    events = raw_history(baton.endpoint, ex)
    types = [e["type"] for e in events]
    assert types.count("TaskAnswerRecorded") == 2
    assert types.index("ActivitySucceeded") > max(i for i, t in enumerate(types) if t == "TaskAnswerRecorded")
    first, second = answers(baton.endpoint, ex)
    assert (first["answeredBy"], first["decision"], first["approvals"], first["approvalsNeeded"]) == ("ana", "approve", 1, 2)
    assert (second["answeredBy"], second["approvals"]) == ("bob", 2)
    assert first["via"] == "inbox" and first["sourceIp"].startswith("127.0.0.1")
    assert json.loads(first["shown"])["Exam"] == "re-sit"
    assert json.loads(first["answer"]) == {"output": {"approved": True, "comment": "fine"}}
    # boto3 reads the same history; it skips the details it does not model, but not the events.
    boto_types = [e["type"] for e in sfn.get_execution_history(executionArn=ex)["events"]]
    assert boto_types.count("TaskAnswerRecorded") == 2


def test_one_rejection_decides(world):
    baton = world["baton"]
    sfn = sfn_as(baton.endpoint)
    machine, _ = activity_task(sfn, "rejected", {"BatonApprovals": 2, "BatonGroup": "teachers"}, TimeoutSeconds=300)
    ex = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    carol = signed_in(baton, "carol")
    task = wait_for(lambda: task_id(carol.request("/inbox")[1], ex), what="task in Carol's inbox")
    assert carol.request("/inbox/answer", {"execution": ex, "task": task, "decision": "reject"})[0] == 200
    out = json.loads(wait_done(sfn, ex)["output"])["answer"]
    assert out == {"approved": False, "approvals": [], "rejectedBy": "carol"}


def test_votes_at_the_same_moment_decide_exactly_once(world):
    baton = world["baton"]
    sfn = sfn_as(baton.endpoint)
    machine, _ = activity_task(sfn, "race", {"BatonApprovals": 2, "BatonGroup": "teachers"}, TimeoutSeconds=300)
    for round_ in range(3):
        ex = sfn.start_execution(stateMachineArn=machine, name=f"race-{round_}")["executionArn"]
        people = [signed_in(baton, u) for u in ("ana", "bob", "carol")]
        task = wait_for(lambda: task_id(people[0].request("/inbox")[1], ex), what="task in the inbox")
        start = threading.Barrier(3)
        results = []

        def vote(person):
            start.wait()
            results.append(person.request("/inbox/answer", {"execution": ex, "task": task, "decision": "approve"})[0])

        threads = [threading.Thread(target=vote, args=(p,)) for p in people]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(code in (200, 409) for code in results), results
        out = json.loads(wait_done(sfn, ex)["output"])["answer"]
        # Exactly two approvals decided it, whoever came first; a third counted for nothing.
        assert out["approved"] is True and len(out["approvals"]) == 2 and len(set(out["approvals"])) == 2
        types = [e["type"] for e in raw_history(baton.endpoint, ex)]
        assert types.count("ActivitySucceeded") == 1 and types.count("TaskAnswerRecorded") == 2


def test_per_person_links_vote_for_their_person(world):
    baton = world["baton"]
    sfn = sfn_as(baton.endpoint)
    params = {"BatonApprovals": 2, "BatonExclude": "carol",
              "Ana": "baton:link:approve:ana", "Bob": "Approve here: baton:link:approve:bob@example.com.",
              "Carol": "baton:link:approve:carol"}
    machine, activity = activity_task(sfn, "links-vote", params, TimeoutSeconds=300)
    ex = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    work = sfn.get_activity_task(activityArn=activity, workerName="mailer")
    sent = json.loads(work["input"])
    links = {k: re.search(r"http://\S+/link/[A-Za-z0-9_.-]+", sent[k]).group(0).rstrip(".") for k in ("Ana", "Bob", "Carol")}
    anon = Browser(baton)
    path = {k: urllib.parse.urlparse(v).path for k, v in links.items()}
    # Carol is excluded: her own link is refused and changes nothing.
    status, body, _ = anon.request(path["Carol"])
    assert status == 403 and "excludes you" in body
    assert anon.request(path["Carol"], {})[0] == 403
    status, body, _ = anon.request(path["Ana"])
    assert status == 200 and "for ana" in body and "0 of 2 approvals" in body
    assert anon.request(path["Ana"], {})[0] == 200
    wait_for(lambda: len(answers(baton.endpoint, ex)) == 1, what="Ana's vote")
    # Ana's link again: she has voted.
    status, body, _ = anon.request(path["Ana"], {})
    assert status == 409 and "answered already" in body
    # Bob's link was made for his address; it votes as the user who has it.
    assert anon.request(path["Bob"], {})[0] == 200
    out = json.loads(wait_done(sfn, ex)["output"])["answer"]
    assert out == {"approved": True, "approvals": ["ana", "bob"]}
    assert [a["via"] for a in answers(baton.endpoint, ex)] == ["link", "link"]
    # Once decided, every link says the task no longer waits.
    assert anon.request(path["Bob"], {})[0] == 409


def test_the_starter_may_not_approve_their_own_request(world):
    baton = world["baton"]
    machine, _ = activity_task(sfn_as(baton.endpoint), "own-request",
                               {"BatonGroup": "teachers", "BatonExcludeStarter": True}, TimeoutSeconds=300)
    # Ana's access key starts it: the execution is hers.
    ex = sfn_as(baton.endpoint, "AKIDANA").start_execution(stateMachineArn=machine)["executionArn"]
    ana, bob = signed_in(baton, "ana"), signed_in(baton, "bob")
    task = wait_for(lambda: task_id(bob.request("/inbox")[1], ex), what="task in Bob's inbox")
    assert task_id(ana.request("/inbox")[1], ex) is None
    status, body, _ = ana.request("/inbox/answer", {"execution": ex, "task": task, "decision": "approve"})
    assert status == 403 and "You may not answer this task" in body
    assert "started" in ana.request("/execution?arn=" + urllib.parse.quote(ex))[1]
    assert " by ana" in ana.request("/execution?arn=" + urllib.parse.quote(ex))[1]
    assert bob.request("/inbox/answer", {"execution": ex, "task": task, "decision": "approve"})[0] == 200
    assert json.loads(wait_done(sfn_as(baton.endpoint), ex)["output"])["answer"] == {"approved": True}
    # An unknown key is recorded as itself: nobody's, so nobody is kept out by it.
    other = sfn_as(baton.endpoint, "AKIDSTRANGER").start_execution(stateMachineArn=machine)["executionArn"]
    assert wait_for(lambda: task_id(ana.request("/inbox")[1], other), what="task in Ana's inbox")
    assert " by AKIDSTRANGER" in ana.request("/execution?arn=" + urllib.parse.quote(other))[1]
    sfn_as(baton.endpoint).stop_execution(executionArn=other)


def metric(endpoint: str, line_start: str) -> float:
    with urllib.request.urlopen(endpoint + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(line_start):
                return float(line.split()[-1])
    return 0.0


def test_reminders_then_escalation_until_answered(world):
    baton, mailbox = world["baton"], world["mailbox"]
    sfn = sfn_as(baton.endpoint)
    reminders = {"Every": 1, "To": "ana@example.com", "EscalateAfter": 3, "EscalateTo": "head@example.com"}
    machine, _ = activity_task(sfn, "reminded", {"BatonAssignee": "ana", "BatonReminders": reminders},
                               TimeoutSeconds=120)
    before = len(mailbox.messages)
    ex = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    def mail_for(address):
        return [(to, raw) for to, raw in mailbox.messages[before:] if address in to]

    # Reminders every second to Ana, then once to the head of department.
    wait_for(lambda: len(mail_for("head@example.com")) == 1, timeout=20, what="an escalation")
    to_ana = wait_for(lambda: (m := mail_for("ana@example.com")) and len(m) >= 2 and m, what="two reminders")
    assert mail_subject(to_ana[0][1]) == "Reminder: Ask is waiting for your answer"
    assert mail_subject(mail_for("head@example.com")[0][1]).startswith("Escalation: Ask has had no answer")
    text = mail_text(to_ana[0][1])
    link = re.search(r"http://\S+/link/\S+", text).group(0)
    assert metric(baton.endpoint, 'baton_task_reminders_total{kind="remind"}') >= 2
    assert metric(baton.endpoint, 'baton_task_reminders_total{kind="escalate"}') >= 1
    # The reminder's link is Ana's: answering it ends the task and the reminders.
    anon = Browser(baton)
    path = urllib.parse.urlparse(link).path
    status, body, _ = anon.request(path)
    assert status == 200 and "for ana@example.com" in body
    assert anon.request(path, {"decision": "approve"})[0] == 200
    assert json.loads(wait_done(sfn, ex)["output"])["answer"] == {"approved": True}
    assert answers(baton.endpoint, ex)[0]["answeredBy"] == "ana"
    time.sleep(0.5)  # a reminder already on its way may still land
    settled = len(mailbox.messages)
    time.sleep(2.5)
    assert len(mailbox.messages) == settled, "reminders went on after the answer"
    assert len(mail_for("head@example.com")) == 1


def test_console_finds_executions_by_the_start_of_their_name(world):
    baton = world["baton"]
    sfn = sfn_as(baton.endpoint)
    machine = sfn.create_state_machine(
        name="searched", definition=definition({"P": {"Type": "Pass", "End": True}}), roleArn=ROLE_ARN
    )["stateMachineArn"]
    for name in ("order-17", "order-18", "order-2", "refund-17"):
        sfn.start_execution(stateMachineArn=machine, name=name)
    ana = signed_in(baton, "ana")
    q = urllib.parse.quote(machine)
    page = ana.request(f"/executions?machine={q}&name=order-1")[1]
    found = re.findall(r">((?:order|refund)-\d+)</a>", page)
    assert found == ["order-17", "order-18"]
    page = ana.request(f"/executions?machine={q}&name=refund")[1]
    assert re.findall(r">((?:order|refund)-\d+)</a>", page) == ["refund-17"]


def cards(page: str, execution: str) -> dict[str, str]:
    """The inbox's task cards of one execution: task id → the card's HTML."""
    found = {}
    for card in page.split('<div class="card task"')[1:]:
        tid = task_id(card, execution)
        if tid is not None:
            found[tid] = card
    return found


def test_map_tasks_of_one_state_each_go_to_their_own_person(world):
    """Every item of a Map waits on the same state: each task is its own, shown, restricted,
    answered and audited as what it was sent, never as another item's task."""
    baton = world["baton"]
    sfn = sfn_as(baton.endpoint)
    activity = sfn.create_activity(name="expense-items")["activityArn"]
    approve = {"Type": "Task", "Resource": activity, "End": True, "TimeoutSeconds": 300,
               "Parameters": {"Expense.$": "$.expense", "BatonAssignee.$": "$.approver", "BatonGroup": "teachers",
                              "BatonExclude.$": "$.submitter"}}
    machine = sfn.create_state_machine(name="expense-items", roleArn=ROLE_ARN, definition=definition({
        "Each": {"Type": "Map", "ItemsPath": "$.items", "End": True,
                 "ItemProcessor": {"StartAt": "Approve", "States": {"Approve": approve}}},
    }))["stateMachineArn"]
    items = [{"expense": "taxi-by-ana", "submitter": "ana", "approver": "bob"},
             {"expense": "hotel-by-bob", "submitter": "bob", "approver": "ana"}]
    ex = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"items": items}))["executionArn"]
    ana, bob = signed_in(baton, "ana"), signed_in(baton, "bob")
    mine = {}
    for who, person, expense, other in ((ana, "ana", "hotel-by-bob", "taxi-by-ana"),
                                        (bob, "bob", "taxi-by-ana", "hotel-by-bob")):
        seen = wait_for(lambda: cards(who.request("/inbox")[1], ex), what=f"a task in {person}'s inbox")
        assert len(seen) == 1, f"{person} sees {len(seen)} tasks"
        (tid, card), = seen.items()
        assert expense in card and other not in card, f"{person} is shown another item's message"
        mine[person] = tid
    assert mine["ana"] != mine["bob"]
    # Nobody answers the other's task (Ana's own expense is Bob's to approve).
    status, body, _ = ana.request("/inbox/answer", {"execution": ex, "task": mine["bob"], "decision": "approve"})
    assert status == 403 and "You may not answer this task" in body
    assert bob.request("/inbox/answer", {"execution": ex, "task": mine["bob"], "decision": "approve"})[0] == 200
    assert ana.request("/inbox/answer", {"execution": ex, "task": mine["ana"], "decision": "reject"})[0] == 200
    out = json.loads(wait_done(sfn, ex)["output"])
    assert out == [{"approved": True}, {"approved": False}]
    audited = {a["answeredBy"]: a for a in answers(baton.endpoint, ex)}
    assert json.loads(audited["bob"]["shown"])["Expense"] == "taxi-by-ana"
    assert json.loads(audited["ana"]["shown"])["Expense"] == "hotel-by-bob"
    assert str(audited["bob"]["taskId"]) == mine["bob"] and str(audited["ana"]["taskId"]) == mine["ana"]


def test_restrictions_hold_however_long_the_history_grows(world):
    """A task whose scheduling is 600 events back keeps its assignees and its two approvals."""
    baton = world["baton"]
    sfn = sfn_as(baton.endpoint)
    activity = sfn.create_activity(name="long-history")["activityArn"]
    ask = {"Type": "Task", "Resource": activity, "End": True, "TimeoutSeconds": 300,
           "Parameters": {"BatonAssignee": ["ana", "bob"], "BatonApprovals": 2, "Report": "annual"}}
    busy = {
        "StartAt": "Count",
        "States": {
            "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "More?"},
            "More?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 150, "Next": "Count"}],
                      "Default": "Enough"},
            "Enough": {"Type": "Succeed"},
        },
    }
    machine = sfn.create_state_machine(name="long-history", roleArn=ROLE_ARN, definition=definition({
        "Both": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Ask", "States": {"Ask": ask}}, busy]},
    }))["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=machine, input='{"n": 0}')["executionArn"]
    events = wait_for(lambda: (h := raw_history(baton.endpoint, ex)) and h[-1]["type"] == "SucceedStateExited" and h,
                      what="the busy branch's end")
    scheduled = next(i for i, e in enumerate(events) if e["type"] == "ActivityScheduled")
    assert len(events) - scheduled > 600
    ana, bob, carol = signed_in(baton, "ana"), signed_in(baton, "bob"), signed_in(baton, "carol")
    assert not cards(carol.request("/inbox")[1], ex), "Carol is not an assignee"
    task = wait_for(lambda: task_id(ana.request("/inbox")[1], ex), what="the task in Ana's inbox")
    status, body, _ = carol.request("/inbox/answer", {"execution": ex, "task": task, "decision": "approve"})
    assert status == 403 and "You may not answer this task" in body
    assert ana.request("/inbox/answer", {"execution": ex, "task": task, "decision": "approve"})[0] == 200
    wait_for(lambda: len(answers(baton.endpoint, ex)) == 1, what="Ana's vote")
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING", "one approval of two decided"
    assert bob.request("/inbox/answer", {"execution": ex, "task": task, "decision": "approve"})[0] == 200
    out = json.loads(wait_done(sfn, ex)["output"])
    assert out[0] == {"approved": True, "approvals": ["ana", "bob"]}


def test_form_choices_written_with_spaces_around_them_can_be_chosen(world):
    baton = world["baton"]
    sfn = sfn_as(baton.endpoint)
    form = [{"name": "grade", "allowed": [" pass ", "fail  "], "required": True}]
    machine, _ = activity_task(sfn, "spaced-choices", {"BatonForm": form, "BatonAssignee": "ana"}, TimeoutSeconds=300)
    ex = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    ana = signed_in(baton, "ana")
    task = wait_for(lambda: task_id(ana.request("/inbox")[1], ex), what="the task in Ana's inbox")
    page = ana.request("/inbox")[1]
    assert "<option>pass</option>" in page, "the choice is offered as it will be compared"
    status, body, _ = ana.request("/inbox/answer", {"execution": ex, "task": task, "decision": "form", "f.grade": "pass"})
    assert status == 200, body
    assert json.loads(wait_done(sfn, ex)["output"])["answer"] == {"grade": "pass"}


def test_a_second_or_late_vote_is_told_what_became_of_it(world):
    baton = world["baton"]
    sfn = sfn_as(baton.endpoint)
    params = {"BatonApprovals": 2, "Anyone": "baton:link:approve", "Ana": "baton:link:approve:ana"}
    machine, activity = activity_task(sfn, "told-votes", params, TimeoutSeconds=300)
    ex = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    sent = json.loads(sfn.get_activity_task(activityArn=activity, workerName="mailer")["input"])
    path = {k: urllib.parse.urlparse(re.search(r"http://\S+/link/[A-Za-z0-9_.-]+", sent[k]).group(0)).path
            for k in ("Anyone", "Ana")}
    anon = Browser(baton)
    status, body, _ = anon.request(path["Anyone"], {})
    assert status == 200 and "was recorded" in body, body
    # The same link again is the same (anonymous) person: the vote counts once, and says so.
    status, body, _ = anon.request(path["Anyone"], {})
    assert status == 409 and "You have answered already" in body, body
    assert anon.request(path["Ana"], {})[0] == 200
    out = json.loads(wait_done(sfn, ex)["output"])["answer"]
    assert out == {"approved": True, "approvals": ["anonymous (link)", "ana"]}
    status, body, _ = anon.request(path["Anyone"], {})
    assert status == 409 and "no longer waiting" in body, body
