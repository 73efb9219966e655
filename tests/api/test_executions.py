"""Executions: Start, Describe, Stop, List, DescribeStateMachineForExecution, RedriveExecution,
StartSyncExecution, and the limits and errors AWS applies to them."""

from __future__ import annotations

import datetime
import json
import time

import pytest

from support import (
    EXEC_PREFIX,
    SM_PREFIX,
    callback_state,
    callback_token,
    definition,
    history,
    raises,
    types,
    wait_done,
    wait_event,
)

WAITING = definition({"W": {"Type": "Wait", "Seconds": 30, "End": True}})
FAILING = definition({"F": {"Type": "Fail", "Error": "Custom.Error", "Cause": "it broke"}})


def test_start_and_describe_a_successful_execution(sfn, machine, name):
    sm = machine(definition({"P": {"Type": "Pass", "Parameters": {"got.$": "$.x"}, "End": True}}))
    en = name("exec")
    started = sfn.start_execution(stateMachineArn=sm, name=en, input='{"x": 41}')
    assert started["executionArn"] == EXEC_PREFIX + sm.removeprefix(SM_PREFIX) + ":" + en
    assert isinstance(started["startDate"], datetime.datetime)

    d = wait_done(sfn, started["executionArn"])
    assert d["status"] == "SUCCEEDED"
    assert d["name"] == en
    assert d["stateMachineArn"] == sm
    assert json.loads(d["input"]) == {"x": 41}
    assert json.loads(d["output"]) == {"got": 41}
    assert d["inputDetails"] == {"included": True}
    assert d["outputDetails"] == {"included": True}
    assert d["startDate"] == started["startDate"]
    assert d["stopDate"] >= d["startDate"]
    assert "error" not in d and "cause" not in d
    assert d["redriveStatus"] == "NOT_REDRIVABLE"


def test_start_without_name_or_input(sfn, machine):
    sm = machine()
    arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
    d = wait_done(sfn, arn)
    # The name is a generated UUID; the input defaults to {}.
    assert len(d["name"]) == 36 and d["name"].count("-") == 4
    assert json.loads(d["input"]) == {}
    assert json.loads(d["output"]) == {}


def test_failed_execution_reports_error_and_cause(sfn, machine):
    arn = sfn.start_execution(stateMachineArn=machine(FAILING))["executionArn"]
    d = wait_done(sfn, arn)
    assert d["status"] == "FAILED"
    assert d["error"] == "Custom.Error"
    assert d["cause"] == "it broke"
    assert "output" not in d
    assert d["redriveStatus"] == "REDRIVABLE"
    events = history(sfn, arn)
    assert types(events) == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
    assert events[-1]["executionFailedEventDetails"] == {"error": "Custom.Error", "cause": "it broke"}


def test_start_is_idempotent_while_running_with_the_same_input(sfn, machine, name):
    sm = machine(WAITING)
    en = name()
    first = sfn.start_execution(stateMachineArn=sm, name=en, input='{"a": 1}')
    again = sfn.start_execution(stateMachineArn=sm, name=en, input='{"a": 1}')
    assert again["executionArn"] == first["executionArn"]
    assert again["startDate"] == first["startDate"]
    with raises("ExecutionAlreadyExists", f"Execution Already Exists: '{first['executionArn']}'"):
        sfn.start_execution(stateMachineArn=sm, name=en, input='{"a": 2}')
    sfn.stop_execution(executionArn=first["executionArn"])
    wait_done(sfn, first["executionArn"])
    # Closed: even the same input is refused.
    with raises("ExecutionAlreadyExists"):
        sfn.start_execution(stateMachineArn=sm, name=en, input='{"a": 1}')


