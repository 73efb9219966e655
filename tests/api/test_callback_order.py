"""A callback that comes while the call handing out its token is still in flight: the
`answers_first` function calls SendTaskFailure/SendTaskSuccess on the server and only then
returns. AWS records the call's response first, whatever the timing: `TaskSubmitted`, then
`TaskFailed`/`TaskSucceeded`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from support import client, definition, history, types, wait_done

SUBMITTED_THEN = [
    "ExecutionStarted",
    "TaskStateEntered",
    "TaskScheduled",
    "TaskStarted",
    "TaskSubmitted",
]


def answering_task(succeed: bool, stall: str | None = None, **fields) -> dict:
    payload = {"token.$": "$$.Task.Token", "succeed": succeed}
    if stall:
        payload["stall"] = stall
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "answers_first", "Payload": payload},
    }
    state.update(fields)
    state.setdefault("End", True)
    return state


def run(sfn, machine, states: dict) -> tuple[dict, list[dict]]:
    arn = sfn.start_execution(stateMachineArn=machine(definition(states)), input="{}")["executionArn"]
    done = wait_done(sfn, arn, timeout=30)
    return done, history(sfn, arn)


def test_a_failure_sent_before_the_call_returns_comes_after_the_submission(sfn, machine):
    done, events = run(sfn, machine, {"Ask": answering_task(False)})
    assert done["status"] == "FAILED"
    assert (done["error"], done["cause"]) == ("Worker.Refused", "answered first")
    assert types(events) == SUBMITTED_THEN + ["TaskFailed", "ExecutionFailed"]
    submitted = json.loads(events[4]["taskSubmittedEventDetails"]["output"])
    assert submitted["Payload"] == {"handedOut": True}
    failed = events[5]["taskFailedEventDetails"]
    assert (failed["error"], failed["cause"]) == ("Worker.Refused", "answered first")


def test_a_success_sent_before_the_call_returns_comes_after_the_submission(sfn, machine):
    done, events = run(sfn, machine, {"Ask": answering_task(True)})
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"answered": "first"}
    assert types(events) == SUBMITTED_THEN + ["TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


@pytest.mark.parametrize("succeed", [False, True])
def test_an_early_answer_caught_or_not_keeps_the_order_in_a_loop(sfn, machine, succeed):
    # Several tasks in one execution, each answered before its call returns.
    states = {
        "Ask": answering_task(
            succeed,
            ResultPath=None,
            Catch=[{"ErrorEquals": ["Worker.Refused"], "ResultPath": None, "Next": "Again"}],
            End=None,
            Next="Again",
        ),
        "Again": answering_task(succeed, ResultPath=None, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Done"}]),
        "Done": {"Type": "Pass", "End": True},
    }
    states["Ask"].pop("End")
    states["Again"]["End"] = True
    done, events = run(sfn, machine, states)
    assert done["status"] == "SUCCEEDED"
    task_events = [e["type"] for e in events if e["type"].startswith("Task") and "State" not in e["type"]]
    ending = "TaskSucceeded" if succeed else "TaskFailed"
    assert task_events == ["TaskScheduled", "TaskStarted", "TaskSubmitted", ending] * 2


def wait_for_file(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_a_crash_between_the_answer_and_the_call_s_return_loses_neither(baton_server_factory, name, tmp_path):
    # The answer is accepted, then the server dies before the call returns: after the
    # restart the call is made again, and its submission comes before the answer.
    server = baton_server_factory()
    sfn = client(server.endpoint)
    machine = sfn.create_state_machine(
        name=name(),
        definition=definition({"Ask": answering_task(False, stall=str(tmp_path))}),
        roleArn="arn:aws:iam::123456789012:role/r",
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    try:
        wait_for_file(tmp_path / "answered")
        server.crash_and_restart()
        sfn = client(server.endpoint)
        done = wait_done(sfn, arn, timeout=30)
    finally:
        (tmp_path / "release").touch()
    assert (done["status"], done["error"]) == ("FAILED", "Worker.Refused")
    events = history(sfn, arn)
    assert types(events) == SUBMITTED_THEN + ["TaskFailed", "ExecutionFailed"]
    assert json.loads(events[4]["taskSubmittedEventDetails"]["output"])["Payload"] == {"handedOut": "again"}
