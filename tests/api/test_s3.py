"""The built-in S3: `baton serve` answers the S3 REST API on its own port (path-style), told
apart from Step Functions and SQS by the service its SigV4 signature names. boto3 and the aws
CLI, unmodified, with only the endpoint changed; Tasks reach it with no configuration.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

import support


def s3_client(endpoint: str):
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=support.REGION)
    cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"})
    return session.client("s3", endpoint_url=endpoint, config=cfg)


@pytest.fixture(scope="module")
def s3(server):
    return s3_client(server.endpoint)


def bucket_name(name) -> str:
    """A valid bucket name from the test's name (lower case, no underscores)."""
    return name().lower().replace("_", "-")[-50:].strip("-")


@pytest.fixture
def bucket(s3, name):
    b = bucket_name(name)
    s3.create_bucket(Bucket=b)
    return b


def test_buckets_are_created_listed_and_deleted_with_s3s_error_names(s3, name):
    b = bucket_name(name)
    s3.create_bucket(Bucket=b)
    assert b in [x["Name"] for x in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=b)
    with support.raises("BucketAlreadyOwnedByYou"):
        s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    with support.raises("BucketNotEmpty"):
        s3.delete_bucket(Bucket=b)
    s3.delete_object(Bucket=b, Key="k")
    s3.delete_bucket(Bucket=b)
    assert b not in [x["Name"] for x in s3.list_buckets()["Buckets"]]
    with support.raises("NoSuchBucket"):
        s3.list_objects_v2(Bucket=b)
    with support.raises("InvalidBucketName"):
        s3.create_bucket(Bucket="Not_Valid")


def test_objects_keep_bytes_metadata_and_etag_and_serve_ranges(s3, bucket):
    body = bytes(range(256)) * 40
    put = s3.put_object(Bucket=bucket, Key="dir/data.bin", Body=body, ContentType="application/x-test",
                        Metadata={"owner": "ana"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/data.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"owner": "ana"}
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="dir/data.bin")
    assert head["ContentLength"] == len(body)
    part = s3.get_object(Bucket=bucket, Key="dir/data.bin", Range="bytes=10-19")
    assert part["Body"].read() == body[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    tail = s3.get_object(Bucket=bucket, Key="dir/data.bin", Range="bytes=-5")
    assert tail["Body"].read() == body[-5:]
    with support.raises("NoSuchKey"):
        s3.get_object(Bucket=bucket, Key="missing")
    with support.raises("InvalidRange"):
        s3.get_object(Bucket=bucket, Key="dir/data.bin", Range=f"bytes={len(body) + 10}-")
    # Replaced whole; deleting twice is no error.
    s3.put_object(Bucket=bucket, Key="dir/data.bin", Body=b"short")
    assert s3.get_object(Bucket=bucket, Key="dir/data.bin")["Body"].read() == b"short"
    s3.delete_object(Bucket=bucket, Key="dir/data.bin")
    s3.delete_object(Bucket=bucket, Key="dir/data.bin")
    # HEAD answers carry no body, so (as from S3) the SDK sees only the status.
    with support.raises("404"):
        s3.head_object(Bucket=bucket, Key="dir/data.bin")


def test_listings_page_with_prefix_delimiter_and_continuation(s3, bucket):
    keys = ["a.csv", "logs/2026/1.log", "logs/2026/2.log", "logs/readme", "m.json", "z/1", "z/2", "\u00fc.txt"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    flat = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in flat["Contents"]] == sorted(keys, key=lambda k: k.encode())
    assert flat["KeyCount"] == len(keys) and flat["IsTruncated"] is False

    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a.csv", "m.json", "\u00fc.txt"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["logs/", "z/"]

    under = s3.list_objects_v2(Bucket=bucket, Prefix="logs/", Delimiter="/")
    assert [o["Key"] for o in under["Contents"]] == ["logs/readme"]
    assert [p["Prefix"] for p in under["CommonPrefixes"]] == ["logs/2026/"]

    seen, token = [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=2, **kwargs)
        seen += [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert sorted(seen) == sorted(["a.csv", "logs/", "m.json", "z/", "\u00fc.txt"])

    paginated = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 3})
                 for o in p.get("Contents", [])]
    assert paginated == [o["Key"] for o in flat["Contents"]]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="m.json")
    assert [o["Key"] for o in after["Contents"]] == ["z/1", "z/2", "\u00fc.txt"]


def test_copies_and_batch_deletes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", Metadata={"a": "1"})
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"payload").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"payload" and got["Metadata"] == {"a": "1"}
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "src"}, {"Key": "dst"}, {"Key": "none"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["dst", "none", "src"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_multipart_uploads_through_boto3s_transfer_manager(s3, bucket):
    data = os.urandom(12 * 1024 * 1024 + 123)
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_fileobj(io.BytesIO(data), bucket, "big.bin", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big.bin", out, Config=cfg)
    assert out.getvalue() == data
    # An upload left unfinished can be aborted; its id is then unknown.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="left")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="left", UploadId=upload, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="left", UploadId=upload)
    with support.raises("NoSuchUpload"):
        s3.upload_part(Bucket=bucket, Key="left", UploadId=upload, PartNumber=2, Body=b"y")


def test_aws_cli_copies_files_up_and_down(server, bucket, tmp_path):
    source = tmp_path / "rows.csv"
    source.write_text("".join(f"{i},name-{i}\n" for i in range(20000)))
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint}

    def aws(*args: str) -> str:
        r = subprocess.run(["aws", *args], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    aws("s3", "cp", str(source), f"s3://{bucket}/in/rows.csv")
    assert "rows.csv" in aws("s3", "ls", f"s3://{bucket}/in/")
    back = tmp_path / "back.csv"
    aws("s3", "cp", f"s3://{bucket}/in/rows.csv", str(back))
    assert back.read_bytes() == source.read_bytes()


def test_s3_tasks_reach_the_built_in_s3_without_configuration(sfn, machine, s3, bucket):
    definition = support.definition({
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                "Parameters": {"Bucket": bucket, "Key": "from-task.json", "Body.$": "States.JsonToString($)"},
                "ResultPath": None, "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": bucket, "Key": "from-task.json"},
                "ResultSelector": {"Body.$": "$.Body"}, "End": True},
    })
    arn = machine(definition)
    run = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": 7}))
    done = support.wait_done(sfn, run["executionArn"], timeout=30)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(json.loads(done["output"])["Body"]) == {"order": 7}
    assert json.loads(s3.get_object(Bucket=bucket, Key="from-task.json")["Body"].read()) == {"order": 7}


def test_objects_survive_a_crash(baton_server_factory):
    server = baton_server_factory()
    s3 = s3_client(server.endpoint)
    s3.create_bucket(Bucket="kept")
    s3.put_object(Bucket="kept", Key="k", Body=b"durable")
    server.crash_and_restart()
    s3 = s3_client(server.endpoint)
    assert s3.get_object(Bucket="kept", Key="k")["Body"].read() == b"durable"
