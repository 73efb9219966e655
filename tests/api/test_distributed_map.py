"""Distributed Map over data in S3, as a user runs it: objects uploaded with boto3 to
`baton serve`'s built-in S3, state machines whose Map reads them (`ItemReader`: CSV, JSON,
JSON Lines, an S3 listing), hands them out in batches (`ItemBatcher`) and writes the results
back to S3 (`ResultWriter`), read back with boto3.
"""

from __future__ import annotations

import json

import pytest

import support
from test_s3 import bucket_name, s3_client

CSV = "id,name,score\n1,ada,90\n2,grace,85\n3,alan,70\n4,barbara,95\n5,edsger,60\n"
JSON_ITEMS = [{"n": i, "word": w} for i, w in enumerate(["alpha", "beta", "gamma", "delta"])]


@pytest.fixture(scope="module")
def s3(server):
    return s3_client(server.endpoint)


@pytest.fixture
def bucket(s3, name):
    b = bucket_name(name)
    s3.create_bucket(Bucket=b)
    return b


def distributed(item_processor_states: dict, start: str, **fields) -> str:
    state = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": start,
            "States": item_processor_states,
        },
        "End": True,
        **fields,
    }
    return support.definition({"Map": state})


PASS = {"P": {"Type": "Pass", "End": True}}


def run(sfn, machine, definition: str, input: dict) -> tuple[dict, list[dict]]:
    arn = machine(definition)
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps(input))["executionArn"]
    done = support.wait_done(sfn, ex, timeout=30)
    return done, support.history(sfn, ex)


def read_json(s3, bucket: str, key: str):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_csv_is_read_batched_and_its_results_written_as_aws_writes_them(sfn, machine, s3, bucket):
    s3.put_object(Bucket=bucket, Key="in/people.csv", Body=CSV.encode())
    definition = distributed(
        PASS,
        "P",
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            "Parameters": {"Bucket.$": "$.bucket", "Key": "in/people.csv"},
        },
        ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"source.$": "$.bucket"}},
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket.$": "$.bucket", "Prefix": "out"},
        },
        Label="people",
    )
    done, events = run(sfn, machine, definition, {"bucket": bucket})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    run_arn = output["MapRunArn"]
    assert ":mapRun:" in run_arn and "/people:" in run_arn
    run_id = run_arn.rsplit(":", 1)[1]
    assert output["ResultWriterDetails"] == {"Bucket": bucket, "Key": f"out/{run_id}/manifest.json"}
    assert support.types(events) == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
        "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded",
    ]
    started = next(e for e in events if e["type"] == "MapRunStarted")
    assert started["mapRunStartedEventDetails"]["mapRunArn"] == run_arn

    manifest = read_json(s3, bucket, f"out/{run_id}/manifest.json")
    assert manifest["DestinationBucket"] == bucket and manifest["MapRunArn"] == run_arn
    assert manifest["ResultFiles"]["FAILED"] == [] and manifest["ResultFiles"]["PENDING"] == []
    [succeeded_file] = manifest["ResultFiles"]["SUCCEEDED"]
    assert succeeded_file["Key"] == f"out/{run_id}/SUCCEEDED_0.json"
    body = s3.get_object(Bucket=bucket, Key=succeeded_file["Key"])["Body"].read()
    assert succeeded_file["Size"] == len(body)
    records = json.loads(body)
    # Five rows in batches of two: three children, each record as AWS writes it.
    assert [json.loads(r["Output"]) for r in records] == [
        {"BatchInput": {"source": bucket}, "Items": [
            {"id": "1", "name": "ada", "score": "90"}, {"id": "2", "name": "grace", "score": "85"}]},
        {"BatchInput": {"source": bucket}, "Items": [
            {"id": "3", "name": "alan", "score": "70"}, {"id": "4", "name": "barbara", "score": "95"}]},
        {"BatchInput": {"source": bucket}, "Items": [{"id": "5", "name": "edsger", "score": "60"}]},
    ]
    for r in records:
        assert r["Status"] == "SUCCEEDED" and r["Input"] == r["Output"]
        assert r["ExecutionArn"].endswith(":" + r["Name"]) and ":execution:" in r["ExecutionArn"]
        assert {"InputDetails", "OutputDetails", "StartDate", "StopDate", "StateMachineArn"} <= r.keys()
    # The Map Run counts its five items and its three children apart, all written.
    described = sfn.describe_map_run(mapRunArn=run_arn)
    assert described["itemCounts"]["resultsWritten"] == 5
    assert described["executionCounts"]["resultsWritten"] == 3


