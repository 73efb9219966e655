"""The testing centre, as a command: takes the link a student was emailed and the score they
got, and submits the exam to Baton's POST /exam, as the original's website did with the
values in its address.

    python3 examples/plagiarism-exam/testing_centre.py 'http://localhost:3000/?IncidentId=…' 80

BATON_URL is Baton's address (default http://127.0.0.1:8083). Prints Baton's answer; exits 1
when Baton refuses the submission (a used or expired link, a bad score)."""

import html
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


def main(link: str, score: str) -> int:
    # As copied from a mail, or from the console's Mail page (HTML, where & is &amp;).
    values = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(html.unescape(link.strip())).query))
    missing = [k for k in ("IncidentId", "ExamId", "TaskToken") if k not in values]
    if missing:
        print(f"the link has no {', '.join(missing)}: copy the whole link from the email", file=sys.stderr)
        return 2
    exam = {"IncidentId": values["IncidentId"], "ExamId": values["ExamId"], "Score": int(score),
            "TaskToken": values["TaskToken"]}
    url = os.environ.get("BATON_URL", "http://127.0.0.1:8083").rstrip("/") + "/exam"
    request = urllib.request.Request(url, data=json.dumps(exam).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            print(r.read().decode())
            return 0
    except urllib.error.HTTPError as e:
        print(f"{e.code}: {e.read().decode()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
