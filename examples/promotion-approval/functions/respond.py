"""The approve and reject links (API Gateway's /respond/succeed and /respond/fail of the
original, which called SendTaskSuccess and SendTaskFailure with the token from the query
string). Each runs behind a trigger and gets API Gateway's proxy event."""

import json

import boto3


def _token(request):
    token = (request.get("queryStringParameters") or {}).get("taskToken")
    if not token:
        raise ValueError("the link has no taskToken")
    return token


def _page(text):
    return {"statusCode": 200, "headers": {"Content-Type": "text/plain; charset=utf-8"}, "body": text}


def succeed(request, context):
    boto3.client("stepfunctions").send_task_success(taskToken=_token(request), output='"Approve link was clicked."')
    return _page("Approved. Thank you.")


def fail(request, context):
    boto3.client("stepfunctions").send_task_failure(
        taskToken=_token(request), error="Rejected", cause="Reject link was clicked."
    )
    return _page("Rejected. Thank you.")
