"""Tasks that call AWS services, against a real AWS-compatible server: moto's server mode
(see `aws_peer.py`), with `baton serve` pointed at it by `AWS_ENDPOINT_URL` as an AWS SDK
would be. Each machine's effect is read back from moto with boto3; AWS's error names are
caught by Catch; a recording proxy checks the SigV4 signatures with botocore's signer.

One test double: moto's non-Docker Lambda always succeeds (it answers with the event), so the
function errors Lambda reports (`X-Amz-Function-Error`) come from `FailingLambda` below, a
small stand-in for Lambda's Invoke API in this file.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time

import pytest

from aws_peer import SigningRecorder, start_moto
from seeds_helpers import Baton, free_port

ROLE = "arn:aws:iam::123456789012:role/baton-aws-tests"


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def baton(moto, tmp_path_factory):
    config = tmp_path_factory.mktemp("baton-aws") / "baton.toml"
    config.write_text("")
    with Baton(config, env={"AWS_ENDPOINT_URL": moto.endpoint}) as b:
        yield b


_names = iter(range(1_000_000))


def run(baton, definition: dict, input: dict | None = None, timeout: float = 30) -> dict:
    sfn = baton.client()
    arn = sfn.create_state_machine(name=f"aws-{next(_names)}-{time.time_ns()}", definition=json.dumps(definition),
                                   roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(input or {}))["executionArn"]
    deadline = time.monotonic() + timeout
    while True:
        d = sfn.describe_execution(executionArn=execution)
        if d["status"] != "RUNNING":
            if "output" in d:
                d["output"] = json.loads(d["output"])
            return d
        assert time.monotonic() < deadline, f"still running after {timeout} s"
        time.sleep(0.05)


def task(resource: str, parameters: dict, **extra) -> dict:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": parameters,
                                             "End": True, **extra}}}


def caught(resource: str, parameters: dict, error: str) -> dict:
    """A Task whose `error` is caught into `$.caught`."""
    return {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True,
              "Catch": [{"ErrorEquals": [error], "ResultPath": "$.caught", "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}}


def create_table(moto, name: str) -> None:
    moto.client("dynamodb").create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


# ----- DynamoDB ------------------------------------------------------------------------------


def test_dynamodb_put_update_get_delete_leave_their_data_in_dynamodb(baton, moto):
    create_table(moto, "orders")
    definition = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "ResultPath": None,
                "Parameters": {"TableName": "orders", "Item": {"id": {"S.$": "$.id"}, "state": {"S": "new"}}},
                "Next": "Update"},
        "Update": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem", "ResultPath": "$.updated",
                   "Parameters": {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}},
                                  "UpdateExpression": "SET #s = :s", "ExpressionAttributeNames": {"#s": "state"},
                                  "ExpressionAttributeValues": {":s": {"S": "paid"}}, "ReturnValues": "UPDATED_NEW"},
                   "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem", "ResultPath": "$.got",
                "Parameters": {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}}}, "End": True}}}
    d = run(baton, definition, {"id": "o-1"})
    assert d["status"] == "SUCCEEDED", d
    out = d["output"]
    assert out["updated"]["Attributes"] == {"state": {"S": "paid"}}
    assert out["got"]["Item"] == {"id": {"S": "o-1"}, "state": {"S": "paid"}}
    # The optimized integration's result carries the SDK's metadata of the real response.
    assert out["got"]["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert out["got"]["SdkResponseMetadata"]["RequestId"]
    assert moto.client("dynamodb").get_item(TableName="orders", Key={"id": {"S": "o-1"}})["Item"]["state"] == {"S": "paid"}

    d = run(baton, task("arn:aws:states:::dynamodb:deleteItem", {"TableName": "orders", "Key": {"id": {"S": "o-1"}}}))
    assert d["status"] == "SUCCEEDED", d
    assert "Item" not in moto.client("dynamodb").get_item(TableName="orders", Key={"id": {"S": "o-1"}})


def test_a_failed_condition_is_caught_by_its_aws_name(baton, moto):
    create_table(moto, "accounts")
    moto.client("dynamodb").put_item(TableName="accounts", Item={"id": {"S": "a"}})
    d = run(baton, caught("arn:aws:states:::dynamodb:putItem",
                          {"TableName": "accounts", "Item": {"id": {"S": "a"}},
                           "ConditionExpression": "attribute_not_exists(id)"},
                          "DynamoDB.ConditionalCheckFailedException"))
    assert d["status"] == "SUCCEEDED", d
    assert d["output"]["caught"]["Error"] == "DynamoDB.ConditionalCheckFailedException"
    assert "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ConditionalCheckFailedException;" in \
        d["output"]["caught"]["Cause"]


def test_aws_sdk_dynamodb_names_a_missing_table_as_the_sdk_does(baton):
    d = run(baton, caught("arn:aws:states:::aws-sdk:dynamodb:getItem",
                          {"TableName": "no-such-table", "Key": {"id": {"S": "x"}}},
                          "DynamoDb.ResourceNotFoundException"))
    assert d["status"] == "SUCCEEDED", d
    assert d["output"]["caught"]["Cause"].startswith("Requested resource not found (Service: DynamoDb, Status Code: 400")
    # Uncaught, it fails the execution with the same name.
    d = run(baton, task("arn:aws:states:::aws-sdk:dynamodb:getItem", {"TableName": "no-such-table", "Key": {"id": {"S": "x"}}}))
    assert (d["status"], d["error"]) == ("FAILED", "DynamoDb.ResourceNotFoundException")


# ----- EventBridge, Secrets Manager, SSM, KMS -------------------------------------------------


def test_put_events_reaches_the_bus_and_its_rule_targets(baton, moto):
    sqs = moto.client("sqs")
    queue = sqs.create_queue(QueueName="order-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = moto.client("events")
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["baton.orders"]}))
    events.put_targets(Rule="orders", Targets=[{"Id": "q", "Arn": queue_arn}])
    d = run(baton, task("arn:aws:states:::events:putEvents", {"Entries": [
        {"Source": "baton.orders", "DetailType": "OrderPlaced", "Detail": {"id.$": "$.id", "total": 12}}]}),
        {"id": "o-7"})
    assert d["status"] == "SUCCEEDED", d
    assert d["output"]["FailedEntryCount"] == 0 and d["output"]["Entries"][0]["EventId"]
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    event = json.loads(messages[0]["Body"])
    assert (event["source"], event["detail-type"], event["detail"]) == ("baton.orders", "OrderPlaced", {"id": "o-7", "total": 12})


def test_secrets_and_parameters_are_written_and_read(baton, moto):
    definition = {"StartAt": "Create", "States": {
        "Create": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:secretsmanager:createSecret",
                   "Parameters": {"Name": "db-password", "SecretString.$": "$.secret"}, "ResultPath": None, "Next": "Read"},
        "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue",
                 "Parameters": {"SecretId": "db-password"}, "ResultSelector": {"value.$": "$.SecretString"},
                 "ResultPath": "$.read", "Next": "Put"},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ssm:putParameter",
                "Parameters": {"Name": "/app/mode", "Value": "live", "Type": "String"}, "ResultPath": None, "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ssm:getParameter",
                "Parameters": {"Name": "/app/mode"}, "ResultSelector": {"value.$": "$.Parameter.Value"},
                "ResultPath": "$.parameter", "End": True}}}
    d = run(baton, definition, {"secret": "s3cr3t"})
    assert d["status"] == "SUCCEEDED", d
    assert d["output"]["read"] == {"value": "s3cr3t"} and d["output"]["parameter"] == {"value": "live"}
    assert moto.client("secretsmanager").get_secret_value(SecretId="db-password")["SecretString"] == "s3cr3t"
    assert moto.client("ssm").get_parameter(Name="/app/mode")["Parameter"]["Value"] == "live"

    d = run(baton, caught("arn:aws:states:::aws-sdk:secretsmanager:getSecretValue", {"SecretId": "no-such-secret"},
                          "SecretsManager.ResourceNotFoundException"))
    assert d["status"] == "SUCCEEDED" and "caught" in d["output"], d


def test_kms_encrypts_what_kms_decrypts(baton, moto):
    kms = moto.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    plaintext = base64.b64encode(b"card 4242").decode()
    d = run(baton, task("arn:aws:states:::aws-sdk:kms:encrypt", {"KeyId": key, "Plaintext": plaintext}))
    assert d["status"] == "SUCCEEDED", d
    blob = base64.b64decode(d["output"]["CiphertextBlob"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"card 4242"


# ----- S3 ------------------------------------------------------------------------------------


def test_s3_objects_are_written_read_listed_copied_and_deleted(baton, moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="reports")
    definition = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject", "ResultPath": "$.put",
                "Parameters": {"Bucket": "reports", "Key": "2026/a b.json", "Body.$": "$.report",
                               "Metadata": {"author": "baton"}}, "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject", "ResultPath": "$.got",
                "Parameters": {"Bucket": "reports", "Key": "2026/a b.json"}, "Next": "Range"},
        "Range": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject", "ResultPath": "$.range",
                  "Parameters": {"Bucket": "reports", "Key": "2026/a b.json", "Range": "bytes=2-6"}, "Next": "Copy"},
        "Copy": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:copyObject", "ResultPath": None,
                 "Parameters": {"Bucket": "reports", "Key": "copy.json", "CopySource": "reports/2026/a b.json"},
                 "Next": "List"},
        "List": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listObjectsV2", "ResultPath": "$.list",
                 "Parameters": {"Bucket": "reports"}, "Next": "Delete"},
        "Delete": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:deleteObject", "ResultPath": None,
                   "Parameters": {"Bucket": "reports", "Key": "copy.json"}, "End": True}}}
    d = run(baton, definition, {"report": {"total": 3}})
    assert d["status"] == "SUCCEEDED", d
    out = d["output"]
    assert out["put"]["ETag"] == '"' + __import__("hashlib").md5(b'{"total":3}').hexdigest() + '"'
    assert out["got"]["Body"] == '{"total":3}' and out["got"]["ContentLength"] == 11
    assert out["got"]["Metadata"] == {"author": "baton"}
    assert out["range"]["Body"] == "total"
    assert [c["Key"] for c in out["list"]["Contents"]] == ["2026/a b.json", "copy.json"]
    assert s3.get_object(Bucket="reports", Key="2026/a b.json")["Body"].read() == b'{"total":3}'
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="reports")["Contents"]] == ["2026/a b.json"]


def test_s3_multipart_uploads_and_missing_keys(baton, moto):
    moto.client("s3").create_bucket(Bucket="uploads")
    definition = {"StartAt": "Create", "States": {
        "Create": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:createMultipartUpload",
                   "Parameters": {"Bucket": "uploads", "Key": "big.csv"}, "ResultPath": "$.upload", "Next": "Part"},
        "Part": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:uploadPart",
                 "Parameters": {"Bucket": "uploads", "Key": "big.csv", "UploadId.$": "$.upload.UploadId",
                                "PartNumber": 1, "Body": "a,b\n1,2\n"}, "ResultPath": "$.part", "Next": "Complete"},
        "Complete": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:completeMultipartUpload",
                     "Parameters": {"Bucket": "uploads", "Key": "big.csv", "UploadId.$": "$.upload.UploadId",
                                    "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag.$": "$.part.ETag"}]}},
                     "End": True}}}
    d = run(baton, definition)
    assert d["status"] == "SUCCEEDED", d
    assert moto.client("s3").get_object(Bucket="uploads", Key="big.csv")["Body"].read() == b"a,b\n1,2\n"
    d = run(baton, caught("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "uploads", "Key": "nope"},
                          "S3.NoSuchKeyException"))
    assert d["status"] == "SUCCEEDED" and d["output"]["caught"]["Error"] == "S3.NoSuchKeyException", d


# ----- Lambda --------------------------------------------------------------------------------


def test_functions_at_a_lambda_endpoint_are_invoked(baton, moto):
    arn = moto.create_function("echo")
    d = run(baton, task("arn:aws:states:::lambda:invoke", {"FunctionName": "echo", "Payload": {"n.$": "$.n"}}), {"n": 5})
    assert d["status"] == "SUCCEEDED", d
    assert d["output"]["Payload"] == {"n": 5} and d["output"]["StatusCode"] == 200
    d = run(baton, {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": arn, "End": True}}}, {"n": 6})
    assert (d["status"], d["output"]) == ("SUCCEEDED", {"n": 6}), d


class FailingLambda:
    """Lambda's Invoke API for two functions that fail as Lambda reports it: a 200 with
    `X-Amz-Function-Error: Unhandled` and the error document (see the module doc)."""

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length") or 0))
                if "/functions/typed/" in self.path:
                    body = {"errorType": "PaymentDeclined", "errorMessage": "card declined", "trace": []}
                else:
                    body = {"errorMessage": "out of memory"}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("X-Amz-Function-Error", "Unhandled")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_function_error_fails_the_task_with_the_functions_error_type(tmp_path):
    lam = FailingLambda()
    config = tmp_path / "baton.toml"
    config.write_text("")
    try:
        with Baton(config, env={"AWS_ENDPOINT_URL_LAMBDA": lam.endpoint}) as b:
            d = run(b, caught("arn:aws:states:::lambda:invoke", {"FunctionName": "typed", "Payload": {}}, "PaymentDeclined"))
            assert d["status"] == "SUCCEEDED", d
            assert json.loads(d["output"]["caught"]["Cause"])["errorMessage"] == "card declined"
            d = run(b, task("arn:aws:lambda:us-east-1:123456789012:function:untyped", {}))
            assert (d["status"], d["error"]) == ("FAILED", "Lambda.Unknown"), d
    finally:
        lam.server.shutdown()


# ----- configuration and signing -------------------------------------------------------------


def test_a_service_nobody_configured_fails_with_what_would_configure_it(server, sfn):
    # The session server has no AWS endpoint.
    class Endpoint:
        def client(self):
            return sfn

    d = run(Endpoint(), task("arn:aws:states:::dynamodb:getItem", {"TableName": "t", "Key": {}}))
    assert (d["status"], d["error"]) == ("FAILED", "Baton.AwsNotConfigured"), d
    assert "AWS_ENDPOINT_URL_DYNAMODB" in d["cause"] and "[aws.endpoints]" in d["cause"]


def test_requests_carry_a_valid_sigv4_signature_for_the_configured_credentials(moto, tmp_path):
    import boto3
    west = {"endpoint_url": moto.endpoint, "region_name": "eu-west-1", "aws_access_key_id": "test",
            "aws_secret_access_key": "test"}
    boto3.client("dynamodb", **west).create_table(
        TableName="signed", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    boto3.client("s3", **west).create_bucket(Bucket="signed", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    recorder = SigningRecorder(moto.endpoint, "AKIDBATONSIGNING", "signing-secret")
    config = tmp_path / "baton.toml"
    config.write_text(f'[aws]\nregion = "eu-west-1"\n\n[aws.endpoints]\ndynamodb = "{recorder.endpoint}"\n'
                      f's3 = "{recorder.endpoint}"\n')
    env = {"AWS_ACCESS_KEY_ID": "AKIDBATONSIGNING", "AWS_SECRET_ACCESS_KEY": "signing-secret"}
    try:
        with Baton(config, env=env) as b:
            d = run(b, {"StartAt": "Put", "States": {
                "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem",
                        "Parameters": {"TableName": "signed", "Item": {"id": {"S": "x"}}}, "Next": "S3"},
                "S3": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                       "Parameters": {"Bucket": "signed", "Key": "k/ü x.txt", "Body": "hello"}, "End": True}}})
    finally:
        recorder.stop()
    assert d["status"] == "SUCCEEDED", d
    services = [s["service"] for s in recorder.seen]
    assert "dynamodb" in services and "s3" in services, recorder.seen
    for seen in recorder.seen:
        assert seen["access_key"] == "AKIDBATONSIGNING" and seen["region"] == "eu-west-1", seen
        assert seen["valid"], f"botocore computes another signature for {seen}"
        assert not seen["valid_with_wrong_secret"], seen


def test_validate_warns_of_sync_tasks_baton_cannot_follow(sfn):
    states = {
        "Run": {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "Parameters": {}, "Next": "Each"},
        "Each": {"Type": "Map", "ItemProcessor": {"StartAt": "Job", "States": {
            "Job": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync:2", "Parameters": {}, "End": True}}},
                 "Next": "Child"},
        "Child": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                  "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:x"}, "End": True},
    }
    r = sfn.validate_state_machine_definition(definition=json.dumps({"StartAt": "Run", "States": states}))
    assert r["result"] == "OK"
    sync = [d for d in r["diagnostics"] if d["code"] == "UNSUPPORTED_SYNC"]
    assert {d["location"] for d in sync} == {"/States/Run/Resource", "/States/Each/ItemProcessor/States/Job/Resource"}
    assert all(d["severity"] == "WARNING" and "without .sync" in d["message"] for d in sync)


def test_built_in_queues_give_way_to_an_sqs_endpoint_of_its_own(moto, tmp_path):
    sqs = moto.client("sqs")
    queue = sqs.create_queue(QueueName="elsewhere")["QueueUrl"]
    config = tmp_path / "baton.toml"
    config.write_text("")
    send = task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": queue, "MessageBody": {"order.$": "$.order"}})
    with Baton(config, env={"AWS_ENDPOINT_URL_SQS": moto.endpoint}) as b:
        d = run(b, send, {"order": 7})
    assert d["status"] == "SUCCEEDED", d
    assert d["output"]["MessageId"] and d["output"]["SdkHttpMetadata"]["HttpStatusCode"] == 200
    [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    assert json.loads(message["Body"]) == {"order": 7}