def test_start_errors(sfn, machine):
    sm = machine()
    with raises("StateMachineDoesNotExist"):
        sfn.start_execution(stateMachineArn=SM_PREFIX + "no-such-machine")
    with raises("InvalidArn"):
        sfn.start_execution(stateMachineArn="arn:nope")
    with raises("InvalidName", "Invalid Name: 'bad name'"):
        sfn.start_execution(stateMachineArn=sm, name="bad name")
    with raises("InvalidExecutionInput", "Invalid State Machine Execution Input"):
        sfn.start_execution(stateMachineArn=sm, input="{not json")


def test_input_over_256_kib_is_refused(sfn, machine):
    sm = machine()
    just_fits = json.dumps({"pad": "x" * (262144 - 11)})
    assert len(just_fits.encode()) == 262144
    arn = sfn.start_execution(stateMachineArn=sm, input=just_fits)["executionArn"]
    assert wait_done(sfn, arn)["status"] == "SUCCEEDED"
    too_big = json.dumps({"pad": "x" * (262144 - 10)})
    with raises("InvalidExecutionInput", "262144"):
        sfn.start_execution(stateMachineArn=sm, input=too_big)


def test_state_output_over_256_kib_fails_with_data_limit_exceeded(sfn, machine):
    # Each branch passes ~150 KB through; together they are over 256 KiB.
    sm = machine(
        definition(
            {
                "Both": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
                    ],
                    "End": True,
                }
            }
        )
    )
    arn = sfn.start_execution(stateMachineArn=sm, input=json.dumps({"pad": "y" * 150_000}))["executionArn"]
    d = wait_done(sfn, arn)
    assert d["status"] == "FAILED"
    assert d["error"] == "States.DataLimitExceeded"


def test_describe_errors(sfn):
    missing = EXEC_PREFIX + "no-such-machine:no-such-execution"
    with raises("ExecutionDoesNotExist", f"Execution Does Not Exist: '{missing}'"):
        sfn.describe_execution(executionArn=missing)
    with raises("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: garbage'"):
        sfn.describe_execution(executionArn="garbage")
    with raises("InvalidArn", "Resource type not valid in this context: express"):
        sfn.describe_execution(executionArn="arn:aws:states:us-east-1:123456789012:express:m:e:abc")


def test_stop_without_error_or_cause(sfn, machine):
    arn = sfn.start_execution(stateMachineArn=machine(WAITING))["executionArn"]
    wait_event(sfn, arn, "WaitStateEntered")
    stopped = sfn.stop_execution(executionArn=arn)
    assert isinstance(stopped["stopDate"], datetime.datetime)
    d = wait_done(sfn, arn)
    assert d["status"] == "ABORTED"
    assert "error" not in d and "cause" not in d
    events = history(sfn, arn)
    assert types(events) == ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]
    aborted = events[-1]
    assert aborted["previousEventId"] == 0
    assert aborted.get("executionAbortedEventDetails", {}) == {}


def test_an_execution_is_aborted_when_stop_execution_returns(sfn, machine):
    sm = machine(WAITING)
    for _ in range(30):
        arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
        stopped = sfn.stop_execution(executionArn=arn)
        d = sfn.describe_execution(executionArn=arn)
        assert d["status"] == "ABORTED", "StopExecution answered before the stop was made"
        assert d["stopDate"] == stopped["stopDate"]


def test_stop_with_error_and_cause(sfn, machine):
    arn = sfn.start_execution(stateMachineArn=machine(WAITING))["executionArn"]
    wait_event(sfn, arn, "WaitStateEntered")
    sfn.stop_execution(executionArn=arn, error="Operator.Stop", cause="changed my mind")
    d = wait_done(sfn, arn)
    assert (d["status"], d["error"], d["cause"]) == ("ABORTED", "Operator.Stop", "changed my mind")
    assert history(sfn, arn)[-1]["executionAbortedEventDetails"] == {
        "error": "Operator.Stop",
        "cause": "changed my mind",
    }


