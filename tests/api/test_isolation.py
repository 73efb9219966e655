"""One execution cannot hold up the others: an execution busy in a slow step (a JSONata
expression running up to its time limit, again and again in a Catch loop) delays only itself.
Other executions go on, and the server answers, while it is still running. Ordering, not
stopwatches: what is checked is that the others finish while the slow one still runs."""

from __future__ import annotations

import json
import urllib.request

from support import ROLE_ARN, client, wait_done

# Ten billion additions: it always runs into JSONata's time limit, holding little memory.
SLOW = "{% $count([1..100000].$sum([1..100000])) %}"


def test_a_slow_execution_delays_only_itself(baton_server_factory, name):
    server = baton_server_factory()
    sfn = client(server.endpoint)
    slow_gate = sfn.create_activity(name=name("slow-gate"))["activityArn"]
    quick_gate = sfn.create_activity(name=name("quick-gate"))["activityArn"]
    slow = sfn.create_state_machine(name=name("slow"), roleArn=ROLE_ARN, definition=json.dumps({
        "QueryLanguage": "JSONata",
        "StartAt": "Gate",
        "States": {
            "Gate": {"Type": "Task", "Resource": slow_gate, "Assign": {"tries": 0}, "Next": "Slow"},
            "Slow": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:never-called",
                     "Arguments": {"n": SLOW}, "End": True,
                     "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"],
                                "Assign": {"tries": "{% $tries + 1 %}"}, "Next": "Again?"}]},
            "Again?": {"Type": "Choice", "Choices": [{"Condition": "{% $tries < 2 %}", "Next": "Slow"}],
                       "Default": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }))["stateMachineArn"]
    quick = sfn.create_state_machine(name=name("quick"), roleArn=ROLE_ARN, definition=json.dumps({
        "StartAt": "Gate", "States": {"Gate": {"Type": "Task", "Resource": quick_gate, "End": True}},
    }))["stateMachineArn"]
    slow_ex = sfn.start_execution(stateMachineArn=slow)["executionArn"]
    quick_ex = sfn.start_execution(stateMachineArn=quick)["executionArn"]
    slow_token = sfn.get_activity_task(activityArn=slow_gate)["taskToken"]
    quick_token = sfn.get_activity_task(activityArn=quick_gate)["taskToken"]

    # The slow execution starts its slow steps (two time limits in a row) ...
    sfn.send_task_success(taskToken=slow_token, output="{}")
    # ... while the other one is answered, finishes, and the server answers.
    sfn.send_task_success(taskToken=quick_token, output='{"done": true}')
    assert wait_done(sfn, quick_ex)["status"] == "SUCCEEDED"
    with urllib.request.urlopen(server.endpoint + "/health", timeout=30) as r:
        assert r.status == 200
    assert sfn.describe_execution(executionArn=slow_ex)["status"] == "RUNNING", "the slow one finished first"

    # The slow one ends as its definition says, after both time limits.
    done = wait_done(sfn, slow_ex, timeout=120)
    assert done["status"] == "SUCCEEDED"
    events = sfn.get_execution_history(executionArn=slow_ex, maxResults=1000)["events"]
    assert sum(e["type"] == "EvaluationFailed" for e in events) == 2
