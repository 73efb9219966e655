"""The state machine's Lambda functions (StepFunctionTasks.cs of the original, in Python).
Each takes the order and returns it, with what the step found out."""

import uuid

import order_store


def validate_order(order, context):
    order["IsOrderValid"] = len(order.get("OrderItems") or []) > 0 and order.get("Cost", 0) > 0
    with order_store.table() as orders:
        orders[order["OrderID"]] = {**order, "Token": str(uuid.uuid4())}
    return order


def validate_cost(order, context):
    order["IsApprovalRequired"] = order["Cost"] > 100
    return order


def wait_for_approval(order, context):
    # Called by lambda:invoke.waitForTaskToken with {OrderID, Cost, Token}: keep the token
    # with the order, so the approval API can find it by the order's id.
    with order_store.table() as orders:
        saved = orders.setdefault(order["OrderID"], {"OrderID": order["OrderID"]})
        saved["Token"] = order["Token"]
    return order


def process_order(order, context):
    # After an approval the state holds what the approver sent ({"IsApproved": true}), as in
    # the original definition, which has no ResultPath on WaitForApproval.
    print("processing order", order.get("OrderID"))
    return order