def test_execution_timeout_seconds_times_the_execution_out(sfn, machine):
    sm = machine(definition({"W": {"Type": "Wait", "Seconds": 30, "End": True}}, TimeoutSeconds=1))
    arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
    d = wait_done(sfn, arn, timeout=6)
    assert (d["status"], d["error"]) == ("TIMED_OUT", "States.Timeout")
    assert d["redriveStatus"] == "REDRIVABLE"
    events = history(sfn, arn)
    assert types(events) == ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]
    timed_out = events[-1]
    assert timed_out["previousEventId"] == 0
    assert timed_out["executionTimedOutEventDetails"]["error"] == "States.Timeout"
    waited = (timed_out["timestamp"] - events[0]["timestamp"]).total_seconds()
    assert 0.9 <= waited < 4, waited


def test_stop_unknown_execution(sfn):
    with raises("ExecutionDoesNotExist"):
        sfn.stop_execution(executionArn=EXEC_PREFIX + "m:nope")


def test_stop_error_longer_than_256_is_a_validation_error(sfn, machine):
    arn = sfn.start_execution(stateMachineArn=machine(WAITING))["executionArn"]
    with raises("ValidationException", "error"):
        sfn.stop_execution(executionArn=arn, error="E" * 257)
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    sfn.stop_execution(executionArn=arn, error="E" * 256)
    assert wait_done(sfn, arn)["error"] == "E" * 256


def test_stop_cause_longer_than_32768_is_a_validation_error(sfn, machine):
    arn = sfn.start_execution(stateMachineArn=machine(WAITING))["executionArn"]
    try:
        with raises("ValidationException", "cause"):
            sfn.stop_execution(executionArn=arn, cause="c" * 32769)
    finally:
        sfn.stop_execution(executionArn=arn)


def test_list_executions_newest_first_with_filter_and_pages(sfn, machine):
    sm = machine(WAITING)
    arns = []
    for i in range(3):
        arns.append(sfn.start_execution(stateMachineArn=sm, name=f"run-{i}")["executionArn"])
        time.sleep(0.01)
    sfn.stop_execution(executionArn=arns[0])
    wait_done(sfn, arns[0])

    listed = sfn.list_executions(stateMachineArn=sm)["executions"]
    assert [e["executionArn"] for e in listed] == arns[::-1]
    first = listed[-1]
    assert first["status"] == "ABORTED" and "stopDate" in first
    assert listed[0]["status"] == "RUNNING" and "stopDate" not in listed[0]
    assert listed[0]["name"] == "run-2" and listed[0]["stateMachineArn"] == sm

    running = sfn.list_executions(stateMachineArn=sm, statusFilter="RUNNING")["executions"]
    assert [e["executionArn"] for e in running] == arns[:0:-1]
    aborted = sfn.list_executions(stateMachineArn=sm, statusFilter="ABORTED")["executions"]
    assert [e["executionArn"] for e in aborted] == [arns[0]]

    page1 = sfn.list_executions(stateMachineArn=sm, maxResults=2)
    assert len(page1["executions"]) == 2 and page1["nextToken"]
    page2 = sfn.list_executions(stateMachineArn=sm, maxResults=2, nextToken=page1["nextToken"])
    assert "nextToken" not in page2
    assert [e["executionArn"] for e in page1["executions"] + page2["executions"]] == arns[::-1]
    for a in arns[1:]:
        sfn.stop_execution(executionArn=a)


def test_list_executions_errors(sfn, machine):
    sm = machine()
    with raises("StateMachineDoesNotExist"):
        sfn.list_executions(stateMachineArn=SM_PREFIX + "no-such-machine")
    with raises("ValidationException", "Member must have value less than or equal to 1000"):
        sfn.list_executions(stateMachineArn=sm, maxResults=1001)
    with raises("InvalidToken"):
        sfn.list_executions(stateMachineArn=sm, nextToken="not-a-token")
    with raises("ValidationException", "statusFilter"):
        sfn.list_executions(stateMachineArn=sm, statusFilter="SLEEPING")


