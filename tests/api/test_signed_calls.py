"""With `[credentials]` in baton.toml, every API call must be SigV4-signed with a configured
key: boto3, the aws CLI (and aws-sdk-rust, `crates/baton/tests/sdk.rs`) with the right keys
work; with a wrong secret, an unknown key or no signature they get AWS's errors. The console
and signed links keep their own sign-in. With users configured, task tokens show on console
pages only to people who may answer the task."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.parse

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

import support
from test_cli import aws_binary
from test_hardening import http, pbkdf2, sign_in

KEY_ID, SECRET = "AKIABATONANA", "ana-secret-access-key"


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    server = support.BatonServer(tmp_path_factory.mktemp("baton-signed"), 2000)
    with open(server.config, "a") as f:
        f.write(
            f"""
[credentials.ana-laptop]
access_key_id = "{KEY_ID}"
secret_access_key = "{SECRET}"
user = "ana"

[console.users.ana]
password = "{pbkdf2('ana-secret')}"

[console.users.bob]
password = "{pbkdf2('bob-secret')}"
"""
        )
    server.start()
    yield server
    server.stop()


def client(server, service="stepfunctions", key=KEY_ID, secret=SECRET, unsigned=False):
    extra = {"signature_version": UNSIGNED} if unsigned else {}
    return boto3.client(service, endpoint_url=server.endpoint, region_name=support.REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, **extra))


def error_of(call) -> tuple[str, int]:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_boto3_with_the_right_key_works_and_others_get_aws_errors(signed):
    sfn = client(signed)
    name = "signed-pass"
    arn = sfn.create_state_machine(name=name, definition=support.PASS_DEFINITION,
                                   roleArn=support.ROLE_ARN)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, input='{"a": 1}')["executionArn"]
    assert support.wait_done(sfn, ex)["status"] == "SUCCEEDED"
    page = http(signed, "GET", "/execution?" + urllib.parse.urlencode({"arn": ex}),
                headers={"Cookie": sign_in(signed, "ana", "ana-secret")[2]})[2]
    assert "started" in page and "by ana" in page, "the key's user is who started it"
    listing = lambda c: c.list_state_machines()  # noqa: E731
    assert error_of(lambda: listing(client(signed, secret="wrong"))) == ("InvalidSignatureException", 400)
    assert error_of(lambda: listing(client(signed, key="AKIAUNKNOWN"))) == ("UnrecognizedClientException", 400)
    assert error_of(lambda: listing(client(signed, unsigned=True)))[0] == "MissingAuthenticationTokenException"
    sqs = client(signed, "sqs")
    url = sqs.create_queue(QueueName="signed-jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hi")
    assert error_of(lambda: client(signed, "sqs", secret="wrong").receive_message(QueueUrl=url))[0] == \
        "SignatureDoesNotMatch"
    assert error_of(lambda: client(signed, "sqs", key="AKIAUNKNOWN").receive_message(QueueUrl=url))[0] == \
        "InvalidClientTokenId"


def test_a_changed_body_or_target_breaks_the_signature(signed):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    def signed_request(body: str, target: str):
        req = AWSRequest(method="POST", url=signed.endpoint + "/", data=body,
                         headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target})
        SigV4Auth(Credentials(KEY_ID, SECRET), "states", support.REGION).add_auth(req)
        return dict(req.headers.items())

    headers = signed_request("{}", "AWSStepFunctions.ListActivities")
    assert http(signed, "POST", "/", b"{}", headers)[0] == 200
    status, _, text = http(signed, "POST", "/", b'{"maxResults": 1}', headers)
    assert status == 400 and json.loads(text)["__type"].endswith("#InvalidSignatureException")
    moved = {**headers, "X-Amz-Target": "AWSStepFunctions.ListStateMachines"}
    status, _, text = http(signed, "POST", "/", b"{}", moved)
    assert status == 400 and json.loads(text)["__type"].endswith("#InvalidSignatureException")
    stale = {**headers, "X-Amz-Date": "20200101T000000Z"}
    status, _, text = http(signed, "POST", "/", b"{}", stale)
    assert status == 400 and "Signature expired" in json.loads(text)["message"]


def test_aws_cli_with_and_without_the_keys(signed):
    env = {**os.environ, "AWS_DEFAULT_REGION": support.REGION, "AWS_ACCESS_KEY_ID": KEY_ID,
           "AWS_SECRET_ACCESS_KEY": SECRET}
    env.pop("AWS_PROFILE", None)
    argv = [aws_binary(), "stepfunctions", "list-activities", "--endpoint-url", signed.endpoint]
    ok = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert ok.returncode == 0, ok.stderr
    assert "activities" in json.loads(ok.stdout)
    bad = subprocess.run(argv, capture_output=True, text=True, env={**env, "AWS_SECRET_ACCESS_KEY": "nope"},
                         timeout=60, stdin=subprocess.DEVNULL)
    assert bad.returncode != 0 and "InvalidSignatureException" in bad.stderr, bad.stderr
    unknown = subprocess.run(argv, capture_output=True, text=True, env={**env, "AWS_ACCESS_KEY_ID": "AKIAOTHER"},
                             timeout=60, stdin=subprocess.DEVNULL)
    assert unknown.returncode != 0 and "UnrecognizedClientException" in unknown.stderr, unknown.stderr


def test_the_console_keeps_its_own_sign_in(signed):
    sfn = client(signed)
    arn = sfn.create_state_machine(name="console-start", definition=support.PASS_DEFINITION,
                                   roleArn=support.ROLE_ARN)["stateMachineArn"]
    _, _, cookie = sign_in(signed, "bob", "bob-secret")
    assert http(signed, "GET", "/", headers={"Cookie": cookie})[0] == 200
    start = json.dumps({"stateMachineArn": arn}).encode()
    headers = {"X-Amz-Target": "AWSStepFunctions.StartExecution", "Content-Type": "application/x-amz-json-1.0",
               "Origin": signed.endpoint}
    status, _, text = http(signed, "POST", "/", start, {**headers, "Cookie": cookie})
    assert status == 200 and "executionArn" in json.loads(text), "the console's Start button works"
    # A session is not a key to the whole API, and no session is no call at all.
    listing = {**headers, "X-Amz-Target": "AWSStepFunctions.GetExecutionHistory"}
    body = json.dumps({"executionArn": json.loads(text)["executionArn"]}).encode()
    assert http(signed, "POST", "/", body, {**listing, "Cookie": cookie})[0] == 403
    assert http(signed, "POST", "/", start, headers)[0] == 403


def test_task_tokens_show_only_to_people_who_may_answer(signed):
    sfn = client(signed)
    state = support.callback_state()
    state["Parameters"]["Payload"]["BatonAssignee"] = "ana"
    arn = sfn.create_state_machine(name="tokens-for-ana", definition=support.definition({"Ask": state}),
                                   roleArn=support.ROLE_ARN)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    token = support.callback_token(sfn, ex)
    path = "/execution?" + urllib.parse.urlencode({"arn": ex})
    bob = http(signed, "GET", path, headers={"Cookie": sign_in(signed, "bob", "bob-secret")[2]})[2]
    ana = http(signed, "GET", path, headers={"Cookie": sign_in(signed, "ana", "ana-secret")[2]})[2]
    assert "Event history" in bob and token not in bob and "[task token hidden]" in bob
    assert token in ana
    sfn.send_task_success(taskToken=token, output="{}")
    assert support.wait_done(sfn, ex)["status"] == "SUCCEEDED"


def test_the_built_in_s3_checks_signatures_against_the_same_keys(signed):
    s3 = client(signed, "s3")
    s3.create_bucket(Bucket="signed-data")
    s3.put_object(Bucket="signed-data", Key="in.json", Body=b'{"n": 1}')
    assert s3.get_object(Bucket="signed-data", Key="in.json")["Body"].read() == b'{"n": 1}'
    assert error_of(lambda: client(signed, "s3", secret="wrong").list_objects_v2(Bucket="signed-data")) == (
        "SignatureDoesNotMatch", 403)
    assert error_of(lambda: client(signed, "s3", key="AKIAUNKNOWN").list_objects_v2(Bucket="signed-data")) == (
        "InvalidAccessKeyId", 403)
    # Baton's own S3 Tasks sign with a key only the server knows.
    sfn = client(signed)
    definition = support.definition({
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": "signed-data", "Key": "in.json"},
                "ResultSelector": {"Body.$": "$.Body"}, "End": True},
    })
    arn = sfn.create_state_machine(name="signed-s3-task", definition=definition,
                                   roleArn=support.ROLE_ARN)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    done = support.wait_done(sfn, ex, timeout=30)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"Body": '{"n": 1}'}
