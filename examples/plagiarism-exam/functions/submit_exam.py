"""SubmitExamResults of the original, in Python: behind the /exam trigger, as the function
was behind API Gateway. The testing centre posts {"IncidentId", "ExamId", "Score",
"TaskToken"}; the waiting execution gets the result through SendTaskSuccess. boto3 reaches
Baton through AWS_ENDPOINT_URL, which Baton sets for its functions."""

import json

import boto3


def handler(request, context):
    try:
        body = json.loads(request.get("body") or "{}")
        token = body["TaskToken"]
        result = {"IncidentId": body["IncidentId"], "ExamId": body["ExamId"], "Score": int(body["Score"])}
    except (ValueError, KeyError, TypeError) as e:
        return {"statusCode": 400, "body": json.dumps({"message": f"bad exam submission: {e!r}"})}
    sfn = boto3.client("stepfunctions")
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps(result))
    except sfn.exceptions.TaskTimedOut:
        message = "this exam no longer waits: it was submitted already, or its deadline has passed"
        return {"statusCode": 410, "body": json.dumps({"message": message})}
    except (sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist):
        return {"statusCode": 404, "body": json.dumps({"message": "no exam waits for this submission"})}
    return {"statusCode": 200, "body": json.dumps({"message": "exam submitted", **result})}
