"""The console with users configured: sign-in is required, a task limited to a person or a
group is shown to and answered by them only, and others are refused. Signed links stay usable
without signing in (the link is the permission)."""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

import support
from support import definition, wait_done, wait_event, callback_state

ITERATIONS = 1000  # a cheap hash keeps the test quick; real deployments use 200,000 or more


def pbkdf2(password: str, salt: bytes = b"\x01\x02\x03\x04") -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    return f"pbkdf2-sha256${ITERATIONS}${salt.hex()}${digest.hex()}"


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    server = support.BatonServer(tmp_path_factory.mktemp("baton-access"), 2000)
    with open(server.config, "a") as f:
        f.write(
            f"""
[console.users.ana]
password = "{pbkdf2('ana-secret')}"
email = "ana@example.com"
groups = ["teachers"]

[console.users.bob]
password = "{pbkdf2('bob-secret')}"
email = "bob@example.com"

[topics.people]
subscriptions = [
  {{ protocol = "email", endpoint = "Ana <ana@example.com>" }},
  {{ protocol = "email", endpoint = "bob@example.com" }},
]
"""
        )
    server.start()
    yield server
    server.stop()


class Browser:
    """Cookies kept between requests, redirects not followed."""

    def __init__(self, server):
        self.server = server
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, path: str, fields: dict | None = None) -> tuple[int, str, dict]:
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        req = urllib.request.Request(self.server.endpoint + path, data=data)
        try:
            with self.opener.open(req, timeout=10) as r:
                return r.status, r.read().decode(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), dict(e.headers)

    def sign_in(self, user: str, password: str) -> int:
        return self.request("/login", {"user": user, "password": password, "next": "/inbox"})[0]


def waiting(sfn, server, name, payload_extra: dict) -> tuple[str, str]:
    state = callback_state(ResultPath="$.answer")
    state["Parameters"]["Payload"].update(payload_extra)
    arn = sfn.create_state_machine(
        name=name, definition=definition({"Ask": state}), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_event(sfn, ex, "TaskSubmitted")
    return arn, ex


def task_id(page: str, execution: str) -> str | None:
    m = re.search(r'name="execution" value="' + re.escape(execution) + r'"><input type="hidden" name="task" value="(\d+)"', page)
    return m.group(1) if m else None


def test_pages_need_sign_in(secured):
    anon = Browser(secured)
    status, _, headers = anon.request("/inbox")
    assert status == 303 and headers["location"].startswith("/login?next=")
    assert anon.request("/inbox/answer", {"execution": "x", "task": "1"})[0] == 401
    assert anon.sign_in("ana", "wrong") == 401
    assert anon.sign_in("nobody", "ana-secret") == 401
    assert anon.request("/")[0] == 303
    ana = Browser(secured)
    assert ana.sign_in("ana", "ana-secret") == 303
    assert ana.request("/")[0] == 200
    # A forged cookie is no session.
    forged = Browser(secured)
    forged.opener.addheaders = [("Cookie", "baton_session=ana.99999999999999.AAAA")]
    assert forged.request("/")[0] == 303


def test_cross_user_answers_are_refused(secured):
    sfn = support.client(secured.endpoint)
    _, for_ana = waiting(sfn, secured, "assigned-to-ana", {"BatonAssignee": "ana@example.com"})
    _, for_teachers = waiting(sfn, secured, "assigned-to-teachers", {"BatonGroup": "teachers"})
    ana, bob = Browser(secured), Browser(secured)
    ana.sign_in("ana", "ana-secret")
    bob.sign_in("bob", "bob-secret")
    ana_inbox = ana.request("/inbox")[1]
    bob_inbox = bob.request("/inbox")[1]
    ana_task = task_id(ana_inbox, for_ana)
    assert ana_task and task_id(ana_inbox, for_teachers)
    assert task_id(bob_inbox, for_ana) is None and task_id(bob_inbox, for_teachers) is None
    # Bob posts the answer anyway: refused, and the task still waits.
    status, body, _ = bob.request("/inbox/answer", {"execution": for_ana, "task": ana_task, "decision": "approve"})
    assert status == 403 and "You may not answer this task" in body
    assert sfn.describe_execution(executionArn=for_ana)["status"] == "RUNNING"
    status, _, _ = ana.request("/inbox/answer", {"execution": for_ana, "task": ana_task, "decision": "approve"})
    assert status == 200
    assert json.loads(wait_done(sfn, for_ana)["output"])["answer"] == {"approved": True}
    assert "<td>ana</td><td>inbox</td>" in ana.request("/execution?arn=" + urllib.parse.quote(for_ana))[1]
    sfn.stop_execution(executionArn=for_teachers)


def test_separation_of_duties(secured):
    sfn = support.client(secured.endpoint)
    # Ana asked for it, so Ana may not approve it, though she is a teacher.
    _, ex = waiting(sfn, secured, "own-request", {"BatonGroup": "teachers", "BatonExclude": "ana"})
    ana = Browser(secured)
    ana.sign_in("ana", "ana-secret")
    assert task_id(ana.request("/inbox")[1], ex) is None
    # She guesses the task's id: every try is refused, the real one as not hers.
    tries = [ana.request("/inbox/answer", {"execution": ex, "task": str(i), "decision": "approve"}) for i in range(4)]
    assert all(status in (403, 409) for status, _, _ in tries)
    assert any(status == 403 and "You may not answer this task" in body for status, body, _ in tries)
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    sfn.stop_execution(executionArn=ex)


def test_the_header_names_who_is_signed_in_and_offers_sign_out(secured):
    anon = Browser(secured)
    assert "Sign out" not in anon.request("/login")[1]
    ana = Browser(secured)
    ana.sign_in("ana", "ana-secret")
    page = ana.request("/")[1]
    assert '<span class="account">ana</span>' in page and "Sign out" in page


def test_each_person_sees_only_the_mail_sent_to_them(secured):
    sfn = support.client(secured.endpoint)
    arn = sfn.create_state_machine(
        name="mail-people",
        definition=definition({"Tell": {
            "Type": "Task", "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:people", "Subject": "For both",
                           "Message": "hello"},
            "End": True}}),
        roleArn="arn:aws:iam::123456789012:role/r",
    )["stateMachineArn"]
    assert wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])["status"] == "SUCCEEDED"
    assert Browser(secured).request("/mail")[0] == 303, "the Mail page needs sign-in"
    ana, bob = Browser(secured), Browser(secured)
    ana.sign_in("ana", "ana-secret")
    bob.sign_in("bob", "bob-secret")
    ana_mail, bob_mail = ana.request("/mail")[1], bob.request("/mail")[1]
    assert "To Ana &lt;ana@example.com&gt;" in ana_mail and "bob@example.com" not in ana_mail
    assert "To bob@example.com" in bob_mail and "ana@example.com" not in bob_mail
