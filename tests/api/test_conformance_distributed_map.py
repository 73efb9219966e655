"""The AWS-recorded conformance cases of distributed Maps that read their items from S3
(`needs` naming `s3`: ItemReader, ItemBatcher), run against `baton serve` with its built-in
S3, judged by `run_corpus.py`'s own `run_case` (status, output, error, cause, history event
types). Each case's buckets are made and its `s3_objects` uploaded with boto3 at Baton's own
endpoint first.

Forward-only: failures are listed with their first problem in
`conformance-distributed-map-known-failures.txt`; `BATON_CONFORMANCE_BLESS=1` rewrites it.
"""

from __future__ import annotations

import json
from pathlib import Path

from seeds_helpers import Baton
from test_conformance_aws import body_bytes, named
from test_conformance_lambda import ACCOUNT, CORPUS, judge, load_run_corpus
from test_s3 import s3_client

KNOWN_FAILURES = Path(__file__).with_name("conformance-distributed-map-known-failures.txt")


def s3_cases() -> list[dict]:
    cases = []
    for path in sorted(CORPUS.glob("*.json")):
        if path.name.startswith("_"):
            continue
        case = json.loads(path.read_text())
        if "s3" in case.get("needs", []) and "definition" in case and "expected" in case:
            cases.append(case)
    return cases


def test_s3_reading_cases_against_baton_serve(tmp_path):
    run_corpus = load_run_corpus()
    cases = s3_cases()
    assert cases, "the corpus has cases that read items from S3"
    config = tmp_path / "baton.toml"
    config.write_text("")
    results: dict[str, list[str]] = {}
    with Baton(config, extra_args=["--account", ACCOUNT]) as baton:
        s3 = s3_client(baton.endpoint)
        for case in cases:
            for bucket in named(case, "Bucket"):
                s3.create_bucket(Bucket=bucket)
            for obj in case.get("s3_objects") or []:
                s3.put_object(Bucket=obj["Bucket"], Key=obj["Key"], Body=body_bytes(obj["Body"]))
            _, problems, history = run_corpus.run_case(baton.endpoint, case, 30, True)
            results[case["id"]] = problems + (history or [])

    judge(cases, results, KNOWN_FAILURES, [
        "Conformance cases of distributed Maps reading from S3 that do not pass against",
        "`baton serve` with its built-in S3, each with the first problem seen. Regenerate with",
        "BATON_CONFORMANCE_BLESS=1 pytest tests/api/test_conformance_distributed_map.py",
    ])
