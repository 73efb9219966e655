"""The AWS-recorded conformance cases that need Lambda (`needs: ["lambda"]` in
../shared/conformance/corpus/localstack/), run against `baton serve` with their functions
configured as Python handlers, and judged exactly as `run_corpus.py` judges an endpoint (its
own `run_case`): status, output, error, cause, and the history event types. One adjustment:
a cause the corpus stores as a JSON object is compared with the execution's cause parsed
(see `load_run_corpus`).

The functions: each case's `mocks` says what a function the definition names does (identity,
constant, raise, raw_payload, large_output, sleep_then_identity). Cases whose definition
reads the function's name from the input have no `mocks`; for those the behaviour comes from
the LocalStack test that recorded them (`INPUT_NAMED` below). Every function gets its own
folder holding `handler.py`, as the recorded Lambda functions had; the `raise` handler raises
on line 2, where the recorded stack traces say it did.

The server runs with `--account 111111111111`, the account the recordings use, so the ARNs
in error causes match; functions are found by name whatever account an ARN names.

Forward-only: cases that fail are listed with their first problem in
`conformance-lambda-known-failures.txt`; the test fails when an unlisted case fails or a
listed case passes. `BATON_CONFORMANCE_BLESS=1` rewrites the list from the current results.
Run alone: `pytest tests/api/test_conformance_lambda.py -s` prints counts per `needs` value.
"""

from __future__ import annotations

import collections
import concurrent.futures
import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

from seeds_helpers import REPO, Baton

CONFORMANCE = Path(os.environ.get("BATON_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance"))
CORPUS = CONFORMANCE / "corpus" / "localstack"
KNOWN_FAILURES = Path(__file__).with_name("conformance-lambda-known-failures.txt")
ACCOUNT = "111111111111"

# Cases whose function is named in the input: what the recording test deployed under that
# name (LocalStack's tests/aws/services/stepfunctions/v2/**). Unlisted ones: identity.
RAISE = {"kind": "raise", "errorType": "Exception", "errorMessage": "Some exception was raised."}
INPUT_NAMED = {
    "test_assign_reference_variables__test_assign_in_catch_state": RAISE,
    "test_base_scenarios__test_lambda_service_invoke_with_retry_extended_input": RAISE,
    "test_base_scenarios__test_retry_interval_features_max_attempts_zero": RAISE,
    "test_credentials_base__test_cross_account_service_lambda_invoke_retry": RAISE,
    "test_express_sync__test_catch": RAISE,
    "test_task_service_lambda__test_raise_exception_catch": RAISE,
    "test_states_errors__test_service_task_lambada_catch_state_all_data_limit_exceeded_on_large_utf8_response": {
        "kind": "large_output"
    },
    "test_task_service_lambda__test_invoke_timeout": {"kind": "sleep_then_identity", "seconds": 60},
    "test_timeouts__test_fixed_timeout_service_lambda": {"kind": "sleep_then_identity", "seconds": 60},
    # The recording tests call a function that was never created.
    "test_task_service_lambda__test_no_such_function": None,
}
IDENTITY = {"kind": "identity"}

FUNCTION_NAME = re.compile(r"^(?:arn:aws:lambda:[^:]+:[^:]+:function:)?([A-Za-z0-9_-]+)$")


