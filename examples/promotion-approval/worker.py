"""The activity worker of the promotion process (ManualStepActivityWorker of the original, in
Python): asks Baton for a ManualStep task (GetActivityTask waits up to 60 s for one), then
emails the manager a link to approve and a link to reject.

The original ran as a Lambda function on a schedule and sent mail through SES; this one runs
as a plain program (run it from cron, a loop, or by hand) and sends through any SMTP server.

Settings, from the environment:
  AWS_ENDPOINT_URL    Baton's URL (default http://127.0.0.1:8083); also the links' base
  RESPOND_URL         the base of the approve/reject links, if not AWS_ENDPOINT_URL
  ACTIVITY_ARN        default arn:aws:states:us-east-1:123456789012:activity:ManualStep
  SMTP_HOST, SMTP_PORT  default localhost:25
  MAIL_FROM           default the manager's own address, as in the original
Exit status: 0 when a task was handled or none came, 1 on an error.
"""

import json
import os
import smtplib
import sys
import urllib.parse
from email.message import EmailMessage

import boto3

ENDPOINT = os.environ.setdefault("AWS_ENDPOINT_URL", "http://127.0.0.1:8083")
RESPOND_URL = os.environ.get("RESPOND_URL", ENDPOINT).rstrip("/")
ACTIVITY_ARN = os.environ.get("ACTIVITY_ARN", "arn:aws:states:us-east-1:123456789012:activity:ManualStep")


def main():
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    stepfunctions = boto3.client(
        "stepfunctions", config=boto3.session.Config(read_timeout=70, retries={"max_attempts": 1})
    )
    data = stepfunctions.get_activity_task(activityArn=ACTIVITY_ARN, workerName="promotion-mailer")
    token = data.get("taskToken")
    if not token:
        print("No activities received after 60 seconds.")
        return 0
    task = json.loads(data["input"])
    quoted = urllib.parse.quote(token, safe="")
    message = EmailMessage()
    message["Subject"] = "Your Approval Needed for Promotion!"
    message["From"] = os.environ.get("MAIL_FROM", task["managerEmailAddress"])
    message["To"] = task["managerEmailAddress"]
    message["Reply-To"] = task["managerEmailAddress"]
    text = (
        f"Hi!\n{task['employeeName']} has been nominated for promotion!\n"
        f"Can you please approve:\n{RESPOND_URL}/respond/succeed?taskToken={quoted}\n"
        f"Or reject:\n{RESPOND_URL}/respond/fail?taskToken={quoted}\n"
    )
    # As written, never quoted-printable: the links must work as copied from the raw message
    # (a debugging SMTP server prints that). 8bit when the text is not ASCII.
    message.set_content(text, cte="7bit" if text.isascii() else "8bit")
    host = os.environ.get("SMTP_HOST", "localhost")
    port = int(os.environ.get("SMTP_PORT", "25"))
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        smtp.send_message(message)
    print("The email was successfully sent.")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a worker run that fails is reported and ends; the next run retries
        print(f"An error occured: {e}", file=sys.stderr)
        sys.exit(1)