def test_json_and_json_lines_objects_give_their_items_through_item_selector(sfn, machine, s3, bucket):
    s3.put_object(Bucket=bucket, Key="items.json", Body=json.dumps(JSON_ITEMS).encode())
    s3.put_object(Bucket=bucket, Key="items.jsonl", Body="".join(json.dumps(i) + "\n" for i in JSON_ITEMS).encode())
    for key, input_type in [("items.json", "JSON"), ("items.jsonl", "JSONL")]:
        definition = distributed(
            PASS,
            "P",
            ItemReader={
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": input_type, "MaxItemsPath": "$.max"},
                "Parameters": {"Bucket": bucket, "Key": key},
            },
            ItemSelector={"word.$": "$$.Map.Item.Value.word", "index.$": "$$.Map.Item.Index", "tag.$": "$.tag"},
        )
        done, _ = run(sfn, machine, definition, {"max": 3, "tag": "t"})
        assert done["status"] == "SUCCEEDED", (key, done)
        assert json.loads(done["output"]) == [
            {"word": "alpha", "index": 0, "tag": "t"},
            {"word": "beta", "index": 1, "tag": "t"},
            {"word": "gamma", "index": 2, "tag": "t"},
        ], key


def test_a_listing_gives_each_object_as_aws_shapes_it(sfn, machine, s3, bucket):
    for key, body in [("logs/a.txt", b"a"), ("logs/b.txt", b"bbbb"), ("other/c.txt", b"c")]:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    definition = distributed(
        PASS,
        "P",
        ItemReader={"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": bucket, "Prefix": "logs/"}},
    )
    done, _ = run(sfn, machine, definition, {})
    assert done["status"] == "SUCCEEDED", done
    items = json.loads(done["output"])
    listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket, Prefix="logs/")["Contents"]}
    assert [i["Key"] for i in items] == ["logs/a.txt", "logs/b.txt"]
    for item in items:
        assert set(item) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
        o = listed[item["Key"]]
        assert item["Size"] == o["Size"] and item["Etag"] == o["ETag"]
        assert item["LastModified"] == int(o["LastModified"].timestamp())
        assert item["StorageClass"] == "STANDARD"


def test_tolerated_failures_are_written_to_their_own_file_and_jsonl_flattens(sfn, machine, s3, bucket):
    s3.put_object(Bucket=bucket, Key="n.json", Body=json.dumps([1, 2, 3, 4]).encode())
    states = {
        "Odd?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 3, "Next": "Boom"}],
                 "Default": "Twice"},
        "Twice": {"Type": "Pass", "Parameters": {"pair.$": "States.Array($.n, $.n)"}, "OutputPath": "$.pair",
                  "End": True},
        "Boom": {"Type": "Fail", "Error": "Three", "Cause": "no threes"},
    }
    definition = distributed(
        states,
        "Odd?",
        ItemReader={"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                    "Parameters": {"Bucket": bucket, "Key": "n.json"}},
        ItemSelector={"n.$": "$$.Map.Item.Value"},
        ToleratedFailureCount=1,
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": bucket, "Prefix": "res"},
                      "WriterConfig": {"OutputType": "JSONL", "Transformation": "FLATTEN"}},
    )
    done, _ = run(sfn, machine, definition, {})
    assert done["status"] == "SUCCEEDED", done
    manifest = read_json(s3, bucket, json.loads(done["output"])["ResultWriterDetails"]["Key"])
    [ok] = manifest["ResultFiles"]["SUCCEEDED"]
    [failed] = manifest["ResultFiles"]["FAILED"]
    assert ok["Key"].endswith("/SUCCEEDED_0.jsonl") and failed["Key"].endswith("/FAILED_0.jsonl")
    lines = s3.get_object(Bucket=bucket, Key=ok["Key"])["Body"].read().decode().splitlines()
    assert [json.loads(x) for x in lines] == [1, 1, 2, 2, 4, 4]
    [failure] = [json.loads(x) for x in s3.get_object(Bucket=bucket, Key=failed["Key"])["Body"].read().decode().splitlines()]
    assert failure["Status"] == "FAILED" and failure["Error"] == "Three" and failure["Cause"] == "no threes"
    assert json.loads(failure["Input"]) == {"n": 3}


