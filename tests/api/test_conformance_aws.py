"""The AWS-recorded conformance cases that need AWS services Baton calls at an endpoint
(`needs` naming `dynamodb`, `aws-sdk:dynamodb`, `events`, `aws-sdk:secretsmanager`,
`aws-sdk:s3` or `lambda`), run against `baton serve` with moto's server mode (see
`aws_peer.py`) as `AWS_ENDPOINT_URL`, judged by `run_corpus.py`'s own `run_case` as
`test_conformance_lambda.py` judges (status, output, error, cause, history event types).

Set-up from each case's definition and input: the tables it names (key `id`, a string, as
the recording tests made them), its buckets and their `s3_objects`, and its Lambda functions
(in moto, whose non-Docker Lambda answers with the event: the recorded `identity` functions;
functions that raise or answer with a constant cannot be made there and fail). Cases run one
at a time, each on a freshly reset moto, so one case's secrets or tables never show in
another's listing.

Forward-only: failures are listed with their first problem in
`conformance-aws-known-failures.txt`; `BATON_CONFORMANCE_BLESS=1` rewrites it. `-s` prints
the counts per `needs` value.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from aws_peer import start_moto
from seeds_helpers import Baton
from test_conformance_lambda import ACCOUNT, CORPUS, functions_of, judge, load_run_corpus

NEEDS = {"dynamodb", "aws-sdk:dynamodb", "events", "aws-sdk:secretsmanager", "aws-sdk:s3", "lambda"}
KNOWN_FAILURES = Path(__file__).with_name("conformance-aws-known-failures.txt")


def aws_cases() -> list[dict]:
    cases = []
    for path in sorted(CORPUS.glob("*.json")):
        if path.name.startswith("_"):
            continue
        case = json.loads(path.read_text())
        if NEEDS & set(case.get("needs", [])) and "definition" in case and "expected" in case:
            cases.append(case)
    return cases


def named(case: dict, key: str) -> set[str]:
    """Every string value of `key` in the case's input and definition."""
    found = set()

    def walk(value):
        if isinstance(value, dict):
            for k, v in value.items():
                if k == key and isinstance(v, str) and not v.startswith(("$", "{%")):
                    found.add(v)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(case.get("input", {}))
    walk(case["definition"])
    return found


def body_bytes(text: str) -> bytes:
    """An `s3_objects` body as the recording test gave it (`b'...'`, `bytearray(b'...')`)."""
    if text.startswith("bytearray("):
        text = text[len("bytearray("):-1]
    if text.startswith(("b'", 'b"')):
        return ast.literal_eval(text)
    return text.encode()


def set_up(moto, case: dict) -> None:
    ddb, s3 = moto.client("dynamodb"), moto.client("s3")
    for table in named(case, "TableName"):
        if not table.startswith("no_such"):
            ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST")
    for bucket in named(case, "Bucket"):
        s3.create_bucket(Bucket=bucket)
    for obj in case.get("s3_objects") or []:
        s3.put_object(Bucket=obj["Bucket"], Key=obj["Key"], Body=body_bytes(obj["Body"]))
    for name, mock in functions_of(case).items():
        if mock is not None:
            moto.create_function(name)


def test_aws_cases_against_baton_serve_with_moto(tmp_path):
    run_corpus = load_run_corpus()
    cases = aws_cases()
    assert cases, "the corpus has cases that need AWS services"
    moto = start_moto(tmp_path)
    config = tmp_path / "baton.toml"
    config.write_text("")
    results: dict[str, list[str]] = {}
    try:
        with Baton(config, extra_args=["--account", ACCOUNT], env={"AWS_ENDPOINT_URL": moto.endpoint}) as baton:
            for case in cases:
                moto.reset()
                try:
                    set_up(moto, case)
                except Exception as e:  # a set-up moto refuses is the case's first problem
                    results[case["id"]] = [f"set-up in moto failed: {e}"]
                    continue
                _, problems, history = run_corpus.run_case(baton.endpoint, case, 30, True)
                results[case["id"]] = problems + (history or [])
    finally:
        moto.stop()

    judge(cases, results, KNOWN_FAILURES, [
        "Conformance cases needing AWS services that do not pass against `baton serve` with moto",
        "as the endpoint, each with the first problem seen. Regenerate with",
        "BATON_CONFORMANCE_BLESS=1 pytest tests/api/test_conformance_aws.py",
    ])
