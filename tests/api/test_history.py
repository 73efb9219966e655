"""GetExecutionHistory: paging, reverseOrder, includeExecutionData, and event types, ids,
previousEventId and `*EventDetails` as AWS records them (sfn-features.md §5)."""

from __future__ import annotations

import datetime
import json

from support import EXEC_PREFIX, ROLE_ARN, definition, history, raises, types, wait_done

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


def run(sfn, machine, states: dict, input: str = "{}", **top) -> tuple[dict, list[dict]]:
    arn = sfn.start_execution(stateMachineArn=machine(definition(states, **top)), input=input)["executionArn"]
    return wait_done(sfn, arn), history(sfn, arn)


def linked(events):
    return [(e["type"], e["id"], e["previousEventId"]) for e in events]


def test_pass_execution_history_is_exactly_as_aws_records_it(sfn, machine):
    d, events = run(
        sfn,
        machine,
        {"Hello": {"Type": "Pass", "Result": {"hi": 1}, "ResultPath": "$.r", "End": True}},
        input='{"n": 10}',
    )
    assert d["status"] == "SUCCEEDED"
    assert linked(events) == [
        ("ExecutionStarted", 1, 0),
        ("PassStateEntered", 2, 0),
        ("PassStateExited", 3, 2),
        ("ExecutionSucceeded", 4, 3),
    ]
    for e in events:
        assert isinstance(e["timestamp"], datetime.datetime)
        # One details member at most, named after the event type.
        assert len([k for k in e if k.endswith("EventDetails")]) == 1
    assert events[0]["executionStartedEventDetails"] == {
        "input": '{"n":10}',
        "inputDetails": {"truncated": False},
        "roleArn": ROLE_ARN,
    }
    assert events[1]["stateEnteredEventDetails"] == {
        "name": "Hello",
        "input": '{"n":10}',
        "inputDetails": {"truncated": False},
    }
    exited = events[2]["stateExitedEventDetails"]
    assert exited["name"] == "Hello"
    assert json.loads(exited["output"]) == {"n": 10, "r": {"hi": 1}}
    assert exited["outputDetails"] == {"truncated": False}
    succeeded = events[3]["executionSucceededEventDetails"]
    assert json.loads(succeeded["output"]) == {"n": 10, "r": {"hi": 1}}
    assert succeeded["outputDetails"] == {"truncated": False}
    assert events[0]["timestamp"] <= events[-1]["timestamp"]


def test_paging_and_reverse_order(sfn, machine):
    states = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(5)}
    states["S5"] = {"Type": "Succeed"}
    d, events = run(sfn, machine, states)
    arn = d["executionArn"]
    assert len(events) == 14
    assert [e["id"] for e in events] == list(range(1, 15))

    pages, token = [], None
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=4, **({"nextToken": token} if token else {}))
        pages.append(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [4, 4, 4, 2]
    assert [e["id"] for p in pages for e in p] == list(range(1, 15))

    newest_first = sfn.get_execution_history(executionArn=arn, reverseOrder=True)["events"]
    assert [e["id"] for e in newest_first] == list(range(14, 0, -1))
    assert newest_first[0]["type"] == "ExecutionSucceeded"

    rev1 = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=5)
    rev2 = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=5, nextToken=rev1["nextToken"])
    assert [e["id"] for e in rev1["events"] + rev2["events"]] == list(range(14, 4, -1))

    # The boto3 paginator agrees.
    paged = [
        e
        for p in sfn.get_paginator("get_execution_history").paginate(executionArn=arn, PaginationConfig={"PageSize": 3})
        for e in p["events"]
    ]
    assert [e["id"] for e in paged] == list(range(1, 15))


def test_include_execution_data_false_drops_inputs_and_outputs(sfn, machine):
    d, _ = run(sfn, machine, {"P": {"Type": "Pass", "End": True}}, input='{"secret": 1}')
    events = sfn.get_execution_history(executionArn=d["executionArn"], includeExecutionData=False)["events"]
    assert types(events) == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    text = json.dumps(events, default=str)
    assert "secret" not in text
    for e in events:
        for key, details in e.items():
            if key.endswith("EventDetails"):
                assert not {"input", "output"} & set(details), e
    assert events[0]["executionStartedEventDetails"]["roleArn"] == ROLE_ARN
    assert events[1]["stateEnteredEventDetails"]["name"] == "P"


def test_history_errors(sfn, machine):
    d, _ = run(sfn, machine, {"P": {"Type": "Pass", "End": True}})
    with raises("InvalidToken"):
        sfn.get_execution_history(executionArn=d["executionArn"], nextToken="bogus")
    with raises("ValidationException", "Member must have value less than or equal to 1000"):
        sfn.get_execution_history(executionArn=d["executionArn"], maxResults=1001)
    with raises("ExecutionDoesNotExist"):
        sfn.get_execution_history(executionArn=EXEC_PREFIX + "m:missing")
    with raises("InvalidArn"):
        sfn.get_execution_history(executionArn="arn:aws:states:us-east-1:123456789012:express:m:e:x")


