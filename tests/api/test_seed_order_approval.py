"""Seed 001, order approval with the callback pattern (examples/order-approval): orders are
placed through a trigger; those over 100 wait in a lambda:invoke.waitForTaskToken state until
a second API call, a trigger running a function, finds the token by order id and answers it."""

import json
import uuid

import pytest

from seeds_helpers import EXAMPLES, Baton, history_types, wait_for_state, wait_for_status

EXAMPLE = EXAMPLES / "order-approval"


@pytest.fixture(scope="module")
def baton(tmp_path_factory):
    orders = tmp_path_factory.mktemp("orders") / "orders.json"
    with Baton(EXAMPLE / "baton.toml", env={"ORDERS_FILE": str(orders)}) as b:
        b.create_machine("OrderProcessing", EXAMPLE / "definition.asl.json")
        yield b


def place(baton, cost, items=("desk", "chair")):
    order_id = f"order-{uuid.uuid4().hex[:8]}"
    status, body = baton.http("POST", "/orders", {"OrderID": order_id, "OrderItems": list(items), "Cost": cost})
    assert status == 200, body
    started = json.loads(body)
    assert started["executionArn"].endswith(f":execution:OrderProcessing:{order_id}")
    assert isinstance(started["startDate"], (int, float))
    return order_id, started["executionArn"]


def test_a_small_order_is_processed_at_once(baton):
    sfn = baton.client()
    order_id, arn = place(baton, 80)
    d = wait_for_status(sfn, arn)
    assert d["status"] == "SUCCEEDED", baton.logs()
    out = json.loads(d["output"])
    assert out["OrderID"] == order_id and out["IsOrderValid"] is True and out["IsApprovalRequired"] is False
    assert "TaskSubmitted" not in history_types(sfn, arn), "no approval was asked for"


@pytest.mark.parametrize("approved", [True, False])
def test_a_large_order_waits_for_the_approval_api(baton, approved):
    sfn = baton.client()
    order_id, arn = place(baton, 250)
    # The execution waits in WaitForApproval, with the token saved by the function.
    wait_for_state(sfn, arn, "TaskSubmitted")
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    status, body = baton.http("POST", "/orders/approval", {"OrderID": order_id, "IsApproved": approved})
    assert (status, body) == (200, "Successfully invoked stepfunction."), baton.logs()
    d = wait_for_status(sfn, arn)
    if approved:
        assert d["status"] == "SUCCEEDED", baton.logs()
        assert json.loads(d["output"]) == {"IsApproved": True}
    else:
        assert d["status"] == "FAILED"
        assert (d["error"], d["cause"]) == ("ErrorA", "Invalid order.")
    types = history_types(sfn, arn)
    assert types.count("TaskSubmitted") == 1 and "TaskSucceeded" in types
    # As the README promises: approving again answers 404, not an error of the function.
    status, body = baton.http("POST", "/orders/approval", {"OrderID": order_id, "IsApproved": approved})
    assert status == 404 and json.loads(body) == {"message": "no order waiting for approval with this OrderID"}


def test_an_invalid_order_fails_and_approving_an_unknown_order_is_not_found(baton):
    sfn = baton.client()
    _, arn = place(baton, 50, items=())
    d = wait_for_status(sfn, arn)
    assert (d["status"], d["error"]) == ("FAILED", "ErrorA")
    status, body = baton.http("POST", "/orders/approval", {"OrderID": "no-such-order", "IsApproved": True})
    assert status == 404, body


def test_the_same_order_twice_starts_one_execution(baton):
    order_id, arn = place(baton, 20)
    status, body = baton.http("POST", "/orders", {"OrderID": order_id, "OrderItems": ["desk"], "Cost": 20})
    assert status == 400 and "ExecutionAlreadyExists" in body


def test_the_orders_are_kept_outside_the_repository_by_default(tmp_path):
    """Without ORDERS_FILE the order table is in the temporary folder, as a Lambda function
    may only write to /tmp: trying the example writes nothing into the clone."""
    before = sorted(p.name for p in (EXAMPLE / "functions").iterdir())
    with Baton(EXAMPLE / "baton.toml", env={"TMPDIR": str(tmp_path)}) as b:
        b.create_machine("OrderProcessing", EXAMPLE / "definition.asl.json")
        order_id, arn = place(b, 20)
        assert wait_for_status(b.client(), arn)["status"] == "SUCCEEDED", b.logs()
    orders = json.loads((tmp_path / "baton-order-approval" / "orders.json").read_text())
    assert order_id in orders
    after = sorted(p.name for p in (EXAMPLE / "functions").iterdir() if p.name != "__pycache__")
    assert after == [n for n in before if n != "__pycache__"], "nothing new in the example's folder"
    assert not list(EXAMPLE.glob("**/orders.json*"))
