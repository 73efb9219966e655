"""The AWS-recorded conformance cases that need queues, topics, callbacks, activities or
nested executions (`needs` in ../shared/conformance/corpus/localstack/), run against
`baton serve` and judged by `run_corpus.py`'s own `run_case`, as the Lambda cases are in
test_conformance_lambda.py.

What each case needs is set up from the case: its queues (from `QueueUrl` in the input) and
topics (from `TopicArn`) are declared in a generated baton.toml, except a topic the case
expects to be missing (`SNS.NotFoundException`); its activities (`mocks`) are created, and
deleted again where the recording test deleted them (`on_deleted`). The recording tests ran
a worker beside the execution (`helpers`, or the test body itself where there is none);
`WORKERS` below says what each one did, from the LocalStack tests. A worker reads the queue
with boto3's SQS client, or polls the activity with GetActivityTask, and answers the token
the way the recording test did. A topic whose worker needs its message gets a queue
subscribed with raw delivery, which the worker reads.

Nested-execution cases (`needs: sfn`) start a child state machine the recording test created
under the name in the input; the cases do not carry its definition. `CHILDREN` gives it
where the recorded output shows what it was (LocalStack's BASE_PASS_RESULT and
BASE_RAISE_FAILURE templates); the others are known failures with that reason.

Forward-only: failures are listed with their first problem in
`conformance-messaging-known-failures.txt`; the test fails when an unlisted case fails or a
listed case passes. `BATON_CONFORMANCE_BLESS=1` rewrites the list. Run alone with `-s` to see
the counts per `needs` value.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
from pathlib import Path

import pytest

from seeds_helpers import Baton
from test_conformance_lambda import CORPUS, judge, load_run_corpus

KNOWN_FAILURES = Path(__file__).with_name("conformance-messaging-known-failures.txt")
ACCOUNT = "111111111111"
NEEDS = {"sqs", "sns", "callback", "activity", "sfn", "sync"}

# What the worker beside each recorded execution did (LocalStack's tests under
# tests/aws/services/stepfunctions/v2/). Cases not listed have no worker.
WORKERS = {
    "test_callback__test_sqs_wait_for_task_token_call_chain": "success_with_message",
    "test_base_callbacks__test_sqs_wait_for_task_token_task_failure": "failure",
    "test_callback__test_sqs_failure_in_wait_for_task_tok_no_error_field": "failure_without_error",
    "test_callback__test_multiple_heartbeat_notifications": "heartbeats_then_success_with_body",
    "test_callback__test_sns_publish_wait_for_task_token": "success_empty",
    "test_activities__test_activity_task_failure": "activity_failure",
    "test_activities__test_activity_task_no_worker_name": "activity_success",
    "test_activities__test_activity_task_with_heartbeat": "activity_heartbeat_then_success",
    # The worker takes the task and never answers: the task times out after it started.
    "test_activities__test_activity_task_start_timeout": "activity_take_and_ignore",
}


PASS_RESULT = {"StartAt": "State_1", "States": {"State_1": {"Type": "Pass", "Result": {"Arg1": "argument1"}, "End": True}}}
RAISE_FAILURE = {"StartAt": "FailState", "States": {"FailState": {
    "Type": "Fail", "Error": "SomeFailure", "Cause": "This state machines raises a 'SomeFailure' failure."}}}
CHILDREN = {
    "test_base_callbacks__test_sfn_start_execution_sync_SFN_SYNC": PASS_RESULT,
    "test_callback__test_start_execution_sync_delegate_failure": RAISE_FAILURE,
    "test_callback__test_start_execution_sync": PASS_RESULT,
    "test_sfn_task_service__test_start_execution_input_json": PASS_RESULT,
    # The child is missing on purpose.
    "test_task_service_sfn__test_start_execution_no_such_arn": None,
}


def child_of(case: dict):
    """(known, definition) of the child state machine a nested-execution case starts."""
    for prefix in sorted(CHILDREN, key=len, reverse=True):
        if case["id"].startswith(prefix):
            if prefix == "test_callback__test_start_execution_sync" and case["id"] != prefix:
                continue
            return True, CHILDREN[prefix]
    return False, None


def messaging_cases() -> list[dict]:
    cases = []
    for path in sorted(CORPUS.glob("*.json")):
        if path.name.startswith("_"):
            continue
        case = json.loads(path.read_text())
        needs = set(case.get("needs", []))
        if needs and needs <= NEEDS and "definition" in case and "expected" in case:
            cases.append(case)
    return cases


def worker_of(case: dict) -> str | None:
    for prefix, worker in WORKERS.items():
        if case["id"].startswith(prefix):
            return worker
    return None


def last_segment(value: str) -> str:
    return value.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def write_config(cases: list[dict], folder: Path) -> Path:
    queues, topics = set(), {}
    for case in cases:
        inp = case.get("input") or {}
        if isinstance(inp, dict) and isinstance(inp.get("QueueUrl"), str):
            queues.add(last_segment(inp["QueueUrl"]))
        if isinstance(inp, dict) and isinstance(inp.get("TopicArn"), str):
            if case["expected"].get("error") == "SNS.NotFoundException":
                continue
            topic = last_segment(inp["TopicArn"])
            topics[topic] = None
            if worker_of(case):
                topics[topic] = f"{topic.replace('.', '-')}-inbox"
                queues.add(topics[topic])
    lines = [f'[queues."{q}"]\n' for q in sorted(queues)]
    for topic, inbox in sorted(topics.items()):
        subs = f'{{ protocol = "sqs", endpoint = "{inbox}", raw_message_delivery = true }}' if inbox else ""
        lines.append(f'[topics."{topic}"]\nsubscriptions = [{subs}]\n')
    config = folder / "baton.toml"
    folder.mkdir(parents=True, exist_ok=True)
    config.write_text("\n".join(lines))
    return config


def quietly_after_stop(loop):
    """A worker's loop; once its case is over (or the server is gone) errors end it quietly."""

    def run(*args):
        stop = args[-1]
        try:
            loop(*args)
        except Exception:
            if not stop.is_set():
                raise

    return run