def test_list_executions_refuses_express_machines(sfn, machine):
    with raises("StateMachineTypeNotSupported"):
        sfn.list_executions(stateMachineArn=machine(type="EXPRESS"))


def test_recreated_machine_does_not_inherit_old_executions(sfn, machine, name):
    n = name()
    sm = machine(name=n)
    old = sfn.start_execution(stateMachineArn=sm, name="first")["executionArn"]
    wait_done(sfn, old)
    sfn.delete_state_machine(stateMachineArn=sm)
    assert machine(name=n) == sm
    assert sfn.list_executions(stateMachineArn=sm)["executions"] == []


def test_delete_machine_stops_its_running_executions(sfn, machine):
    sm = machine(WAITING)
    arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
    wait_event(sfn, arn, "WaitStateEntered")
    sfn.delete_state_machine(stateMachineArn=sm)
    assert wait_done(sfn, arn)["status"] == "ABORTED"


def test_describe_state_machine_for_execution_keeps_the_definition_it_ran(sfn, machine):
    sm = machine(WAITING)
    arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
    new_definition = definition({"Other": {"Type": "Succeed"}})
    sfn.update_state_machine(stateMachineArn=sm, definition=new_definition)
    d = sfn.describe_state_machine_for_execution(executionArn=arn)
    assert json.loads(d["definition"]) == json.loads(WAITING)
    assert d["stateMachineArn"] == sm
    assert d["name"] == sm.removeprefix(SM_PREFIX)
    assert isinstance(d["updateDate"], datetime.datetime)
    # A new execution runs the new definition.
    later = sfn.start_execution(stateMachineArn=sm)["executionArn"]
    assert json.loads(sfn.describe_state_machine_for_execution(executionArn=later)["definition"]) == json.loads(
        new_definition
    )
    sfn.stop_execution(executionArn=arn)
    with raises("ExecutionDoesNotExist"):
        sfn.describe_state_machine_for_execution(executionArn=EXEC_PREFIX + "m:nope")


# ----- redrive -----------------------------------------------------------------------------


def test_redrive_resumes_from_the_failed_state(sfn, machine):
    sm = machine(
        definition(
            {
                "First": {"Type": "Pass", "Result": "done", "ResultPath": "$.first", "Next": "Ask"},
                "Ask": callback_state(),
            }
        )
    )
    arn = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    sfn.send_task_failure(taskToken=callback_token(sfn, arn), error="Not.Yet", cause="try later")
    failed = wait_done(sfn, arn)
    assert (failed["status"], failed["error"]) == ("FAILED", "Not.Yet")
    assert failed["redriveStatus"] == "REDRIVABLE"
    assert failed["redriveCount"] == 0

    redriven = sfn.redrive_execution(executionArn=arn)
    assert isinstance(redriven["redriveDate"], datetime.datetime)
    # The callback Task runs again with a new token; the Pass before it does not.
    token = callback_token(sfn, arn, count=2)
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    d = wait_done(sfn, arn)
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == {"approved": True}
    assert d["redriveCount"] == 1
    assert "redriveDate" in d
    events = history(sfn, arn)
    assert types(events).count("PassStateEntered") == 1
    [redrive_event] = [e for e in events if e["type"] == "ExecutionRedriven"]
    assert redrive_event["executionRedrivenEventDetails"] == {"redriveCount": 1}
    ids = [e["id"] for e in events]
    assert ids == list(range(1, len(events) + 1))


