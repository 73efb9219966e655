"""Activities: Create/Describe/List/Delete, and workers that long-poll GetActivityTask and answer
with SendTaskSuccess/Failure/Heartbeat (sfn-features.md §4.5)."""

from __future__ import annotations

import datetime
import json
import threading
import time

import pytest

from support import ACTIVITY_PREFIX, client, definition, history, raises, types, wait_done, wait_event


def activity_machine(machine, activity_arn: str, **task_fields) -> str:
    task = {"Type": "Task", "Resource": activity_arn, "End": True}
    task.update(task_fields)
    return machine(definition({"Work": task}))


def test_create_describe_list_delete(sfn, name):
    n = name()
    created = sfn.create_activity(name=n)
    arn = created["activityArn"]
    assert arn == ACTIVITY_PREFIX + n
    assert isinstance(created["creationDate"], datetime.datetime)
    # Idempotent by name.
    again = sfn.create_activity(name=n)
    assert (again["activityArn"], again["creationDate"]) == (arn, created["creationDate"])

    d = sfn.describe_activity(activityArn=arn)
    assert (d["activityArn"], d["name"], d["creationDate"]) == (arn, n, created["creationDate"])

    listed = [
        a
        for p in sfn.get_paginator("list_activities").paginate(PaginationConfig={"PageSize": 1})
        for a in p["activities"]
    ]
    mine = [a for a in listed if a["activityArn"] == arn]
    assert mine == [{"activityArn": arn, "name": n, "creationDate": created["creationDate"]}]

    sfn.delete_activity(activityArn=arn)
    with raises("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'"):
        sfn.describe_activity(activityArn=arn)
    with raises("ActivityDoesNotExist"):
        sfn.get_activity_task(activityArn=arn)


def test_activity_errors(sfn):
    with raises("InvalidName"):
        sfn.create_activity(name="no spaces allowed")
    with raises("InvalidArn"):
        sfn.describe_activity(activityArn="arn:aws:states:us-east-1:123456789012:stateMachine:x")
    with raises("InvalidArn"):
        sfn.get_activity_task(activityArn="not-an-arn")
    with raises("InvalidToken"):
        sfn.list_activities(nextToken="nope")
    with raises("ValidationException"):
        sfn.list_activities(maxResults=1001)