@quietly_after_stop
def run_queue_worker(baton, queue: str, worker: str, stop: threading.Event):
    sqs, sfn = baton.client("sqs"), baton.client()
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    while not stop.is_set():
        for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []):
            body = json.loads(m["Body"])
            token = body["TaskToken"]
            if worker == "success_with_message":
                sfn.send_task_success(taskToken=token, output=json.dumps(body["Message"]))
            elif worker == "success_empty":
                sfn.send_task_success(taskToken=token, output="{}")
            elif worker == "failure":
                sfn.send_task_failure(taskToken=token, error="Failure error", cause="Failure cause")
            elif worker == "failure_without_error":
                sfn.send_task_failure(taskToken=token)
            elif worker == "heartbeats_then_success_with_body":
                for _ in range(3):
                    sfn.send_task_heartbeat(taskToken=token)
                sfn.send_task_success(taskToken=token, output=m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@quietly_after_stop
def run_activity_worker(baton, activity_arn: str, worker: str, stop: threading.Event):
    sfn = baton.client()
    while not stop.is_set():
        kwargs = {} if worker == "activity_success" else {"workerName": "conformance-worker"}
        task = sfn.get_activity_task(activityArn=activity_arn, **kwargs)
        token = task.get("taskToken")
        if not token:
            continue
        if worker == "activity_take_and_ignore":
            continue
        if worker == "activity_failure":
            sfn.send_task_failure(taskToken=token, error="Programmatic Error", cause=task["input"])
        elif worker == "activity_heartbeat_then_success":
            sfn.send_task_heartbeat(taskToken=token)
            sfn.send_task_success(taskToken=token, output=task["input"])
        else:
            sfn.send_task_success(taskToken=token, output=task["input"])


def prepare(baton, case: dict):
    """Create what the case needs beyond baton.toml, and start its worker. Returns a stop
    function."""
    sfn = baton.client()
    stop = threading.Event()
    threads = []
    worker = worker_of(case)
    for mock in (case.get("mocks") or {}).values():
        if mock.get("service") == "activity":
            arn = sfn.create_activity(name=mock["name"])["activityArn"]
            if "on_deleted" in case["id"]:
                sfn.delete_activity(activityArn=arn)
            elif worker:
                threads.append(threading.Thread(target=run_activity_worker, args=(baton, arn, worker, stop)))
    inp = case.get("input") or {}
    known, child = child_of(case)
    if known and child is not None:
        sfn.create_state_machine(name=last_segment(inp["StateMachineArn"]), definition=json.dumps(child),
                                 roleArn="arn:aws:iam::111111111111:role/conformance")
    if worker and isinstance(inp, dict):
        if "QueueUrl" in inp:
            queue = last_segment(inp["QueueUrl"])
        elif "TopicArn" in inp:
            queue = f"{last_segment(inp['TopicArn']).replace('.', '-')}-inbox"
        else:
            queue = None
        if queue:
            threads.append(threading.Thread(target=run_queue_worker, args=(baton, queue, worker, stop)))
    for t in threads:
        t.daemon = True
        t.start()

    def done():
        stop.set()

    return done


def test_messaging_cases_against_baton_serve(tmp_path):
    run_corpus = load_run_corpus()
    cases = messaging_cases()
    assert cases, "the corpus has cases that need queues, topics, callbacks or activities"
    config = write_config(cases, tmp_path / "config")
    results: dict[str, list[str]] = {}
    with Baton(config, extra_args=["--account", ACCOUNT, "--activity-poll-ms", "1000"]) as baton:

        def run(case):
            if "sfn" in case["needs"] and not child_of(case)[0]:
                return case["id"], ["needs the child state machine its recording test created, which the case does not carry"]
            done = prepare(baton, case)
            try:
                passed, problems, history = run_corpus.run_case(baton.endpoint, case, 60, True)
            finally:
                done()
            return case["id"], problems + (history or [])

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            for case_id, problems in pool.map(run, cases):
                results[case_id] = problems

    judge(cases, results, KNOWN_FAILURES, [
        "Conformance cases needing queues, topics, callbacks, activities or nested executions that",
        "do not pass against `baton serve` yet, each with the first problem seen. Regenerate with",
        "BATON_CONFORMANCE_BLESS=1 pytest tests/api/test_conformance_messaging.py",
    ])
