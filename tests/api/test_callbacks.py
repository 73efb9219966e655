"""The callback pattern: a `lambda:invoke.waitForTaskToken` Task hands `$$.Task.Token` to a
function (configured in the generated baton.toml), pauses, and resumes on SendTaskSuccess or
SendTaskFailure; heartbeats and timeouts apply (sfn-features.md §4.2)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from support import (
    callback_state,
    callback_token,
    client,
    definition,
    history,
    raises,
    types,
    wait_done,
    wait_event,
)

CALLBACK_PREFIX = [
    "ExecutionStarted",
    "TaskStateEntered",
    "TaskScheduled",
    "TaskStarted",
    "TaskSubmitted",
]


def start(sfn, machine, states: dict, input: str = '{"order": 7}') -> str:
    return sfn.start_execution(stateMachineArn=machine(definition(states)), input=input)["executionArn"]


def test_token_reaches_the_function_and_success_resumes(sfn, machine):
    arn = start(sfn, machine, {"Approve": callback_state(ResultPath="$.answer")})
    token = callback_token(sfn, arn)
    assert token and len(token) <= 2048
    # Paused: nothing happens until the token comes back.
    time.sleep(0.3)
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    events = history(sfn, arn)
    assert types(events) == CALLBACK_PREFIX
    scheduled = events[2]["taskScheduledEventDetails"]
    assert (scheduled["resourceType"], scheduled["resource"]) == ("lambda", "invoke.waitForTaskToken")
    assert json.loads(scheduled["parameters"])["Payload"]["input"] == {"order": 7}
    submitted = events[4]["taskSubmittedEventDetails"]
    assert json.loads(submitted["output"])["Payload"] == {}

    assert (
        sfn.send_task_success(taskToken=token, output='{"approved": true}')["ResponseMetadata"]["HTTPStatusCode"] == 200
    )
    d = wait_done(sfn, arn)
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == {"order": 7, "answer": {"approved": True}}
    events = history(sfn, arn)
    assert [(e["type"], e["id"], e["previousEventId"]) for e in events] == [
        ("ExecutionStarted", 1, 0),
        ("TaskStateEntered", 2, 0),
        ("TaskScheduled", 3, 2),
        ("TaskStarted", 4, 3),
        ("TaskSubmitted", 5, 4),
        ("TaskSucceeded", 6, 5),
        ("TaskStateExited", 7, 6),
        ("ExecutionSucceeded", 8, 7),
    ]
    ok = events[5]["taskSucceededEventDetails"]
    assert (ok["resourceType"], ok["resource"]) == ("lambda", "invoke.waitForTaskToken")
    assert json.loads(ok["output"]) == {"approved": True}


def test_a_second_answer_gets_task_timed_out(sfn, machine):
    arn = start(sfn, machine, {"Approve": callback_state()})
    token = callback_token(sfn, arn)
    sfn.send_task_success(taskToken=token, output="{}")
    with raises("TaskTimedOut"):
        sfn.send_task_success(taskToken=token, output="{}")
    with raises("TaskTimedOut"):
        sfn.send_task_failure(taskToken=token, error="Late")
    with raises("TaskTimedOut"):
        sfn.send_task_heartbeat(taskToken=token)
    assert wait_done(sfn, arn)["status"] == "SUCCEEDED"


def test_concurrent_answers_exactly_one_wins(server, sfn, machine):
    arn = start(sfn, machine, {"Approve": callback_state()})
    token = callback_token(sfn, arn)
    outcomes: list[str] = []
    lock = threading.Lock()

    def answer(i: int):
        try:
            client(server.endpoint).send_task_success(taskToken=token, output=json.dumps({"winner": i}))
            outcome = "ok"
        except ClientError as e:
            outcome = e.response["Error"]["Code"]
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(outcomes) == ["TaskTimedOut"] * 5 + ["ok"]
    d = wait_done(sfn, arn)
    assert d["status"] == "SUCCEEDED"
    assert types(history(sfn, arn)).count("TaskSucceeded") == 1


def test_token_works_before_the_function_returns(sfn, machine):
    arn = start(sfn, machine, {"Approve": callback_state("slow")})
    scheduled = wait_event(sfn, arn, "TaskScheduled")
    token = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["Payload"]["token"]
    sfn.send_task_success(taskToken=token, output='{"early": true}')
    d = wait_done(sfn, arn)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"early": True})
    time.sleep(0.6)  # the function has returned by now; its late report changes nothing
    events = history(sfn, arn)
    assert types(events).count("TaskSucceeded") == 1
    assert types(events)[-1] == "ExecutionSucceeded"


def test_garbage_tokens_are_invalid(sfn):
    for bad in ["garbage", "x" * 100, "AAAA"]:
        with raises("InvalidToken"):
            sfn.send_task_success(taskToken=bad, output="{}")
        with raises("InvalidToken"):
            sfn.send_task_failure(taskToken=bad)
        with raises("InvalidToken"):
            sfn.send_task_heartbeat(taskToken=bad)


def test_output_that_is_not_json_is_invalid_output(sfn, machine):
    arn = start(sfn, machine, {"Approve": callback_state()})
    token = callback_token(sfn, arn)
    with raises("InvalidOutput"):
        sfn.send_task_success(taskToken=token, output="{not json")
    # The task is still open: a good answer is accepted.
    sfn.send_task_success(taskToken=token, output='"fine"')
    d = wait_done(sfn, arn)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", "fine")


def test_failure_uncaught_fails_the_execution(sfn, machine):
    arn = start(sfn, machine, {"Approve": callback_state()})
    sfn.send_task_failure(taskToken=callback_token(sfn, arn), error="Rejected", cause="not today")
    d = wait_done(sfn, arn)
    assert (d["status"], d["error"], d["cause"]) == ("FAILED", "Rejected", "not today")
    events = history(sfn, arn)
    assert types(events) == CALLBACK_PREFIX + ["TaskFailed", "ExecutionFailed"]
    failed = events[5]["taskFailedEventDetails"]
    assert failed == {
        "resourceType": "lambda",
        "resource": "invoke.waitForTaskToken",
        "error": "Rejected",
        "cause": "not today",
    }
    assert events[6]["executionFailedEventDetails"] == {"error": "Rejected", "cause": "not today"}


def test_failure_caught_by_catch(sfn, machine):
    arn = start(
        sfn,
        machine,
        {
            "Approve": callback_state(
                Catch=[{"ErrorEquals": ["Rejected"], "ResultPath": "$.why", "Next": "Rejected"}], Next="Approved"
            ),
            "Approved": {"Type": "Succeed"},
            "Rejected": {"Type": "Pass", "End": True},
        },
    )
    sfn.send_task_failure(taskToken=callback_token(sfn, arn), error="Rejected", cause="no budget")
    d = wait_done(sfn, arn)
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == {"order": 7, "why": {"Error": "Rejected", "Cause": "no budget"}}
    assert types(history(sfn, arn)) == CALLBACK_PREFIX + [
        "TaskFailed",
        "TaskStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]


def test_failure_without_error_is_still_caught_by_states_all(sfn, machine):
    arn = start(
        sfn,
        machine,
        {
            "Approve": callback_state(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]),
            "Caught": {"Type": "Succeed"},
        },
    )
    sfn.send_task_failure(taskToken=callback_token(sfn, arn))
    assert wait_done(sfn, arn)["status"] == "SUCCEEDED"
    failed = [e for e in history(sfn, arn) if e["type"] == "TaskFailed"][0]["taskFailedEventDetails"]
    assert "error" not in failed


def test_timeout_seconds_fires_states_timeout_and_late_answers_get_task_timed_out(sfn, machine):
    arn = start(sfn, machine, {"Approve": callback_state(TimeoutSeconds=1)})
    token = callback_token(sfn, arn)
    d = wait_done(sfn, arn, timeout=6)
    assert (d["status"], d["error"]) == ("FAILED", "States.Timeout")
    events = history(sfn, arn)
    assert types(events) == CALLBACK_PREFIX + ["TaskTimedOut", "ExecutionFailed"]
    assert events[2]["taskScheduledEventDetails"]["timeoutInSeconds"] == 1
    timed_out = events[5]["taskTimedOutEventDetails"]
    assert timed_out["error"] == "States.Timeout"
    assert (timed_out["resourceType"], timed_out["resource"]) == ("lambda", "invoke.waitForTaskToken")
    # It fired on time: about a second after the task was scheduled.
    waited = (events[5]["timestamp"] - events[2]["timestamp"]).total_seconds()
    assert 0.9 <= waited < 4, waited
    with raises("TaskTimedOut"):
        sfn.send_task_success(taskToken=token, output="{}")


def test_heartbeats_keep_the_task_alive(sfn, machine):
    arn = start(sfn, machine, {"Approve": callback_state(HeartbeatSeconds=2, TimeoutSeconds=20)})
    token = callback_token(sfn, arn)
    before = len(history(sfn, arn))
    for _ in range(6):  # 3 s of heartbeats: longer than HeartbeatSeconds
        time.sleep(0.5)
        sfn.send_task_heartbeat(taskToken=token)
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    # Heartbeats write no history events.
    assert len(history(sfn, arn)) == before
    sfn.send_task_success(taskToken=token, output='{"alive": true}')
    d = wait_done(sfn, arn)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"alive": True})


def test_missing_heartbeat_fires_states_heartbeat_timeout(sfn, machine):
    arn = start(
        sfn,
        machine,
        {
            "Approve": callback_state(
                HeartbeatSeconds=1,
                TimeoutSeconds=30,
                Catch=[{"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.err", "Next": "Gone"}],
            ),
            "Gone": {"Type": "Pass", "End": True},
        },
    )
    token = callback_token(sfn, arn)
    d = wait_done(sfn, arn, timeout=6)
    assert d["status"] == "SUCCEEDED"
    # AWS records a missed heartbeat as States.Timeout; a catcher naming
    # States.HeartbeatTimeout still catches it.
    assert json.loads(d["output"])["err"] == {"Error": "States.Timeout", "Cause": ""}
    events = history(sfn, arn)
    assert types(events)[:7] == CALLBACK_PREFIX + ["TaskTimedOut", "TaskStateExited"]
    assert events[2]["taskScheduledEventDetails"]["heartbeatInSeconds"] == 1
    assert events[5]["taskTimedOutEventDetails"]["error"] == "States.Timeout"
    with raises("TaskTimedOut"):
        sfn.send_task_heartbeat(taskToken=token)


def test_heartbeat_does_not_extend_timeout_seconds(sfn, machine):
    arn = start(sfn, machine, {"Approve": callback_state(HeartbeatSeconds=2, TimeoutSeconds=3)})
    token = callback_token(sfn, arn)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5:
        try:
            sfn.send_task_heartbeat(taskToken=token)
        except sfn.exceptions.TaskTimedOut:
            break
        time.sleep(0.5)
    d = wait_done(sfn, arn, timeout=3)
    # Timed out by TimeoutSeconds while heartbeats kept coming, not by a missed heartbeat.
    assert (d["status"], d["error"]) == ("FAILED", "States.Timeout")


def test_stopped_execution_answers_get_task_timed_out(sfn, machine):
    arn = start(sfn, machine, {"Approve": callback_state()})
    token = callback_token(sfn, arn)
    sfn.stop_execution(executionArn=arn)
    assert wait_done(sfn, arn)["status"] == "ABORTED"
    with raises("TaskTimedOut"):
        sfn.send_task_success(taskToken=token, output="{}")


def test_retry_issues_a_new_token(sfn, machine):
    arn = start(
        sfn,
        machine,
        {"Approve": callback_state(Retry=[{"ErrorEquals": ["Again"], "IntervalSeconds": 1, "MaxAttempts": 1}])},
    )
    first = callback_token(sfn, arn)
    sfn.send_task_failure(taskToken=first, error="Again")
    second = callback_token(sfn, arn, count=2)
    assert second != first
    with raises("TaskTimedOut"):
        sfn.send_task_success(taskToken=first, output="{}")
    sfn.send_task_success(taskToken=second, output='{"n": 2}')
    d = wait_done(sfn, arn)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"n": 2})


def test_callback_without_a_token_parameter_waits_until_timeout(sfn, machine):
    # Not a definition error on AWS: the Task simply waits (sfn-features.md §0).
    arn = start(
        sfn,
        machine,
        {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "empty", "Payload": {}},
                "TimeoutSeconds": 1,
                "End": True,
            }
        },
    )
    wait_event(sfn, arn, "TaskSubmitted")
    d = wait_done(sfn, arn, timeout=6)
    assert (d["status"], d["error"]) == ("FAILED", "States.Timeout")


def test_send_task_failure_limits_error_and_cause(sfn, machine):
    arn = start(sfn, machine, {"Approve": callback_state()})
    token = callback_token(sfn, arn)
    try:
        with raises("ValidationException"):
            sfn.send_task_failure(taskToken=token, error="E" * 257)
        with raises("ValidationException"):
            sfn.send_task_failure(taskToken=token, error="E", cause="c" * 32769)
    finally:
        sfn.stop_execution(executionArn=arn)
