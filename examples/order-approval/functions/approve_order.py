"""The approval API (AsyncLambda/Function.cs of the original, in Python): behind a trigger,
as the function was behind API Gateway. It takes {"OrderID", "IsApproved"}, looks the order's
task token up and answers the waiting execution with SendTaskSuccess. boto3 reaches Baton
through AWS_ENDPOINT_URL, which Baton sets for its functions."""

import json

import boto3

import order_store


def handler(request, context):
    body = json.loads(request["body"] or "{}")
    print(json.dumps(body))
    with order_store.table() as orders:
        saved = orders.get(body.get("OrderID"))
    if saved is None or not saved.get("Token"):
        return {"statusCode": 404, "body": json.dumps({"message": "no order waiting for approval with this OrderID"})}
    stepfunctions = boto3.client("stepfunctions")
    stepfunctions.send_task_success(taskToken=saved["Token"], output=json.dumps({"IsApproved": bool(body.get("IsApproved"))}))
    return {"statusCode": 200, "body": "Successfully invoked stepfunction."}
