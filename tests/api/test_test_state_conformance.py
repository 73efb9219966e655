"""The recorded TestState cases (`../shared/conformance/corpus/localstack_test_state`, beside
the repository), run over HTTP against `baton serve` with the shared runner's own logic.

`test-state-known-failures.txt` lists the cases that do not pass yet. A case not listed that
fails, or a listed case that passes, fails this test: the list only shrinks (take a case off
it when it starts to pass).
"""

from __future__ import annotations

import glob
import json
import sys

import pytest

from support import REPO

CONFORMANCE = REPO.parent / "shared" / "conformance"
RUNNER = CONFORMANCE / "run_test_state.py"
CORPUS = CONFORMANCE / "corpus" / "localstack_test_state"
KNOWN_FAILURES = REPO / "tests" / "api" / "test-state-known-failures.txt"


def known_failures() -> set[str]:
    lines = KNOWN_FAILURES.read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def test_recorded_test_state_cases(server):
    if not RUNNER.is_file():
        pytest.fail(f"the TestState runner is missing: {RUNNER} (the shared folder must sit beside the repository)")
    sys.path.insert(0, str(CONFORMANCE))
    try:
        import run_test_state
    finally:
        sys.path.remove(str(CONFORMANCE))
    cases = [json.loads(open(f).read()) for f in sorted(glob.glob(str(CORPUS / "*.json")))]
    cases = [c for c in cases if c.get("api") == "TestState"]
    assert cases, f"no TestState cases in {CORPUS}"
    failures = {}
    for case in cases:
        diffs = run_test_state.run_case(server.endpoint, case)
        if diffs:
            failures[case["id"]] = "; ".join(diffs)[:400]
    known = known_failures()
    ids = {c["id"] for c in cases}
    assert not known - ids, f"known failures the corpus does not have: {sorted(known - ids)}"
    new = {cid: why for cid, why in failures.items() if cid not in known}
    fixed = sorted(known - set(failures))
    print(f"{len(cases) - len(failures)} passed, {len(failures)} failed")
    assert not new, "cases that fail and are not known failures:\n" + "\n".join(f"{c}: {w}" for c, w in new.items())
    assert not fixed, "known failures that pass now: take them off " + KNOWN_FAILURES.name + ":\n" + "\n".join(fixed)