def test_a_failed_map_run_still_writes_its_results(sfn, machine, s3, bucket):
    s3.put_object(Bucket=bucket, Key="n.json", Body=json.dumps([1, 2, 3, 4, 5]).encode())
    # Item 2 fails and none is tolerated; one child at a time, so 3, 4 and 5 never start.
    states = {
        "Two?": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Boom"}],
                 "Default": "Done"},
        "Done": {"Type": "Pass", "End": True},
        "Boom": {"Type": "Fail", "Error": "Two", "Cause": "no twos"},
    }
    definition = distributed(
        states,
        "Two?",
        ItemReader={"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                    "Parameters": {"Bucket": bucket, "Key": "n.json"}},
        MaxConcurrency=1,
        ToleratedFailureCount=0,
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": bucket, "Prefix": "f"}},
    )
    done, events = run(sfn, machine, definition, {})
    assert done["status"] == "FAILED", done
    assert done["error"] == "States.ExceedToleratedFailureThreshold"
    assert "MapRunFailed" in support.types(events)
    [listed] = sfn.list_map_runs(executionArn=done["executionArn"])["mapRuns"]
    run_arn = listed["mapRunArn"]
    run_id = run_arn.rsplit(":", 1)[1]
    manifest = read_json(s3, bucket, f"f/{run_id}/manifest.json")
    assert manifest["DestinationBucket"] == bucket and manifest["MapRunArn"] == run_arn
    files = manifest["ResultFiles"]
    assert [f["Key"] for f in files["SUCCEEDED"]] == [f"f/{run_id}/SUCCEEDED_0.json"]
    assert [f["Key"] for f in files["FAILED"]] == [f"f/{run_id}/FAILED_0.json"]
    assert [f["Key"] for f in files["PENDING"]] == [f"f/{run_id}/PENDING_0.json"]
    [ok] = read_json(s3, bucket, f"f/{run_id}/SUCCEEDED_0.json")
    assert ok["Status"] == "SUCCEEDED" and json.loads(ok["Output"]) == 1
    [failed] = read_json(s3, bucket, f"f/{run_id}/FAILED_0.json")
    assert failed["Status"] == "FAILED" and failed["Error"] == "Two" and json.loads(failed["Input"]) == 2
    pending = read_json(s3, bucket, f"f/{run_id}/PENDING_0.json")
    assert [(p["Status"], json.loads(p["Input"])) for p in pending] == [("PENDING", 3), ("PENDING", 4), ("PENDING", 5)]
    described = sfn.describe_map_run(mapRunArn=run_arn)
    assert described["status"] == "FAILED"
    assert described["itemCounts"]["resultsWritten"] == 2


def test_writer_config_alone_shapes_the_output_without_writing(sfn, machine, s3, bucket):
    definition = distributed(
        {"P": {"Type": "Pass", "Parameters": {"twice.$": "States.Array($.v, $.v)"}, "OutputPath": "$.twice",
               "End": True}},
        "P",
        ItemsPath="$.values",
        ItemSelector={"v.$": "$$.Map.Item.Value"},
        ResultWriter={"WriterConfig": {"OutputType": "JSON", "Transformation": "FLATTEN"}},
    )
    done, _ = run(sfn, machine, definition, {"values": ["a", "b"]})
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == ["a", "a", "b", "b"]


def test_a_missing_object_fails_the_map_run_with_item_reader_failed(sfn, machine, bucket):
    definition = distributed(
        PASS,
        "P",
        ItemReader={"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV",
                    "CSVHeaderLocation": "FIRST_ROW"}, "Parameters": {"Bucket": bucket, "Key": "nope.csv"}},
    )
    done, events = run(sfn, machine, definition, {})
    assert done["status"] == "FAILED"
    assert done["error"] == "States.ItemReaderFailed"
    assert "NoSuchKey" in done["cause"]
    assert support.types(events)[-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]