def test_choice_and_wait_sequence(sfn, machine):
    d, events = run(
        sfn,
        machine,
        {
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "Pause"}],
                "Default": "Stop",
            },
            "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
            "Done": {"Type": "Succeed"},
            "Stop": {"Type": "Fail", "Error": "NoGo"},
        },
        input='{"go": true}',
    )
    assert d["status"] == "SUCCEEDED"
    assert linked(events) == [
        ("ExecutionStarted", 1, 0),
        ("ChoiceStateEntered", 2, 0),
        ("ChoiceStateExited", 3, 2),
        ("WaitStateEntered", 4, 3),
        ("WaitStateExited", 5, 4),
        ("SucceedStateEntered", 6, 5),
        ("SucceedStateExited", 7, 6),
        ("ExecutionSucceeded", 8, 7),
    ]
    # The Wait really waited.
    assert (events[4]["timestamp"] - events[3]["timestamp"]).total_seconds() >= 0.9


def test_lambda_invoke_task_sequence_and_details(sfn, machine):
    d, events = run(
        sfn,
        machine,
        {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "echo", "Payload": {"v.$": "$.v"}},
                "End": True,
            }
        },
        input='{"v": 7}',
    )
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"])["Payload"] == {"v": 7}
    assert linked(events) == [
        ("ExecutionStarted", 1, 0),
        ("TaskStateEntered", 2, 0),
        ("TaskScheduled", 3, 2),
        ("TaskStarted", 4, 3),
        ("TaskSucceeded", 5, 4),
        ("TaskStateExited", 6, 5),
        ("ExecutionSucceeded", 7, 6),
    ]
    scheduled = events[2]["taskScheduledEventDetails"]
    assert scheduled["resourceType"] == "lambda"
    assert scheduled["resource"] == "invoke"
    assert scheduled["region"] == "us-east-1"
    assert json.loads(scheduled["parameters"]) == {"FunctionName": "echo", "Payload": {"v": 7}}
    assert events[3]["taskStartedEventDetails"] == {"resourceType": "lambda", "resource": "invoke"}
    succeeded = events[4]["taskSucceededEventDetails"]
    assert (succeeded["resourceType"], succeeded["resource"]) == ("lambda", "invoke")
    assert json.loads(succeeded["output"])["Payload"] == {"v": 7}


def test_legacy_lambda_arn_task_sequence(sfn, machine):
    d, events = run(
        sfn, machine, {"Call": {"Type": "Task", "Resource": LAMBDA_ARN + "echo", "End": True}}, input='{"k": "v"}'
    )
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == {"k": "v"}
    assert types(events) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    scheduled = events[2]["lambdaFunctionScheduledEventDetails"]
    assert scheduled["resource"] == LAMBDA_ARN + "echo"
    assert json.loads(scheduled["input"]) == {"k": "v"}
    assert json.loads(events[4]["lambdaFunctionSucceededEventDetails"]["output"]) == {"k": "v"}


def test_retry_then_catch_sequence(sfn, machine):
    d, events = run(
        sfn,
        machine,
        {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "boom"},
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Handled"}],
                "End": True,
            },
            "Handled": {"Type": "Pass", "End": True},
        },
    )
    assert d["status"] == "SUCCEEDED"
    assert types(events) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskFailed",
        "TaskScheduled",
        "TaskStarted",
        "TaskFailed",
        "TaskStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    failed = events[4]["taskFailedEventDetails"]
    assert (failed["resourceType"], failed["resource"]) == ("lambda", "invoke")
    assert failed["error"]
    caught = json.loads(d["output"])["caught"]
    assert caught["Error"] == failed["error"]
    assert "boom" in caught["Cause"]


def test_parallel_and_map_sequences(sfn, machine):
    d, events = run(
        sfn,
        machine,
        {
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                ],
                "ResultPath": "$.par",
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "End": True,
            },
        },
        input='{"items": [1, 2]}',
    )
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == [1, 2]
    # AWS-recorded Parallel runs have no ParallelStateSucceeded (sfn-features.md §0).
    assert types(events) == [
        "ExecutionStarted",
        "ParallelStateEntered",
        "ParallelStateStarted",
        "PassStateEntered",
        "PassStateExited",
        "ParallelStateExited",
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]
    t = types(events)
    map_started = events[t.index("MapStateStarted")]
    assert map_started["mapStateStartedEventDetails"] == {"length": 2}
    iterations = [e for e in events if e["type"] == "MapIterationStarted"]
    assert [e["mapIterationStartedEventDetails"] for e in iterations] == [
        {"name": "Each", "index": 0},
        {"name": "Each", "index": 1},
    ]
