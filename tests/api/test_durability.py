"""Crash safety: a `baton serve` killed with SIGKILL and started again on the same data folder
carries on with what was in flight (its own server, so the session's is not disturbed)."""

from __future__ import annotations

import json

from support import callback_state, callback_token, client, definition, history, types, wait_done, wait_event


def test_executions_survive_a_crash(baton_server_factory, name):
    server = baton_server_factory()
    sfn = client(server.endpoint)
    role = "arn:aws:iam::123456789012:role/r"
    waiting = sfn.create_state_machine(
        name=name("cb"), definition=definition({"Ask": callback_state(ResultPath="$.answer")}), roleArn=role
    )["stateMachineArn"]
    sleeping = sfn.create_state_machine(
        name=name("wait"),
        definition=definition({"Nap": {"Type": "Wait", "Seconds": 2, "Next": "Done"}, "Done": {"Type": "Succeed"}}),
        roleArn=role,
    )["stateMachineArn"]
    activity = sfn.create_activity(name=name("act"))["activityArn"]
    queued = sfn.create_state_machine(
        name=name("q"),
        definition=definition({"Work": {"Type": "Task", "Resource": activity, "End": True}}),
        roleArn=role,
    )["stateMachineArn"]

    cb = sfn.start_execution(stateMachineArn=waiting, input='{"id": 1}')["executionArn"]
    token = callback_token(sfn, cb)
    nap = sfn.start_execution(stateMachineArn=sleeping)["executionArn"]
    wait_event(sfn, nap, "WaitStateEntered")
    work = sfn.start_execution(stateMachineArn=queued, input='{"job": 9}')["executionArn"]
    wait_event(sfn, work, "ActivityScheduled")

    server.crash_and_restart()
    sfn = client(server.endpoint)

    # The token handed out before the crash still works.
    sfn.send_task_success(taskToken=token, output='"yes"')
    d = wait_done(sfn, cb)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"id": 1, "answer": "yes"})
    # The timer armed before the crash fires.
    assert wait_done(sfn, nap, timeout=8)["status"] == "SUCCEEDED"
    assert types(history(sfn, nap)).count("WaitStateExited") == 1
    # The activity task queued before the crash is handed out.
    task = sfn.get_activity_task(activityArn=activity, workerName="after-crash")
    assert json.loads(task["input"]) == {"job": 9}
    sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    assert wait_done(sfn, work)["status"] == "SUCCEEDED"
    # History ids stay dense across the crash.
    events = history(sfn, cb)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