def poll_until_task(c, activity: str, worker: str, timeout: float = 10) -> dict:
    """Poll GetActivityTask as a worker does, again after each empty long poll."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = c.get_activity_task(activityArn=activity, workerName=worker)
        if task.get("taskToken"):
            return task
    raise AssertionError(f"no task from {activity} within {timeout} s")


def test_worker_gets_the_task_and_its_answer_completes_the_execution(server, sfn, machine, name):
    activity = sfn.create_activity(name=name())["activityArn"]
    sm = activity_machine(machine, activity)
    seen = {}

    def worker():
        # A worker has its own client, as a separate process would.
        w = client(server.endpoint)
        task = poll_until_task(w, activity, "worker-1")
        seen["task"] = task
        w.send_task_success(
            taskToken=task["taskToken"], output=json.dumps({"doubled": json.loads(task["input"])["n"] * 2})
        )

    t = threading.Thread(target=worker)
    t.start()
    arn = sfn.start_execution(stateMachineArn=sm, input='{"n": 21}')["executionArn"]
    t.join(timeout=10)
    assert not t.is_alive()
    assert json.loads(seen["task"]["input"]) == {"n": 21}
    d = wait_done(sfn, arn)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"doubled": 42})
    events = history(sfn, arn)
    assert types(events) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "ActivityScheduled",
        "ActivityStarted",
        "ActivitySucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    scheduled = events[2]["activityScheduledEventDetails"]
    assert scheduled["resource"] == activity
    assert json.loads(scheduled["input"]) == {"n": 21}
    assert events[3]["activityStartedEventDetails"] == {"workerName": "worker-1"}
    assert json.loads(events[4]["activitySucceededEventDetails"]["output"]) == {"doubled": 42}


def test_a_task_queued_before_any_worker_polls_is_delivered(sfn, machine, name):
    activity = sfn.create_activity(name=name())["activityArn"]
    arn = sfn.start_execution(stateMachineArn=activity_machine(machine, activity), input='{"q": 1}')["executionArn"]
    wait_event(sfn, arn, "ActivityScheduled")
    task = sfn.get_activity_task(activityArn=activity)
    assert json.loads(task["input"]) == {"q": 1}
    sfn.send_task_failure(taskToken=task["taskToken"], error="Worker.Broke", cause="disk full")
    d = wait_done(sfn, arn)
    assert (d["status"], d["error"], d["cause"]) == ("FAILED", "Worker.Broke", "disk full")
    events = history(sfn, arn)
    assert types(events)[-2:] == ["ActivityFailed", "ExecutionFailed"]
    assert events[-2]["activityFailedEventDetails"] == {"error": "Worker.Broke", "cause": "disk full"}


def test_each_task_goes_to_exactly_one_poller(server, sfn, machine, name):
    activity = sfn.create_activity(name=name())["activityArn"]
    sm = activity_machine(machine, activity)
    got: list[dict] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 10

    def poller(i: int):
        # Like a real worker: poll again after an empty long poll, until both tasks are out.
        c = client(server.endpoint)
        while time.monotonic() < deadline:
            with lock:
                if len(got) >= 2:
                    return
            task = c.get_activity_task(activityArn=activity, workerName=f"p{i}")
            if task.get("taskToken"):
                with lock:
                    got.append(task)
                return

    threads = [threading.Thread(target=poller, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # let every poller wait
    executions = [sfn.start_execution(stateMachineArn=sm, input=json.dumps({"i": i}))["executionArn"] for i in range(2)]
    for t in threads:
        t.join(timeout=15)
    assert not any(t.is_alive() for t in threads)
    # Two tasks among four pollers: each handed out once, to one poller.
    assert len(got) == 2, got
    assert sorted(json.loads(r["input"])["i"] for r in got) == [0, 1]
    assert len({r["taskToken"] for r in got}) == 2
    for r in got:
        sfn.send_task_success(taskToken=r["taskToken"], output="{}")
    for arn in executions:
        assert wait_done(sfn, arn)["status"] == "SUCCEEDED"


def test_empty_poll_returns_no_token_after_the_poll_time(baton_server_factory, name):
    short = baton_server_factory(activity_poll_ms=300)
    c = client(short.endpoint)
    activity = c.create_activity(name=name())["activityArn"]
    t0 = time.monotonic()
    r = c.get_activity_task(activityArn=activity, workerName="idle")
    waited = time.monotonic() - t0
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r.get("taskToken") in (None, "")
    assert 0.25 <= waited < 3, waited


def test_activity_heartbeat_timeout(sfn, machine, name):
    activity = sfn.create_activity(name=name())["activityArn"]
    sm = activity_machine(machine, activity, HeartbeatSeconds=2, TimeoutSeconds=30)
    arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
    wait_event(sfn, arn, "ActivityScheduled")
    task = sfn.get_activity_task(activityArn=activity, workerName="slow")
    # Heartbeats keep it alive past HeartbeatSeconds ...
    for _ in range(5):
        time.sleep(0.5)
        sfn.send_task_heartbeat(taskToken=task["taskToken"])
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    # ... and silence ends it.
    d = wait_done(sfn, arn, timeout=6)
    assert (d["status"], d["error"]) == ("FAILED", "States.Timeout")
    events = history(sfn, arn)
    assert types(events)[-2:] == ["ActivityTimedOut", "ExecutionFailed"]
    assert events[-2]["activityTimedOutEventDetails"]["error"] == "States.Timeout"
    scheduled = [e for e in events if e["type"] == "ActivityScheduled"][0]["activityScheduledEventDetails"]
    assert (scheduled["heartbeatInSeconds"], scheduled["timeoutInSeconds"]) == (2, 30)
    with raises("TaskTimedOut"):
        sfn.send_task_success(taskToken=task["taskToken"], output="{}")


def test_activity_timeout_seconds(sfn, machine, name):
    activity = sfn.create_activity(name=name())["activityArn"]
    sm = activity_machine(machine, activity, TimeoutSeconds=1)
    arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
    wait_event(sfn, arn, "ActivityScheduled")
    task = sfn.get_activity_task(activityArn=activity)
    d = wait_done(sfn, arn, timeout=6)
    assert (d["status"], d["error"]) == ("FAILED", "States.Timeout")
    assert types(history(sfn, arn))[-2:] == ["ActivityTimedOut", "ExecutionFailed"]
    with raises("TaskTimedOut"):
        sfn.send_task_success(taskToken=task["taskToken"], output="{}")


def test_task_on_a_deleted_activity_fails_the_execution(sfn, machine, name):
    # AWS-recorded (corpus test_activities__test_activity_task_on_deleted): States.Runtime,
    # ExecutionStarted > TaskStateEntered > ExecutionFailed.
    activity = sfn.create_activity(name=name())["activityArn"]
    sm = machine(definition({"ActivityTask": {"Type": "Task", "Resource": activity, "End": True}}))
    sfn.delete_activity(activityArn=activity)
    arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
    d = wait_done(sfn, arn, timeout=3)
    assert (d["status"], d["error"]) == ("FAILED", "States.Runtime")
    assert d["cause"] == (
        "An error occurred while executing the state 'ActivityTask' (entered at the event id #2). "
        f"The activity {activity} does not exist."
    )
    assert types(history(sfn, arn)) == ["ExecutionStarted", "TaskStateEntered", "ExecutionFailed"]
