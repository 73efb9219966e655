"""Processes a payment message from the queue and answers the waiting execution: success
when the card number is well formed (it passes the Luhn check), failure otherwise. The
original decided at random; a rule lets you pick the outcome by the card you send.

Runs as the queue's consumer (Lambda's SQS event: {"Records": [...]}); boto3 reaches Baton
through AWS_ENDPOINT_URL, which Baton sets for its functions."""

import json

import boto3


def card_is_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    if len(digits) < 12 or len(digits) != len(number.replace(" ", "")):
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def lambda_handler(event, context):
    sfn = boto3.client("stepfunctions")
    for record in event["Records"]:
        message = json.loads(record["body"])
        token = message["TaskToken"]
        payment = message["Payload"]
        if card_is_valid(payment.get("creditCardNumber", "")):
            print(f"payment of order {payment.get('orderId')} processed")
            sfn.send_task_success(taskToken=token, output=json.dumps({"orderId": payment.get("orderId"), "status": "PAID"}))
        else:
            print(f"payment of order {payment.get('orderId')} failed: invalid credit card")
            sfn.send_task_failure(taskToken=token, error="Failed to process payment", cause="Invalid Credit Card")
    return {"statusCode": 200}