def test_redrive_resumes_an_aborted_execution(sfn, machine):
    sm = machine(definition({"W": {"Type": "Wait", "Seconds": 1, "Next": "P"}, "P": {"Type": "Pass", "End": True}}))
    arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
    wait_event(sfn, arn, "WaitStateEntered")
    sfn.stop_execution(executionArn=arn)
    assert wait_done(sfn, arn)["redriveStatus"] == "REDRIVABLE"
    sfn.redrive_execution(executionArn=arn)
    d = wait_done(sfn, arn, timeout=6)
    assert (d["status"], d["redriveCount"]) == ("SUCCEEDED", 1)
    events = history(sfn, arn)
    assert types(events) == [
        "ExecutionStarted",
        "WaitStateEntered",
        "ExecutionAborted",
        "ExecutionRedriven",
        "WaitStateEntered",
        "WaitStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert [e["id"] for e in events] == list(range(1, 10))
    assert events[3]["executionRedrivenEventDetails"] == {"redriveCount": 1}


def test_redrive_refuses_a_succeeded_execution(sfn, machine):
    arn = sfn.start_execution(stateMachineArn=machine())["executionArn"]
    wait_done(sfn, arn)
    with raises("ExecutionNotRedrivable"):
        sfn.redrive_execution(executionArn=arn)
    with raises("ExecutionDoesNotExist"):
        sfn.redrive_execution(executionArn=EXEC_PREFIX + "m:nope")


# ----- Express -----------------------------------------------------------------------------


def test_start_sync_execution_answers_with_the_result(sfn_sync, machine, name):
    sm = machine(
        definition({"P": {"Type": "Pass", "Parameters": {"twice.$": "States.MathAdd($.n, $.n)"}, "End": True}}),
        type="EXPRESS",
    )
    en = name()
    r = sfn_sync.start_sync_execution(stateMachineArn=sm, name=en, input='{"n": 21}')
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["status"] == "SUCCEEDED"
    assert json.loads(r["output"]) == {"twice": 42}
    assert r["stateMachineArn"] == sm
    assert r["name"] == en
    assert r["executionArn"].startswith(
        f"arn:aws:states:us-east-1:123456789012:express:{sm.removeprefix(SM_PREFIX)}:{en}:"
    )
    assert r["stopDate"] >= r["startDate"]
    assert json.loads(r["input"]) == {"n": 21}
    assert r["billingDetails"]["billedDurationInMilliseconds"] >= 0


def test_start_sync_execution_reports_failure_with_200(sfn_sync, machine):
    sm = machine(FAILING, type="EXPRESS")
    r = sfn_sync.start_sync_execution(stateMachineArn=sm)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert (r["status"], r["error"], r["cause"]) == ("FAILED", "Custom.Error", "it broke")
    assert "output" not in r


def test_start_sync_execution_calls_functions(sfn_sync, machine):
    sm = machine(
        definition(
            {
                "Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "echo", "Payload.$": "$"},
                    "OutputPath": "$.Payload",
                    "End": True,
                }
            }
        ),
        type="EXPRESS",
    )
    r = sfn_sync.start_sync_execution(stateMachineArn=sm, input='{"hello": "world"}')
    assert r["status"] == "SUCCEEDED", r
    assert json.loads(r["output"]) == {"hello": "world"}


def test_start_sync_execution_errors(sfn_sync, machine):
    with raises("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine"):
        sfn_sync.start_sync_execution(stateMachineArn=machine(type="STANDARD"))
    express = machine(type="EXPRESS")
    with raises("InvalidExecutionInput"):
        sfn_sync.start_sync_execution(stateMachineArn=express, input="[")
    with raises("StateMachineDoesNotExist"):
        sfn_sync.start_sync_execution(stateMachineArn=SM_PREFIX + "no-such-machine")


def test_start_execution_on_express_returns_an_express_arn(sfn, machine, name):
    sm = machine(type="EXPRESS")
    en = name()
    arn = sfn.start_execution(stateMachineArn=sm, name=en)["executionArn"]
    assert arn.startswith(f"arn:aws:states:us-east-1:123456789012:express:{sm.removeprefix(SM_PREFIX)}:{en}:")
    with raises("InvalidArn", "express"):
        sfn.describe_execution(executionArn=arn)