def test_item_reader_outside_a_distributed_map_is_an_invalid_definition(sfn, name):
    definition = support.definition({"Map": {
        "Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}},
        "ItemProcessor": {"StartAt": "P", "States": PASS},
        "End": True,
    }})
    with support.raises("InvalidDefinition", "ItemReader"):
        sfn.create_state_machine(name=name(), definition=definition, roleArn=support.ROLE_ARN)


def test_a_map_run_is_described_listed_and_its_children_counted(sfn, machine, s3, bucket):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=CSV.encode())
    definition = distributed(
        PASS,
        "P",
        ItemReader={"Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                    "Parameters": {"Bucket": bucket, "Key": "people.csv"}},
        ItemBatcher={"MaxItemsPerBatch": 2},
        MaxConcurrency=7,
        ToleratedFailurePercentage=10,
    )
    arn = machine(definition)
    ex = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    assert support.wait_done(sfn, ex, timeout=30)["status"] == "SUCCEEDED"
    [listed] = sfn.list_map_runs(executionArn=ex)["mapRuns"]
    assert listed["executionArn"] == ex and listed["stateMachineArn"] == arn
    run = sfn.describe_map_run(mapRunArn=listed["mapRunArn"])
    assert run["executionArn"] == ex and run["status"] == "SUCCEEDED"
    assert run["maxConcurrency"] == 7 and run["toleratedFailurePercentage"] == 10.0
    assert run["toleratedFailureCount"] == 0
    assert run["startDate"] <= run["stopDate"]
    # Five rows in batches of two: itemCounts count the rows, executionCounts the children.
    for counts, n in ((run["itemCounts"], 5), (run["executionCounts"], 3)):
        assert counts["total"] == n and counts["succeeded"] == n
        assert counts["failed"] == counts["pending"] == counts["running"] == counts["aborted"] == 0
        assert counts["resultsWritten"] == 0
    # Its children are executions of their own: one per batch, listed in the order of their items.
    children = sfn.list_executions(mapRunArn=listed["mapRunArn"])["executions"]
    assert [c["status"] for c in children] == ["SUCCEEDED"] * 3
    assert all(c["mapRunArn"] == listed["mapRunArn"] for c in children)


def test_a_failed_batch_counts_each_of_its_items_as_failed(sfn, machine, s3, bucket):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=CSV.encode())
    # The batch holding alan (rows 3 and 4) fails; one failed child is tolerated.
    states = {
        "Alan?": {"Type": "Choice", "Choices": [{"Variable": "$.Items[0].name", "StringEquals": "alan",
                                                  "Next": "Boom"}], "Default": "Done"},
        "Done": {"Type": "Pass", "End": True},
        "Boom": {"Type": "Fail", "Error": "Alan"},
    }
    definition = distributed(
        states,
        "Alan?",
        ItemReader={"Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                    "Parameters": {"Bucket": bucket, "Key": "people.csv"}},
        ItemBatcher={"MaxItemsPerBatch": 2},
        ToleratedFailureCount=1,
    )
    done, _ = run(sfn, machine, definition, {})
    assert done["status"] == "SUCCEEDED", done
    [listed] = sfn.list_map_runs(executionArn=done["executionArn"])["mapRuns"]
    run_ = sfn.describe_map_run(mapRunArn=listed["mapRunArn"])
    items, children = run_["itemCounts"], run_["executionCounts"]
    assert (items["total"], items["succeeded"], items["failed"]) == (5, 3, 2)
    assert (children["total"], children["succeeded"], children["failed"]) == (3, 2, 1)


def test_update_map_run_raises_the_concurrency_of_a_running_map_run(sfn, machine, name):
    activity = sfn.create_activity(name=name("work"))["activityArn"]
    definition = distributed(
        {"Work": {"Type": "Task", "Resource": activity, "End": True}},
        "Work",
        ItemsPath="$.items",
        MaxConcurrency=1,
    )
    arn = machine(definition)
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": [1, 2, 3]}))["executionArn"]
    support.wait_event(sfn, ex, "MapRunStarted")
    run_arn = sfn.list_map_runs(executionArn=ex)["mapRuns"][0]["mapRunArn"]

    def take_task():
        task = sfn.get_activity_task(activityArn=activity, workerName="w")
        assert task.get("taskToken"), "an iteration waits for the worker"
        return task

    first = take_task()
    run = sfn.describe_map_run(mapRunArn=run_arn)
    assert run["status"] == "RUNNING" and run["maxConcurrency"] == 1
    assert run["itemCounts"]["running"] == 1 and run["itemCounts"]["pending"] == 2

    sfn.update_map_run(mapRunArn=run_arn, maxConcurrency=3, toleratedFailureCount=1)
    others = [take_task(), take_task()]
    run = sfn.describe_map_run(mapRunArn=run_arn)
    assert run["maxConcurrency"] == 3 and run["toleratedFailureCount"] == 1
    assert run["itemCounts"]["running"] == 3 and run["itemCounts"]["pending"] == 0

    for task in [first, *others]:
        sfn.send_task_success(taskToken=task["taskToken"], output=task["input"])
    done = support.wait_done(sfn, ex, timeout=30)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == [1, 2, 3]
    run = sfn.describe_map_run(mapRunArn=run_arn)
    assert run["status"] == "SUCCEEDED" and run["itemCounts"]["succeeded"] == 3 and run["maxConcurrency"] == 3


def test_map_run_calls_answer_awss_errors(sfn, machine):
    missing = f"arn:aws:states:{support.REGION}:123456789012:mapRun:nomachine/Map:0b7e2b1c-0000-4000-8000-000000000000"
    with support.raises("ResourceNotFound"):
        sfn.describe_map_run(mapRunArn=missing)
    with support.raises("ResourceNotFound"):
        sfn.update_map_run(mapRunArn=missing, maxConcurrency=2)
    with support.raises("InvalidArn"):
        sfn.describe_map_run(mapRunArn="arn:aws:states:us-east-1:123456789012:execution:m:e")
    with support.raises("ValidationException"):
        sfn.update_map_run(mapRunArn=missing)
    with support.raises("ValidationException"):
        sfn.update_map_run(mapRunArn=missing, toleratedFailurePercentage=101)
    execution = f"arn:aws:states:{support.REGION}:123456789012:execution:nomachine:nothing"
    with support.raises("ExecutionDoesNotExist"):
        sfn.list_map_runs(executionArn=execution)


def test_a_map_run_survives_a_crash_and_runs_each_item_once(baton_server_factory, name):
    """SIGKILL mid-run: the items read before the crash are not read again, the children that
    finished are not run again, and the rest run after the restart."""
    server = baton_server_factory()
    sfn = support.client(server.endpoint)
    s3 = s3_client(server.endpoint)
    b = bucket_name(name)
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="jobs.jsonl", Body=b'{"job": 1}\n{"job": 2}\n{"job": 3}\n')
    activity = sfn.create_activity(name=name("work"))["activityArn"]
    definition = distributed(
        {"Work": {"Type": "Task", "Resource": activity, "End": True}},
        "Work",
        ItemReader={"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
                    "Parameters": {"Bucket": b, "Key": "jobs.jsonl"}},
        MaxConcurrency=1,
    )
    arn = sfn.create_state_machine(name=name(), definition=definition, roleArn=support.ROLE_ARN)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    first = sfn.get_activity_task(activityArn=activity, workerName="before")
    sfn.send_task_success(taskToken=first["taskToken"], output=json.dumps({"done": json.loads(first["input"])["job"]}))
    second = sfn.get_activity_task(activityArn=activity, workerName="before")
    # The object changes after it was read: a second read would show it.
    s3.put_object(Bucket=b, Key="jobs.jsonl", Body=b'{"job": 99}\n')

    server.crash_and_restart()
    sfn = support.client(server.endpoint)

    # The task handed out before the crash is still the one waiting.
    sfn.send_task_success(taskToken=second["taskToken"], output=json.dumps({"done": json.loads(second["input"])["job"]}))
    third = sfn.get_activity_task(activityArn=activity, workerName="after")
    assert json.loads(third["input"]) == {"job": 3}
    sfn.send_task_success(taskToken=third["taskToken"], output=json.dumps({"done": 3}))
    done = support.wait_done(sfn, ex, timeout=30)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [{"done": 1}, {"done": 2}, {"done": 3}]
    [run] = sfn.list_map_runs(executionArn=ex)["mapRuns"]
    counts = sfn.describe_map_run(mapRunArn=run["mapRunArn"])["itemCounts"]
    assert counts["total"] == 3 and counts["succeeded"] == 3
    # No task is left over for a worker: each item ran once.
    assert not sfn.get_activity_task(activityArn=activity, workerName="after").get("taskToken")
    events = support.history(sfn, ex)
    assert support.types(events).count("MapRunStarted") == 1
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))


