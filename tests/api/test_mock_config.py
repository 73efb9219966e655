"""Step Functions Local's mocked service integrations, tested as its users test: a boto3 client
whose only change is `endpoint_url`, a `MockConfigFile.json` named by `SFN_MOCK_CONFIG` in the
server's environment, and executions started on `stateMachineArn#TestCase`.

- AWS's documented `LambdaSQSIntegration` example: its definition and MockConfigFile, the
  HappyPath, RetryPath and HybridPath test cases, with the outputs and history the AWS
  walkthrough shows (HybridPath's SQS state runs for real, on Baton's built-in queue).
- `aws-sdk:dynamodb:putItem`/`getItem` inside a Map (no DynamoDB anywhere: the mocks answer);
  `.waitForTaskToken` and `.sync` in a Parallel (no token is waited for); an Express machine
  through StartSyncExecution; calls past the last numbered response.
- `#UnknownCase` and unknown machines: `InvalidName`, as LocalStack answers.
- A restart (SIGKILL) while a mocked execution waits in a Wait state: it carries on with its
  test case, and the state called again takes its next numbered response.
- The conformance corpus cases with feature `mocked`, run with a MockConfigFile whose
  responses are the ones their recordings got from AWS, judged as `run_corpus.py` judges
  (status, output, error, cause, history types), with a forward-only known-failures list
  (`conformance-mocked-known-failures.txt`; `BATON_CONFORMANCE_BLESS=1` rewrites it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

import support
from support import client, definition, history, raises, types, wait_done, wait_event

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"

# ----- AWS's documented example -------------------------------------------------------------

LAMBDA_SQS_DEFINITION = {
    "Comment": "This state machine is called: LambdaSQSIntegration",
    "StartAt": "LambdaState",
    "States": {
        "LambdaState": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"Payload.$": "$", "FunctionName": "HelloWorldFunction"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2}],
            "Next": "SQSState",
        },
        "SQSState": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/myQueue", "MessageBody.$": "$"},
            "End": True,
        },
    },
}

LAMBDA_SUCCESS = {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}
SQS_SUCCESS = {
    "MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
    "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51",
}

MOCK_CONFIG = {
    "StateMachines": {
        "LambdaSQSIntegration": {
            "TestCases": {
                "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
                "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
                "HybridPath": {"LambdaState": "MockedLambdaSuccess"},
            }
        },
        "DynamoMap": {
            "TestCases": {
                "Stored": {"PutItem": "MockedPutItem", "GetItem": "MockedGetItem"},
                "Throttled": {"PutItem": "MockedThrottled", "GetItem": "MockedGetItem"},
            }
        },
        "WaitingTasks": {"TestCases": {"Answered": {"Approve": "MockedApproval", "Child": "MockedChild"}}},
        "ExpressMachine": {"TestCases": {"Mocked": {"Call": "MockedLambdaSuccess"}}},
        "Exhausted": {"TestCases": {"Twice": {"Call": "MockedLambdaSuccess"}}},
        "Restarted": {"TestCases": {"AfterRestart": {"Call": "MockedCounted"}}},
    },
    "MockedResponses": {
        "MockedLambdaSuccess": {"0": {"Return": LAMBDA_SUCCESS}},
        "LambdaMockedResourceNotReady": {
            "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready."}}
        },
        "MockedSQSSuccess": {"0": {"Return": SQS_SUCCESS}},
        "MockedLambdaRetry": {
            "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready."}},
            "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
            "3": {"Return": LAMBDA_SUCCESS},
        },
        "MockedPutItem": {"0-2": {"Return": {}}},
        "MockedGetItem": {
            "0": {"Return": {"Item": {"id": {"S": "a"}, "size": {"N": "1"}}}},
            "1": {"Return": {"Item": {"id": {"S": "b"}, "size": {"N": "2"}}}},
            "2": {"Return": {"Item": {"id": {"S": "c"}, "size": {"N": "3"}}}},
        },
        "MockedThrottled": {
            "0": {
                "Throw": {
                    "Error": "DynamoDb.ProvisionedThroughputExceededException",
                    "Cause": "The level of configured provisioned throughput for the table was exceeded.",
                }
            }
        },
        "MockedApproval": {"0": {"Return": {"approved": True, "by": "ana"}}},
        "MockedCounted": {"0": {"Return": {"call": 0}}, "1": {"Return": {"call": 1}}},
        "MockedChild": {"0": {"Return": {"Status": "SUCCEEDED", "Output": {"built": 42}}}},
    },
}


@pytest.fixture(scope="module")
def mocked(baton_server_factory, tmp_path_factory):
    path = tmp_path_factory.mktemp("mocks") / "MockConfigFile.json"
    path.write_text(json.dumps(MOCK_CONFIG, indent=2))
    return baton_server_factory(env={"SFN_MOCK_CONFIG": str(path)})


@pytest.fixture(scope="module")
def sfn(mocked):
    return client(mocked.endpoint)


def create(sfn, name: str, body: dict, **kwargs) -> str:
    return sfn.create_state_machine(name=name, definition=json.dumps(body), roleArn=ROLE, **kwargs)["stateMachineArn"]


@pytest.fixture(scope="module")
def lambda_sqs(sfn) -> str:
    return create(sfn, "LambdaSQSIntegration", LAMBDA_SQS_DEFINITION)


def details(event: dict) -> dict:
    return next(v for k, v in event.items() if k.endswith("EventDetails"))


def test_happy_path(sfn, lambda_sqs):
    arn = sfn.start_execution(
        stateMachineArn=f"{lambda_sqs}#HappyPath", name="executionWithHappyPathMockedServices"
    )["executionArn"]
    # The execution is named as any other: the test case is not part of its ARN.
    assert arn == "arn:aws:states:us-east-1:123456789012:execution:LambdaSQSIntegration:executionWithHappyPathMockedServices"
    d = wait_done(sfn, arn)
    assert d["status"] == "SUCCEEDED"
    assert d["stateMachineArn"] == lambda_sqs
    assert json.loads(d["output"]) == SQS_SUCCESS
    events = history(sfn, arn)
    assert types(events) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    scheduled = [details(e) for e in events if e["type"] == "TaskScheduled"]
    assert [(s["resourceType"], s["resource"]) for s in scheduled] == [("lambda", "invoke"), ("sqs", "sendMessage")]
    assert json.loads(scheduled[0]["parameters"]) == {"Payload": {}, "FunctionName": "HelloWorldFunction"}
    # The SQS message body is the mocked Lambda response.
    assert json.loads(scheduled[1]["parameters"])["MessageBody"] == LAMBDA_SUCCESS
    succeeded = [json.loads(details(e)["output"]) for e in events if e["type"] == "TaskSucceeded"]
    assert succeeded == [LAMBDA_SUCCESS, SQS_SUCCESS]


def test_retry_path(sfn, lambda_sqs):
    arn = sfn.start_execution(
        stateMachineArn=f"{lambda_sqs}#RetryPath", name="executionWithRetryPathMockedServices"
    )["executionArn"]
    # Three retries: 2 + 4 + 8 seconds of real backoff, as on AWS.
    d = wait_done(sfn, arn, timeout=40)
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == SQS_SUCCESS
    events = history(sfn, arn)
    failures = [(details(e)["error"], details(e)["cause"]) for e in events if e["type"] == "TaskFailed"]
    assert failures == [
        ("Lambda.ResourceNotReadyException", "Lambda resource is not ready."),
        ("Lambda.TimeoutException", "Lambda timed out."),
        ("Lambda.TimeoutException", "Lambda timed out."),
    ]
    lambda_events = [t for t in types(events) if t.startswith("Task") and not t.startswith("TaskState")]
    assert lambda_events == ["TaskScheduled", "TaskStarted", "TaskFailed"] * 3 + ["TaskScheduled", "TaskStarted", "TaskSucceeded"] * 2


def test_hybrid_path_runs_unmocked_states_for_real(sfn, lambda_sqs, mocked):
    sqs = boto3.client(
        "sqs",
        endpoint_url=mocked.endpoint,
        region_name=support.REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    queue = sqs.create_queue(QueueName="myQueue")["QueueUrl"]
    arn = sfn.start_execution(
        stateMachineArn=f"{lambda_sqs}#HybridPath", name="executionWithHybridPathMockedServices"
    )["executionArn"]
    d = wait_done(sfn, arn)
    assert d["status"] == "SUCCEEDED", d
    output = json.loads(d["output"])
    # The real SendMessage's answer, not the mocked one.
    assert output["MessageId"] != SQS_SUCCESS["MessageId"]
    got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    assert [json.loads(m["Body"]) for m in got] == [LAMBDA_SUCCESS]
    assert got[0]["MessageId"] == output["MessageId"]


def test_unknown_test_cases_and_machines_are_invalid_names(sfn, lambda_sqs):
    with raises("InvalidName", "UnknownCase"):
        sfn.start_execution(stateMachineArn=f"{lambda_sqs}#UnknownCase")
    other = create(sfn, "NotInTheMockFile", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    with raises("InvalidName", "NotInTheMockFile"):
        sfn.start_execution(stateMachineArn=f"{other}#HappyPath")
    # Nothing was started.
    assert sfn.list_executions(stateMachineArn=other)["executions"] == []


def test_aws_sdk_dynamodb_tasks_in_a_map(sfn):
    body = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.ids",
                "MaxConcurrency": 1,
                "ItemProcessor": {
                    "StartAt": "PutItem",
                    "States": {
                        "PutItem": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem",
                            "Parameters": {"TableName": "items", "Item": {"id": {"S.$": "$"}}},
                            "ResultPath": None,
                            "Next": "GetItem",
                        },
                        "GetItem": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
                            "Parameters": {"TableName": "items", "Key": {"id": {"S.$": "$"}}},
                            "ResultSelector": {"size.$": "$.Item.size.N"},
                            "End": True,
                        },
                    },
                },
                "Catch": [{"ErrorEquals": ["DynamoDb.ProvisionedThroughputExceededException"], "Next": "Throttled"}],
                "End": True,
            },
            "Throttled": {"Type": "Pass", "Result": "throttled", "End": True},
        },
    }
    machine = create(sfn, "DynamoMap", body)
    arn = sfn.start_execution(stateMachineArn=f"{machine}#Stored", input='{"ids": ["a", "b", "c"]}')["executionArn"]
    d = wait_done(sfn, arn)
    assert d["status"] == "SUCCEEDED", d
    # Each call of GetItem, over the iterations, took the next numbered response.
    assert json.loads(d["output"]) == [{"size": "1"}, {"size": "2"}, {"size": "3"}]
    scheduled = [details(e) for e in history(sfn, arn) if e["type"] == "TaskScheduled"]
    assert [s["resource"] for s in scheduled] == ["putItem", "getItem"] * 3
    assert {s["resourceType"] for s in scheduled} == {"aws-sdk:dynamodb"}

    # A Throw goes through Catch as the service's error would.
    arn = sfn.start_execution(stateMachineArn=f"{machine}#Throttled", input='{"ids": ["a"]}')["executionArn"]
    d = wait_done(sfn, arn)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", "throttled")
    failed = [details(e) for e in history(sfn, arn) if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["DynamoDb.ProvisionedThroughputExceededException"]


def test_callbacks_and_sync_tasks_answer_at_once(sfn):
    body = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Approve",
                        "States": {
                            "Approve": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                                "Parameters": {
                                    "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/nowhere",
                                    "MessageBody": {"token.$": "$$.Task.Token"},
                                },
                                "End": True,
                            }
                        },
                    },
                    {
                        "StartAt": "Child",
                        "States": {
                            "Child": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                                "Parameters": {
                                    "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:NoSuchChild"
                                },
                                "OutputPath": "$.Output",
                                "End": True,
                            }
                        },
                    },
                ],
                "End": True,
            }
        },
    }
    machine = create(sfn, "WaitingTasks", body)
    arn = sfn.start_execution(stateMachineArn=f"{machine}#Answered")["executionArn"]
    d = wait_done(sfn, arn)
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"]) == [{"approved": True, "by": "ana"}, {"built": 42}]
    events = history(sfn, arn)
    # Recorded as a task that waited: submitted, then succeeded.
    assert types(events).count("TaskSubmitted") == 2
    assert types(events).count("TaskSucceeded") == 2


def test_express_machines_through_start_sync_execution(mocked):
    sfn = client(mocked.endpoint)
    sync = client(mocked.endpoint, inject_host_prefix=False)
    body = {
        "StartAt": "Call",
        "States": {"Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "nowhere"}, "End": True}},
    }
    machine = create(sfn, "ExpressMachine", body, type="EXPRESS")
    out = sync.start_sync_execution(stateMachineArn=f"{machine}#Mocked")
    assert out["status"] == "SUCCEEDED", out
    assert json.loads(out["output"]) == LAMBDA_SUCCESS
    assert out["stateMachineArn"] == machine
    with raises("InvalidName"):
        sync.start_sync_execution(stateMachineArn=f"{machine}#Nope")


def test_calls_past_the_last_response_fail_the_task(sfn):
    body = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "nowhere"},
                "ResultPath": "$.result",
                "Next": "Again",
            },
            "Again": {"Type": "Choice", "Choices": [{"Variable": "$.result", "IsPresent": True, "Next": "Call"}], "Default": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    machine = create(sfn, "Exhausted", body)
    arn = sfn.start_execution(stateMachineArn=f"{machine}#Twice")["executionArn"]
    d = wait_done(sfn, arn)
    assert d["status"] == "FAILED"
    assert d["error"] == "States.Runtime"
    assert "call 1 of state 'Call'" in d["cause"]


def test_a_restart_keeps_the_test_case_and_the_count_of_calls(baton_server_factory, tmp_path):
    path = tmp_path / "MockConfigFile.json"
    path.write_text(json.dumps(MOCK_CONFIG))
    server = baton_server_factory(env={"SFN_MOCK_CONFIG": str(path)})
    sfn = client(server.endpoint)
    # Call, nap, and call again: the second call must take response 1, also when the server
    # was killed during the nap.
    body = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "nowhere"},
                "ResultPath": "$.last",
                "Next": "Nap",
            },
            "Nap": {"Type": "Wait", "Seconds": 2, "Next": "Check"},
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.last.call", "NumericEquals": 1, "Next": "Done"}],
                "Default": "Call",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    machine = create(sfn, "Restarted", body)
    arn = sfn.start_execution(stateMachineArn=f"{machine}#AfterRestart")["executionArn"]
    wait_event(sfn, arn, "WaitStateEntered")
    server.crash_and_restart()
    sfn = client(server.endpoint)
    d = wait_done(sfn, arn, timeout=20)
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"]) == {"last": {"call": 1}}
    assert types(history(sfn, arn)).count("TaskSucceeded") == 2


def test_the_console_shows_the_test_case(sfn, lambda_sqs, mocked):
    import urllib.parse
    import urllib.request

    arn = sfn.start_execution(stateMachineArn=f"{lambda_sqs}#HappyPath")["executionArn"]
    wait_done(sfn, arn)
    with urllib.request.urlopen(f"{mocked.endpoint}/execution?arn={urllib.parse.quote(arn)}", timeout=5) as r:
        page = r.read().decode()
    assert 'mock test case <b class="mock-test-case">HappyPath</b>' in page


def test_a_broken_mock_config_stops_the_server_with_its_location(tmp_path):
    path = tmp_path / "MockConfigFile.json"
    path.write_text(json.dumps({"StateMachines": {"M": {"TestCases": {"T": {"S": "Missing"}}}}, "MockedResponses": {}}))
    import subprocess

    done = subprocess.run(
        [str(support.baton_binary()), "serve", "--port", "0", "--data-dir", str(tmp_path / "data")],
        env={**os.environ, "SFN_MOCK_CONFIG": str(path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert f"{path}: /StateMachines/M/TestCases/T/S: MockedResponses has no 'Missing'" in done.stderr


# ----- the conformance corpus's mocked cases --------------------------------------------------

CONFORMANCE = Path(os.environ.get("BATON_CONFORMANCE_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "conformance"))
CORPUS = CONFORMANCE / "corpus" / "localstack"
KNOWN_FAILURES = Path(__file__).with_name("conformance-mocked-known-failures.txt")
RECORDED = "Recorded"


def lambda_invoke(payload) -> dict:
    """What `lambda:invoke` answers (the SDK metadata left out)."""
    return {"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200}


def mocked_responses(case: dict) -> dict[str, dict]:
    """State name -> numbered responses: what each Task got from AWS when the case was recorded
    (the case's own expected output, where the Task's result is the execution's output)."""
    output = case["expected"].get("output")
    returned = {"0": {"Return": output}}
    return {
        "test_base_callbacks__test_sfn_start_execution_sync_SFN_SYNC": {"StartExecution": returned},
        "test_base_callbacks__test_sfn_start_execution_sync_SFN_SYNC2": {"StartExecution": returned},
        "test_base_callbacks__test_sqs_wait_for_task_token_task_failure": {
            "SendMessageWithWait": {"0": {"Throw": {"Error": "Failure error", "Cause": "Failure cause"}}}
        },
        # The Task's result, before the Pass state after it copies it to `final`.
        "test_base_scenarios__test_lambda_service_invoke": {
            "Start": {"0": {"Return": {k: v for k, v in output.items() if k != "final"}}}
        }
        if isinstance(output, dict)
        else {},
        # A function ARN's Task gets the Invoke response's Payload.
        "test_base_scenarios__test_map_state_lambda": {
            "ProcessValue": {"0-1": {"Return": {"StatusCode": 200, "Payload": {"body": "string body"}}}}
        },
        "test_base_scenarios__test_parallel_state_lambda": {
            "Branch1": {"0": {"Return": lambda_invoke(["string-literal"])}},
            "Branch2": {"0": {"Return": lambda_invoke(["string-literal"])}},
        },
        "test_base_scenarios__test_sns_publish_base": {"Publish": returned},
        "test_base_scenarios__test_sqs_send_message": {"SendSQS": returned},
    }[case["id"]]


def test_the_mocked_conformance_cases(tmp_path):
    from seeds_helpers import Baton
    from test_conformance_lambda import judge, load_run_corpus

    run_corpus = load_run_corpus()
    cases = []
    for path in sorted(CORPUS.glob("*.json")):
        if not path.name.startswith("_"):
            case = json.loads(path.read_text())
            if "mocked" in case.get("feature", []):
                cases.append(case)
    assert len(cases) == 8, [c["id"] for c in cases]
    config = {"StateMachines": {}, "MockedResponses": {}}
    # The machine each case's definition is created as (the names the corpus runner makes
    # are unique per run, so they are replaced with these).
    machine_of = {}
    for i, case in enumerate(cases):
        states = {}
        for state, responses in mocked_responses(case).items():
            response = f"{case['id']}.{state}"
            config["MockedResponses"][response] = responses
            states[state] = response
        machine = f"mocked-conformance-{i}"
        machine_of[json.dumps(case["definition"])] = machine
        config["StateMachines"][machine] = {"TestCases": {RECORDED: states}}
    mock_file = tmp_path / "MockConfigFile.json"
    mock_file.write_text(json.dumps(config))
    (tmp_path / "baton.toml").write_text("")

    # The corpus runner starts executions on the machine's ARN: start them on its test case.
    plain_call = run_corpus.call

    def call(endpoint, action, body, timeout=30):
        if action == "CreateStateMachine":
            body = {**body, "name": machine_of[body["definition"]]}
        if action == "StartExecution":
            body = {**body, "stateMachineArn": f"{body['stateMachineArn']}#{RECORDED}"}
        return plain_call(endpoint, action, body, timeout)

    run_corpus.call = call
    results: dict[str, list[str]] = {}
    with Baton(tmp_path / "baton.toml", extra_args=["--account", "111111111111"], env={"SFN_MOCK_CONFIG": str(mock_file)}) as baton:
        for case in cases:
            _, problems, history_problems = run_corpus.run_case(baton.endpoint, case, 30, True)
            results[case["id"]] = problems + (history_problems or [])
    judge(cases, results, KNOWN_FAILURES, [
        "Conformance cases with feature `mocked` that do not pass against `baton serve` with their",
        "recorded responses mocked, each with its first problem. Regenerate with",
        "BATON_CONFORMANCE_BLESS=1 pytest tests/api/test_mock_config.py -k conformance",
    ])