def load_run_corpus():
    spec = importlib.util.spec_from_file_location("run_corpus", CONFORMANCE / "run_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    judge = module.judge

    def judge_json_causes(case, status, output_text, error, cause):
        # The extractor stored some JSON causes (Lambda's error documents) parsed, as an
        # object, while an execution's cause is always text: compare such a cause as JSON,
        # as run_corpus.py already does for outputs and for causes stored as text.
        if isinstance(case["expected"].get("cause"), (dict, list)) and isinstance(cause, str):
            try:
                cause = json.loads(cause)
            except ValueError:
                pass
        return judge(case, status, output_text, error, cause)

    module.judge = judge_json_causes
    return module


def lambda_cases() -> list[dict]:
    cases = []
    for path in sorted(CORPUS.glob("*.json")):
        if path.name.startswith("_"):
            continue
        case = json.loads(path.read_text())
        if "lambda" in case.get("needs", []) and "definition" in case and "expected" in case:
            cases.append(case)
    return cases


def behaviour_for_input(case_id: str):
    for prefix, behaviour in INPUT_NAMED.items():
        if case_id.startswith(prefix):
            return behaviour
    return IDENTITY


def functions_of(case: dict) -> dict[str, dict]:
    """Function name -> behaviour, for one case."""
    out = {}
    for arn, mock in (case.get("mocks") or {}).items():
        if mock.get("service") == "lambda":
            out[mock["name"]] = mock
    if not out:
        behaviour = behaviour_for_input(case["id"])

        def walk(value, key=""):
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(v, k)
            elif isinstance(value, str) and ("unction" in key or value.startswith("arn:aws:lambda:")):
                m = FUNCTION_NAME.match(value)
                if m and behaviour is not None:
                    out[m.group(1)] = behaviour

        walk(case.get("input", {}))
    return out


def handler_source(mock: dict) -> str:
    kind = mock["kind"]
    if kind == "identity":
        return "def handler(event, context):\n    return event\n"
    if kind == "constant":
        return f"import json\ndef handler(event, context):\n    return json.loads({json.dumps(json.dumps(mock['value']))})\n"
    if kind == "raise":
        exc = mock.get("errorType", "Exception")
        prelude = "" if exc == "Exception" else f"\n\nclass {exc}(Exception):\n    pass\n"
        # Line 2 raises, as in the recorded stack traces.
        return f"def handler(event, context):\n    raise {exc}({json.dumps(mock.get('errorMessage', ''))})\n{prelude}"
    if kind == "raw_payload":
        return f"def handler(event, context):\n    return {json.dumps(mock['payload'])}.encode()\n"
    if kind == "large_output":
        return "def handler(event, context):\n    return ('a' * (257 * 1024)).encode()\n"
    if kind == "sleep_then_identity":
        return f"import time\ndef handler(event, context):\n    time.sleep({int(mock['seconds'])})\n    return event\n"
    raise ValueError(f"no handler for mock kind {kind!r}")


def write_functions(cases: list[dict], folder: Path) -> Path:
    """A folder per function with its handler.py, and the baton.toml naming them all."""
    toml = []
    seen = {}
    for case in cases:
        for name, mock in functions_of(case).items():
            if name in seen:
                continue
            seen[name] = mock
            code = folder / name
            code.mkdir(parents=True, exist_ok=True)
            (code / "handler.py").write_text(handler_source(mock))
            toml.append(f'[functions."{name}"]\nruntime = "python3"\nhandler = "handler.handler"\n'
                        f'code = "{name}"\ntimeout_seconds = 90\n')
    config = folder / "baton.toml"
    config.write_text("\n".join(toml))
    return config


# The recorder replaced some values with their key's name without marking them as
# placeholders: no engine can produce them.
RECORDING_ARTIFACT = re.compile(r"expected '(x-amzn-RequestId|X-Amzn-Trace-Id|RequestId)'|\"requestId\":<request-id>\"")


def reason_for(problems: list[str]) -> str:
    if all(RECORDING_ARTIFACT.search(p) for p in problems):
        return ("recording artifact: the recorder replaced values with their key's name (x-amzn-RequestId, "
                "X-Amzn-Trace-Id, RequestId) or broke a quote; everything else matches. First: " + problems[0])
    return "; ".join(problems)


def read_known_failures(path: Path) -> dict[str, str]:
    known = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                case_id, _, reason = line.partition("  ")
                known[case_id.strip()] = reason.strip()
    return known


def judge(cases: list[dict], results: dict[str, list[str]], known_failures: Path, header: list[str]) -> None:
    """Print the pass count per `needs` value, then hold the results to the forward-only list
    in `known_failures` (or rewrite it, headed by `header`, with BATON_CONFORMANCE_BLESS=1)."""
    failures = {cid: reason_for(p) for cid, p in results.items() if p}
    by_needs, passed_by_needs = collections.Counter(), collections.Counter()
    for case in cases:
        for need in case["needs"]:
            by_needs[need] += 1
            passed_by_needs[need] += not results[case["id"]]
    for need in sorted(by_needs):
        print(f"needs {need}: {passed_by_needs[need]}/{by_needs[need]} passed")
    if os.environ.get("BATON_CONFORMANCE_BLESS") == "1":
        lines = [f"# {h}" for h in header]
        lines += [f"{cid}  {' '.join(reason.split())[:300]}" for cid, reason in sorted(failures.items())]
        known_failures.write_text("\n".join(lines) + "\n")
        return
    known = read_known_failures(known_failures)
    new_failures = {cid: reason for cid, reason in failures.items() if cid not in known}
    now_passing = sorted(cid for cid in known if cid in results and cid not in failures)
    message = []
    if new_failures:
        message.append("cases that fail and are not in the known-failures list:\n" +
                       "\n".join(f"  {cid}: {reason}" for cid, reason in sorted(new_failures.items())))
    if now_passing:
        message.append("cases in the known-failures list that pass now (remove them):\n  " + "\n  ".join(now_passing))
    assert not message, "\n".join(message)


def test_lambda_cases_against_baton_serve(tmp_path):
    run_corpus = load_run_corpus()
    cases = lambda_cases()
    assert cases, "the corpus has cases that need Lambda"
    config = write_functions(cases, tmp_path / "functions")
    results: dict[str, list[str]] = {}
    with Baton(config, extra_args=["--account", ACCOUNT]) as baton:

        def run(case):
            passed, problems, history = run_corpus.run_case(baton.endpoint, case, 90, True)
            return case["id"], problems + (history or [])

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for case_id, problems in pool.map(run, cases):
                results[case_id] = problems

    judge(cases, results, KNOWN_FAILURES, [
        "Conformance cases needing Lambda that do not pass against `baton serve` yet, each with",
        "the first problem seen. Regenerate with",
        "BATON_CONFORMANCE_BLESS=1 pytest tests/api/test_conformance_lambda.py",
    ])