def test_a_stopped_execution_aborts_its_map_run(sfn, machine, name):
    activity = sfn.create_activity(name=name("work"))["activityArn"]
    definition = distributed(
        {"Work": {"Type": "Task", "Resource": activity, "End": True}}, "Work", ItemsPath="$.items", MaxConcurrency=2
    )
    arn = machine(definition)
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": [1, 2, 3, 4, 5]}))["executionArn"]
    support.wait_event(sfn, ex, "MapRunStarted")
    sfn.stop_execution(executionArn=ex)
    assert support.wait_done(sfn, ex)["status"] == "ABORTED"
    [listed] = sfn.list_map_runs(executionArn=ex)["mapRuns"]
    run = sfn.describe_map_run(mapRunArn=listed["mapRunArn"])
    assert run["status"] == "ABORTED" and "stopDate" in run
    counts = run["itemCounts"]
    assert counts["total"] == 5 and counts["aborted"] == 5
    assert counts["running"] == counts["pending"] == counts["succeeded"] == 0


@pytest.mark.parametrize("execution_type", ["STANDARD", "EXPRESS"])
def test_each_child_is_an_execution_with_its_own_history(sfn, machine, s3, bucket, execution_type):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=CSV.encode())
    definition = json.loads(distributed(
        {"Greet": {"Type": "Pass", "Parameters": {"hello.$": "$.name"}, "End": True}},
        "Greet",
        ItemReader={"Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                    "Parameters": {"Bucket": bucket, "Key": "people.csv"}},
        ItemSelector={"name.$": "$$.Map.Item.Value.name", "index.$": "$$.Map.Item.Index"},
        MaxConcurrency=2,
        Label="People",
    ))
    definition["States"]["Map"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = execution_type
    arn = machine(json.dumps(definition))
    ex = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    done = support.wait_done(sfn, ex, timeout=30)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [{"hello": n} for n in ["ada", "grace", "alan", "barbara", "edsger"]]
    parent_types = support.types(support.history(sfn, ex))
    assert parent_types == ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
                            "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]

    [run] = sfn.list_map_runs(executionArn=ex)["mapRuns"]
    run_arn = run["mapRunArn"]
    children = []
    token = None
    while True:
        page = sfn.list_executions(mapRunArn=run_arn, maxResults=2, **({"nextToken": token} if token else {}))
        children += page["executions"]
        token = page.get("nextToken")
        if not token:
            break
    assert len(children) == 5
    machine_name = arn.rsplit(":", 1)[1]
    for i, child in enumerate(children):
        assert child["status"] == "SUCCEEDED" and child["mapRunArn"] == run_arn
        assert f":execution:{machine_name}/People:" in child["executionArn"]
        described = sfn.describe_execution(executionArn=child["executionArn"])
        assert described["mapRunArn"] == run_arn
        assert json.loads(described["input"])["index"] == i
    history = support.history(sfn, children[2]["executionArn"])
    assert support.types(history) == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                      "ExecutionSucceeded"]
    assert json.loads(history[0]["executionStartedEventDetails"]["input"]) == {"name": "alan", "index": 2}
    assert json.loads(history[-1]["executionSucceededEventDetails"]["output"]) == {"hello": "alan"}
    counts = sfn.describe_map_run(mapRunArn=run_arn)["executionCounts"]
    assert counts["succeeded"] == counts["total"] == 5


def test_a_redrive_takes_the_failed_map_run_up_again_and_reruns_only_its_unsuccessful_children(
    sfn, machine, s3, bucket
):
    # Each child reads the object its item names: item 3's is missing the first time.
    for n in [1, 2, 4, 5]:
        s3.put_object(Bucket=bucket, Key=f"ok/{n}", Body=b"yes")
    definition = distributed(
        {"Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                  "Parameters": {"Bucket": bucket, "Key.$": "States.Format('ok/{}', $)"},
                  "ResultPath": None, "End": True}},
        "Read",
        ItemsPath="$.items",
        MaxConcurrency=1,
        ToleratedFailureCount=0,
    )
    arn = machine(definition)
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": [1, 2, 3, 4, 5]}))["executionArn"]
    failed = support.wait_done(sfn, ex, timeout=30)
    assert failed["status"] == "FAILED", failed
    [listed] = sfn.list_map_runs(executionArn=ex)["mapRuns"]
    run_arn = listed["mapRunArn"]
    first = sfn.describe_map_run(mapRunArn=run_arn)
    assert first["status"] == "FAILED" and first["redriveCount"] == 0 and "redriveDate" not in first
    before = {c["name"]: c for c in sfn.list_executions(mapRunArn=run_arn)["executions"]}
    assert sorted(c["status"] for c in before.values()) == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    succeeded = sorted(c["executionArn"] for c in before.values() if c["status"] == "SUCCEEDED")
    [failed_child] = [c["executionArn"] for c in before.values() if c["status"] == "FAILED"]
    kept = {a: support.history(sfn, a) for a in succeeded}

    s3.put_object(Bucket=bucket, Key="ok/3", Body=b"yes")
    sfn.redrive_execution(executionArn=ex)
    done = support.wait_done(sfn, ex, timeout=30)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [1, 2, 3, 4, 5]
    assert done["redriveCount"] == 1
    events = support.history(sfn, ex)
    types = support.types(events)
    assert types.count("MapRunStarted") == 1
    redriven = [e for e in events if e["type"] == "MapRunRedriven"]
    assert [e["mapRunRedrivenEventDetails"] for e in redriven] == [{"mapRunArn": run_arn, "redriveCount": 1}]
    assert types[types.index("ExecutionRedriven"):] == [
        "ExecutionRedriven", "MapStateEntered", "MapStateStarted", "MapRunRedriven", "MapRunSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]

    # The same run: the succeeded children did not run again, the failed one was redriven,
    # and the items never started ran for the first time.
    assert [r["mapRunArn"] for r in sfn.list_map_runs(executionArn=ex)["mapRuns"]] == [run_arn]
    children = sfn.list_executions(mapRunArn=run_arn)["executions"]
    assert len(children) == 5 and all(c["status"] == "SUCCEEDED" for c in children)
    for a in succeeded:
        assert sfn.describe_execution(executionArn=a)["redriveCount"] == 0
        assert support.history(sfn, a) == kept[a]
    again = sfn.describe_execution(executionArn=failed_child)
    assert again["redriveCount"] == 1 and json.loads(again["input"]) == 3
    assert "ExecutionRedriven" in support.types(support.history(sfn, failed_child))
    described = sfn.describe_map_run(mapRunArn=run_arn)
    assert described["status"] == "SUCCEEDED"
    assert described["redriveCount"] == 1 and "redriveDate" in described
    counts = described["itemCounts"]
    assert counts["succeeded"] == counts["total"] == 5 and counts["failed"] == 0
