"""The approve and reject links (API Gateway's /respond/succeed and /respond/fail of the
original, which called SendTaskSuccess and SendTaskFailure with the token from the query
string). Each runs behind a trigger and gets API Gateway's proxy event. A link used already
(or whose task timed out) answers 410 with a sentence, not an error of the function."""

import boto3
from botocore.exceptions import ClientError

NO_LONGER_WAITING = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


def _token(request):
    return (request.get("queryStringParameters") or {}).get("taskToken")


def _page(text, status=200):
    return {"statusCode": status, "headers": {"Content-Type": "text/plain; charset=utf-8"}, "body": text}


def _answer(request, call, done):
    token = _token(request)
    if not token:
        return _page("This link has no taskToken.", 400)
    try:
        call(boto3.client("stepfunctions"), token)
    except ClientError as e:
        if e.response["Error"]["Code"] in NO_LONGER_WAITING:
            return _page("This promotion is no longer waiting: it was decided already, or it timed out.", 410)
        raise
    return _page(done)


def succeed(request, context):
    return _answer(request, lambda sfn, token: sfn.send_task_success(
        taskToken=token, output='"Approve link was clicked."'), "Approved. Thank you.")


def fail(request, context):
    return _answer(request, lambda sfn, token: sfn.send_task_failure(
        taskToken=token, error="Rejected", cause="Reject link was clicked."), "Rejected. Thank you.")
