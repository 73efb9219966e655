"""The web console over plain HTTP: pages for state machines and executions, the inbox and its
answers (approve, reject, JSON, forms). Executions are started and inspected with boto3, the
console is read and answered the way a browser's form posts would."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request

from support import callback_state, definition, history, types, wait_done, wait_event

NESTED = {
    "Pick": {
        "Type": "Choice",
        "Choices": [{"Variable": "$.fan", "IsPresent": True, "Next": "Fan"}],
        "Default": "Done",
    },
    "Fan": {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
            {
                "StartAt": "Each",
                "States": {
                    "Each": {
                        "Type": "Map",
                        "ItemsPath": "$.items",
                        "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
                        "End": True,
                    }
                },
            },
        ],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
        "Next": "Done",
    },
    "Done": {"Type": "Succeed"},
}

FORM = [
    {"name": "score", "type": "integer", "label": "Score", "required": True},
    {"name": "result", "label": "Result", "allowed": ["pass", "fail"], "required": True},
    {"name": "late", "type": "boolean"},
]


def get(server, path: str, **query) -> tuple[int, str]:
    url = server.endpoint + path + ("?" + urllib.parse.urlencode(query) if query else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def post(server, path: str, fields: dict) -> tuple[int, str]:
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(server.endpoint + path, data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def state_class(page: str, state: str) -> str:
    m = re.search(r'class="node (?:group )?(st-[a-z]+)" data-state="' + re.escape(state) + '"', page)
    assert m, f"state {state} not drawn"
    return m.group(1)


def open_task(server, execution_arn: str) -> str:
    """The inbox card of this execution; its task id."""
    status, page = get(server, "/inbox")
    assert status == 200
    m = re.search(
        r'name="execution" value="' + re.escape(execution_arn) + r'"><input type="hidden" name="task" value="(\d+)"',
        page,
    )
    assert m, "the execution's task is not in the inbox"
    return m.group(1)


def test_machine_page_draws_nested_graph_and_lists(server, sfn, machine):
    arn = machine(definition(NESTED))
    status, page = get(server, "/machine", arn=arn)
    assert status == 200
    for state in ["Pick", "Fan", "Left", "Each", "Item", "Done"]:
        assert f'data-state="{state}"' in page
    assert 'class="edge catch"' in page
    assert 'form class="start"' in page
    status, index = get(server, "/")
    assert status == 200 and urllib.parse.quote(arn, safe="") in index


def test_execution_page_colours_states_and_shows_history(server, sfn, machine):
    arn = machine(definition(NESTED))
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"fan": 1, "items": [1, 2]}))["executionArn"]
    assert wait_done(sfn, ex)["status"] == "SUCCEEDED"
    status, page = get(server, "/execution", arn=ex)
    assert status == 200
    assert state_class(page, "Pick") == "st-succeeded"
    assert state_class(page, "Item") == "st-succeeded"
    assert state_class(page, "Done") == "st-succeeded"
    for event in types(history(sfn, ex)):
        assert f'<tr data-type="{event}">' in page
    assert 'data-status="SUCCEEDED"' in page


def test_a_caught_failure_and_a_failed_state_have_their_colours(server, sfn, machine):
    states = {
        "Try": {"Type": "Fail", "Error": "Oops"},
    }
    caught = {
        "Try": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "no-such-function"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "After"}],
            "Next": "After",
        },
        "After": {"Type": "Pass", "End": True},
    }
    failed = sfn.start_execution(stateMachineArn=machine(definition(states)))["executionArn"]
    ok = sfn.start_execution(stateMachineArn=machine(definition(caught)))["executionArn"]
    assert wait_done(sfn, failed)["status"] == "FAILED"
    assert wait_done(sfn, ok)["status"] == "SUCCEEDED"
    assert state_class(get(server, "/execution", arn=failed)[1], "Try") == "st-failed"
    page = get(server, "/execution", arn=ok)[1]
    assert state_class(page, "Try") == "st-caught"
    assert state_class(page, "After") == "st-succeeded"
    # A failed execution offers redrive, not stop.
    assert 'data-action="RedriveExecution"' in get(server, "/execution", arn=failed)[1]


def test_a_failed_execution_shows_its_error_and_cause_where_the_output_would_be(server, sfn, machine):
    cause = "The card " + "x" * 300 + " was declined"
    failed = sfn.start_execution(
        stateMachineArn=machine(definition({"Pay": {"Type": "Fail", "Error": "PaymentDeclined", "Cause": cause}}))
    )["executionArn"]
    assert wait_done(sfn, failed)["status"] == "FAILED"
    page = get(server, "/execution", arn=failed)[1]
    assert "None yet." not in page
    assert '<h2>Error</h2><p class="error"><b>PaymentDeclined</b></p>' in page
    assert f"<pre>{cause}</pre>" in page


def test_no_sign_out_without_users(server):
    for path in ["/", "/inbox", "/mail"]:
        status, page = get(server, path)
        assert status == 200 and "Sign out" not in page and 'action="/logout"' not in page, path


def test_choice_edges_are_labelled_with_their_conditions(server, sfn, machine):
    states = {
        "Check": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.total", "NumericGreaterThan": 100, "Next": "Review"},
                {"Variable": "$.gift", "BooleanEquals": True, "Next": "Done"},
            ],
            "Default": "Done",
        },
        "Review": {"Type": "Pass", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    }
    page = get(server, "/machine", arn=machine(definition(states)))[1]
    assert ">$.total &gt; 100</tspan>" in page
    # The rule and the Default that both go to Done: one edge, both labels.
    label = next(t for t in page.split('<g class="edge-labels">')[1:] if "$.gift" in t)
    assert ">$.gift == true</tspan>" in label and ">default</tspan>" in label


def test_the_timeline_shows_how_long_a_task_waited_for_its_answer(server, sfn, machine):
    arn = machine(definition({"Approve": callback_state(ResultPath="$.answer", Next="Pause"),
                              "Pause": {"Type": "Wait", "Seconds": 1, "End": True}}))
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_event(sfn, ex, "TaskSubmitted")
    page = get(server, "/execution", arn=ex)[1]
    assert '<div class="tl-row" data-state="Approve">' in page and "tl-bar tl-open" in page
    task = open_task(server, ex)
    assert post(server, "/inbox/answer", {"execution": ex, "task": task, "decision": "approve"})[0] == 200
    assert wait_done(sfn, ex)["status"] == "SUCCEEDED"
    page = get(server, "/execution", arn=ex)[1]
    timeline = page.split('<h2 id="timeline">Timeline</h2>')[1].split("<h2>")[0]
    approve = timeline.split('data-state="Approve"')[1].split('<div class="tl-row"')[0]
    assert 'class="tl-bar tl-ok"' in approve and 'title="waiting for an answer: ' in approve, approve
    pause = timeline.split('data-state="Pause"')[1]
    assert 'title="waiting (Wait state): 1.0 s"' in pause, pause


def test_inbox_approve_resumes_once(server, sfn, machine):
    arn = machine(definition({"Approve": callback_state(ResultPath="$.answer")}))
    ex = sfn.start_execution(stateMachineArn=arn, input='{"order": 7}')["executionArn"]
    wait_event(sfn, ex, "TaskSubmitted")
    page = get(server, "/execution", arn=ex)[1]
    assert state_class(page, "Approve") == "st-waiting"
    assert 'data-action="StopExecution"' in page
    task = open_task(server, ex)
    status, body = post(server, "/inbox/answer", {"execution": ex, "task": task, "decision": "approve", "comment": "ok"})
    assert status == 200, body
    done = wait_done(sfn, ex)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["answer"] == {"approved": True, "comment": "ok"}
    # The same answer again changes nothing.
    status, body = post(server, "/inbox/answer", {"execution": ex, "task": task, "decision": "reject"})
    assert status == 409 and "no longer waiting" in body
    assert types(history(sfn, ex)).count("TaskSucceeded") == 1
    page = get(server, "/execution", arn=ex)[1]
    assert state_class(page, "Approve") == "st-succeeded"
    # The answer is audited: via the inbox, from loopback, what the task sent and the answer.
    audit = page.split("<h2>Answers</h2>")[1].split("</table>")[0]
    assert audit.count("<tr>") == 2  # header and one answer: the refused second one left none
    assert "<td>inbox</td><td>127.0.0.1</td><td>Approve</td>" in audit
    assert "&quot;order&quot;: 7" in audit and "&quot;comment&quot;: &quot;ok&quot;" in audit


def test_inbox_reject_and_json_answers(server, sfn, machine):
    arn = machine(definition({"Approve": callback_state(ResultPath="$.answer")}))
    rejected = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    answered = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_event(sfn, rejected, "TaskSubmitted")
    wait_event(sfn, answered, "TaskSubmitted")
    post(server, "/inbox/answer", {"execution": rejected, "task": open_task(server, rejected), "decision": "reject"})
    task = open_task(server, answered)
    status, body = post(server, "/inbox/answer", {"execution": answered, "task": task, "decision": "json", "output": "{"})
    assert status == 400 and "not valid JSON" in body
    post(server, "/inbox/answer", {"execution": answered, "task": task, "decision": "json", "output": '{"x": [1]}'})
    assert json.loads(wait_done(sfn, rejected)["output"])["answer"] == {"approved": False}
    assert json.loads(wait_done(sfn, answered)["output"])["answer"] == {"x": [1]}


def test_form_is_rendered_validated_and_typed(server, sfn, machine):
    state = callback_state(ResultPath="$.exam")
    state["Parameters"]["Payload"]["BatonForm"] = FORM
    arn = machine(definition({"Exam": state}))
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_event(sfn, ex, "TaskSubmitted")
    page = get(server, "/inbox")[1]
    assert 'name="f.score"' in page and "<option>pass</option>" in page
    task = open_task(server, ex)
    base = {"execution": ex, "task": task, "decision": "form"}
    status, body = post(server, "/inbox/answer", {**base, "f.score": "seven", "f.result": "pass"})
    assert status == 400 and "score: &#39;seven&#39; is not a whole number" in body
    status, body = post(server, "/inbox/answer", {**base, "f.score": "7", "f.result": "maybe"})
    assert status == 400 and "not one of pass, fail" in body
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    status, body = post(server, "/inbox/answer", {**base, "f.score": "7", "f.result": "pass", "f.late": "true"})
    assert status == 200, body
    assert json.loads(wait_done(sfn, ex)["output"])["exam"] == {"score": 7, "result": "pass", "late": True}


def test_executions_list_filters_searches_and_pages(server, sfn, machine):
    arn = machine(definition({"P": {"Type": "Pass", "End": True}}))
    names = [f"run-{i:03}" for i in range(55)]
    for n in names:
        sfn.start_execution(stateMachineArn=arn, name=n)
    for n in names:
        wait_done(sfn, sfn.describe_execution(executionArn=arn.replace(":stateMachine:", ":execution:") + ":" + n)["executionArn"])
    status, first = get(server, "/executions", machine=arn)
    assert status == 200
    seen = set(re.findall(r">(run-\d{3})</a>", first))
    assert len(seen) == 50
    nxt = re.search(r'<a href="(/executions\?[^"]+)">Next page', first)
    assert nxt, "no next page link"
    second = get(server, nxt.group(1).replace("&amp;", "&"))[1]
    rest = set(re.findall(r">(run-\d{3})</a>", second))
    assert len(rest) == 5 and not rest & seen
    assert "Next page" not in second
    found = get(server, "/executions", machine=arn, name="run-042")[1]
    assert re.findall(r">(run-\d{3})</a>", found) == ["run-042"]
    assert "No executions" in get(server, "/executions", machine=arn, status="FAILED")[1]


def test_bad_input_gets_a_clear_page(server):
    status, body = get(server, "/execution", arn="arn:aws:states:us-east-1:123456789012:execution:nope:nope")
    assert status == 404 and "ExecutionDoesNotExist" in body
    status, body = get(server, "/machine", arn="arn:aws:states:us-east-1:123456789012:stateMachine:nope")
    assert status == 404 and "StateMachineDoesNotExist" in body
    status, body = get(server, "/executions", machine="x", status="BOGUS")
    assert status == 404
    status, body = post(server, "/inbox/answer", {"execution": "x", "task": "zz"})
    assert status == 400 and "task: missing or not a number" in body


# --- signed links ---------------------------------------------------------------------------

import base64  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402


def activity_with_links(sfn, machine, name, form=None, timeout=3600):
    """An execution waiting on an activity whose input asks for signed links; its links."""
    activity = sfn.create_activity(name=name("act"))["activityArn"]
    params = {
        "approve": "baton:link:approve",
        "reject": "baton:link:reject",
        "Message.$": "States.Format('Open baton:link:answer to answer {}', $.who)",
    }
    if form:
        params["BatonForm"] = form
    state = {"Type": "Task", "Resource": activity, "Parameters": params, "TimeoutSeconds": timeout, "End": True}
    ex = sfn.start_execution(stateMachineArn=machine(definition({"Ask": state})), input='{"who": "ana"}')["executionArn"]
    task = sfn.get_activity_task(activityArn=activity, workerName="mailer")
    sent = json.loads(task["input"])
    answer = re.search(r"Open (\S+) to answer ana", sent["Message"]).group(1)
    return ex, {"approve": sent["approve"], "reject": sent["reject"], "answer": answer}


def link_path(url: str) -> str:
    return urllib.parse.urlparse(url).path


def test_links_replace_markers_and_keep_them_out_of_history(server, sfn, machine, name):
    ex, links = activity_with_links(sfn, machine, name)
    for url in links.values():
        assert url.startswith(server.endpoint + "/link/")
    assert len(set(links.values())) == 3
    text = json.dumps(history(sfn, ex), default=str)
    assert "baton:link:approve" in text and "/link/" not in text


def test_approve_link_get_confirms_post_acts_once(server, sfn, machine, name):
    ex, links = activity_with_links(sfn, machine, name)
    status, body = get(server, link_path(links["approve"]))
    assert status == 200 and "Approve: Ask" in body
    # GET (a mail scanner) changed nothing.
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    status, body = post(server, link_path(links["approve"]), {"comment": "fine", "decision": "reject"})
    assert status == 200 and "Thank you" in body
    done = wait_done(sfn, ex)
    assert json.loads(done["output"]) == {"approved": True, "comment": "fine"}
    # Reused, and the other link of the same task: both refused.
    for url in (links["approve"], links["reject"]):
        status, body = post(server, link_path(url), {})
        assert status == 409 and "no longer waiting" in body
    assert types(history(sfn, ex)).count("ActivitySucceeded") == 1
    assert "<td>link</td><td>127.0.0.1</td><td>Ask</td>" in get(server, "/execution", arn=ex)[1]


def test_answer_link_renders_the_form(server, sfn, machine, name):
    ex, links = activity_with_links(sfn, machine, name, form=FORM)
    status, body = get(server, link_path(links["answer"]))
    assert status == 200 and 'name="f.result"' in body
    status, body = post(server, link_path(links["answer"]), {"decision": "form", "f.score": "3"})
    assert status == 400 and "result: a value is required" in body
    status, _ = post(server, link_path(links["answer"]), {"decision": "form", "f.score": "3", "f.result": "fail"})
    assert status == 200
    assert json.loads(wait_done(sfn, ex)["output"]) == {"score": 3, "result": "fail", "late": False}


def test_tampered_links_are_refused(server, sfn, machine, name):
    ex, links = activity_with_links(sfn, machine, name)
    path = link_path(links["reject"])
    payload, signature = path.removeprefix("/link/").split(".")
    claim = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claim["a"] = "approve"
    forged = base64.urlsafe_b64encode(json.dumps(claim).encode()).decode().rstrip("=")
    for bad in (f"/link/{forged}.{signature}", path[:-2] + ("AA" if not path.endswith("AA") else "BB"), "/link/x"):
        for method in (get, lambda s, p: post(s, p, {})):
            status, body = method(server, bad)
            assert status == 403 and "This link is not valid" in body
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"


def test_expired_links_are_refused(server, sfn, machine, name):
    ex, links = activity_with_links(sfn, machine, name)
    payload, _ = link_path(links["approve"]).removeprefix("/link/").split(".")
    claim = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claim["x"] = 1000  # long past
    # Signed with the server's own key, so only the expiry is wrong.
    key = bytes.fromhex((server.data_dir / "link-key").read_text().strip())
    p = base64.urlsafe_b64encode(json.dumps(claim, separators=(",", ":")).encode()).decode().rstrip("=")
    s = base64.urlsafe_b64encode(hmac.new(key, p.encode(), hashlib.sha256).digest()).decode().rstrip("=")
    for method in (get, lambda srv, path: post(srv, path, {})):
        status, body = method(server, f"/link/{p}.{s}")
        assert status == 410 and "This link has expired" in body
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    # The real link still works.
    assert post(server, link_path(links["approve"]), {})[0] == 200
    assert wait_done(sfn, ex)["status"] == "SUCCEEDED"


def test_an_execution_lists_its_map_runs_and_a_map_run_page_counts_its_items(server, sfn, machine):
    state = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Odd?",
            "States": {
                "Odd?": {"Type": "Choice", "Choices": [{"Variable": "$.Items[0]", "NumericEquals": 3, "Next": "Boom"}],
                         "Default": "Done"},
                "Done": {"Type": "Pass", "End": True},
                "Boom": {"Type": "Fail", "Error": "Three"},
            },
        },
        "ItemBatcher": {"MaxItemsPerBatch": 2},
        "ToleratedFailureCount": 1,
        "MaxConcurrency": 4,
        "Label": "numbers",
        "End": True,
    }
    arn = machine(definition({"Numbers": state}))
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps([1, 2, 3, 4, 5]))["executionArn"]
    assert wait_done(sfn, ex)["status"] == "SUCCEEDED"
    [run] = sfn.list_map_runs(executionArn=ex)["mapRuns"]
    status, page = get(server, "/execution", arn=ex)
    assert status == 200
    link = "/map-run?arn=" + urllib.parse.quote(run["mapRunArn"], safe="")
    assert f'href="{link}"' in page
    status, page = get(server, "/map-run", arn=run["mapRunArn"])
    assert status == 200
    assert "Map Run numbers" in page and "SUCCEEDED" in page
    assert "<tr><th>Max concurrency</th><td>4</td></tr>" in page
    assert "<tr><th>Tolerated failure count</th><td>1</td></tr>" in page
    # Five items in three batches; the batch [3, 4] failed.
    items = re.search(r'<tr data-counts="Items">(.*?)</tr>', page).group(1)
    children = re.search(r'<tr data-counts="Child executions">(.*?)</tr>', page).group(1)
    cells = lambda row: re.findall(r"<td>(\d+)</td>", row)  # noqa: E731
    # pending, running, succeeded, failed, aborted, total, results written
    assert cells(items) == ["0", "0", "3", "2", "0", "5", "0"]
    assert cells(children) == ["0", "0", "2", "1", "0", "3", "0"]
    status, page = get(server, "/map-run", arn=run["mapRunArn"][:-4] + "beef")
    assert status == 404 and "ResourceNotFound" in page
