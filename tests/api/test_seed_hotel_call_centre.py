"""Seed 002, the hotel call centre (examples/hotel-call-centre): a Choice on TransactionType
sends the call to the Reserve or the Cancel Lambda function, whose Python handlers are the
walkthrough's own, unchanged."""

import json

import pytest

from seeds_helpers import EXAMPLES, Baton, history_types, wait_for_status

EXAMPLE = EXAMPLES / "hotel-call-centre"


@pytest.fixture(scope="module")
def baton():
    with Baton(EXAMPLE / "baton.toml") as b:
        yield b


@pytest.fixture(scope="module")
def machine(baton):
    return baton.create_machine("CallCentre", EXAMPLE / "definition.asl.json")


@pytest.mark.parametrize("transaction, function", [("Reserve", "ProcessReserve"), ("Cancel", "ProcessCancel")])
def test_a_call_reaches_the_function_for_its_transaction(baton, machine, transaction, function):
    sfn = baton.client()
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"TransactionType": transaction}))["executionArn"]
    d = wait_for_status(sfn, arn)
    assert d["status"] == "SUCCEEDED", baton.logs()
    out = json.loads(d["output"])
    assert out["TransactionType"] == transaction
    assert out["Message"] == f"Hello from lambda, I am inside the {function} function"
    assert out["Timestamp"]
    assert history_types(sfn, arn) == [
        "ExecutionStarted",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    # What the handler printed went to Baton's log, not into the result.
    assert "Received message from step Function:" in baton.logs()


def test_an_unknown_transaction_matches_no_choice(baton, machine):
    sfn = baton.client()
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"TransactionType": "Upgrade"}))["executionArn"]
    d = wait_for_status(sfn, arn)
    assert d["status"] == "FAILED"
    assert d["error"] == "States.NoChoiceMatched"
