"""The approval API (AsyncLambda/Function.cs of the original, in Python): behind a trigger,
as the function was behind API Gateway. It takes {"OrderID", "IsApproved"}, looks the order's
task token up and answers the waiting execution with SendTaskSuccess. boto3 reaches Baton
through AWS_ENDPOINT_URL, which Baton sets for its functions.

An order is approved once: the token is taken from the order when it is answered, and a token
Step Functions no longer waits for (answered already, timed out, its execution stopped)
answers 404 too."""

import json

import boto3
from botocore.exceptions import ClientError

import order_store

NOT_WAITING = {"statusCode": 404, "body": json.dumps({"message": "no order waiting for approval with this OrderID"})}


def handler(request, context):
    body = json.loads(request["body"] or "{}")
    print(json.dumps(body))
    with order_store.table() as orders:
        saved = orders.get(body.get("OrderID"))
        token = saved.pop("Token", None) if saved else None
    if not token:
        return NOT_WAITING
    stepfunctions = boto3.client("stepfunctions")
    try:
        stepfunctions.send_task_success(taskToken=token, output=json.dumps({"IsApproved": bool(body.get("IsApproved"))}))
    except ClientError as e:
        if e.response["Error"]["Code"] in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
            return NOT_WAITING
        raise
    return {"statusCode": 200, "body": "Successfully invoked stepfunction."}
