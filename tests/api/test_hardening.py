"""What an attacker or a careless client must not get from `baton serve`: Baton's own queues
through the SQS API, a redirect off-site after sign-in, a cross-site form answering a task,
a `/metrics` page broken by a header, a forged receipt handle, requests beyond AWS's limits,
a session that outlives its sign-out, and idle sockets held open for ever."""

from __future__ import annotations

import json
import socket
import uuid
import urllib.error
import urllib.parse
import urllib.request

import boto3
import pytest
from botocore.config import Config

import support
from test_console_access import pbkdf2


def sqs_client(server):
    return boto3.client(
        "sqs",
        endpoint_url=server.endpoint,
        region_name=support.REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def http(server, method: str, path: str, data: bytes | None = None, headers: dict | None = None):
    """One plain HTTP request, redirects not followed: (status, headers by lower-case name, body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    req = urllib.request.Request(server.endpoint + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


# ----- Baton's own queues -----------------------------------------------------------------


@pytest.mark.parametrize("queue", ["__baton_outbox", "__baton_reminders", "__baton_sent_mail", "__baton_other"])
def test_internal_queues_do_not_exist_for_sqs_clients(server, queue):
    sqs = sqs_client(server)
    url = f"{server.endpoint}/{support.ACCOUNT}/{queue}"
    calls = [
        lambda: sqs.get_queue_url(QueueName=queue),
        lambda: sqs.receive_message(QueueUrl=url),
        lambda: sqs.send_message(QueueUrl=url, MessageBody="x"),
        lambda: sqs.purge_queue(QueueUrl=url),
        lambda: sqs.delete_queue(QueueUrl=url),
        lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]),
    ]
    for call in calls:
        with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
            call()
        assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(sqs.exceptions.ClientError) as e:
        sqs.create_queue(QueueName=queue)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    listed = sqs.list_queues().get("QueueUrls", []) + sqs.list_queues(QueueNamePrefix="__").get("QueueUrls", [])
    assert not [u for u in listed if "__baton" in u]


# ----- sign-in ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    server = support.BatonServer(tmp_path_factory.mktemp("baton-hardening"), 2000)
    with open(server.config, "a") as f:
        f.write(
            f"""
[console.users.ana]
password = "{pbkdf2('ana-secret')}"
email = "ana@example.com"

[console.users.bob]
password = "{pbkdf2('bob-secret')}"
"""
        )
    server.start()
    yield server
    server.stop()


def form(fields: dict) -> bytes:
    return urllib.parse.urlencode(fields).encode()


def sign_in(server, user: str, password: str, next_path: str = "/", headers: dict | None = None):
    """POST /login: (status, Location, the session cookie)."""
    status, h, _ = http(server, "POST", "/login", form({"user": user, "password": password, "next": next_path}),
                        headers)
    cookie = (h.get("set-cookie") or "").split(";")[0]
    return status, h.get("location"), cookie


@pytest.mark.parametrize("target", [
    "/\\evil.example/x", "//evil.example/x", "/\\/evil.example", "https://evil.example/", "javascript:alert(1)",
    "/%5Cevil.example/x", "/%2Fevil.example", "/\t/evil.example", "%2F%2Fevil.example", "/\\x", "evil.example",
    "/%09/evil.example", "/caf\u00e9",
])
def test_sign_in_never_redirects_off_site(secured, target):
    status, location, cookie = sign_in(secured, "ana", "ana-secret", target)
    assert status == 303 and cookie, (status, location)
    assert location == "/", f"next={target!r} led to {location!r}"
    # The sign-in page does not carry it either.
    status, _, body = http(secured, "GET", "/login?" + urllib.parse.urlencode({"next": target}))
    assert status == 200 and 'name="next" value="/"' in body


def test_sign_in_returns_to_a_page_of_this_site(secured):
    _, location, _ = sign_in(secured, "ana", "ana-secret", "/execution?arn=a%3Ab&x=1")
    assert location == "/execution?arn=a%3Ab&x=1"


# ----- cross-site forms -------------------------------------------------------------------


def open_task(server, execution_arn: str, cookie: str = "") -> str:
    import re

    status, _, page = http(server, "GET", "/inbox", headers={"Cookie": cookie} if cookie else {})
    assert status == 200
    m = re.search(
        r'name="execution" value="' + re.escape(execution_arn) + r'"><input type="hidden" name="task" value="(\d+)"',
        page,
    )
    assert m, "the execution's task is not in the inbox"
    return m.group(1)


def waiting_execution(server) -> tuple[object, str]:
    sfn = support.client(server.endpoint)
    name = f"waiting-{uuid.uuid4().hex[:8]}"
    arn = sfn.create_state_machine(name=name, definition=support.definition({"Approve": support.callback_state()}),
                                   roleArn=support.ROLE_ARN)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    support.wait_event(sfn, ex, "TaskSubmitted")
    return sfn, ex


FOREIGN = [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Referer": "http://evil.example/page"}]


def test_cross_site_form_cannot_answer_a_task_without_users(server):
    sfn, ex = waiting_execution(server)
    task = open_task(server, ex)
    fields = form({"execution": ex, "task": task, "decision": "approve"})
    for headers in FOREIGN:
        status, _, body = http(server, "POST", "/inbox/answer", fields, headers)
        assert status == 403 and "another site" in body, (headers, status, body)
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    # A form sent from the console's own page (or by a client naming no page) is answered.
    same = {"Origin": server.endpoint, "Referer": server.endpoint + "/inbox"}
    status, _, body = http(server, "POST", "/inbox/answer", fields, same)
    assert status == 200, body
    assert support.wait_done(sfn, ex)["status"] == "SUCCEEDED"


def test_cross_site_requests_cannot_call_the_api(server):
    body = json.dumps({"name": "csrf-made", "definition": support.definition({"P": {"Type": "Pass", "End": True}}),
                       "roleArn": support.ROLE_ARN}).encode()
    headers = {"X-Amz-Target": "AWSStepFunctions.CreateStateMachine", "Content-Type": "text/plain",
               "Origin": "http://evil.example"}
    status, h, text = http(server, "POST", "/", body, headers)
    assert status == 403 and json.loads(text)["__type"].endswith("#AccessDeniedException"), text
    names = [m["name"] for m in support.client(server.endpoint).list_state_machines()["stateMachines"]]
    assert "csrf-made" not in names


def test_cross_site_form_cannot_answer_or_sign_out_with_users(secured):
    sfn, ex = waiting_execution(secured)
    _, _, cookie = sign_in(secured, "ana", "ana-secret")
    task = open_task(secured, ex, cookie)
    fields = form({"execution": ex, "task": task, "decision": "approve"})
    for headers in FOREIGN:
        status, _, body = http(secured, "POST", "/inbox/answer", fields, {**headers, "Cookie": cookie})
        assert status == 403, (headers, status, body)
        status, _, _ = http(secured, "POST", "/login", form({"user": "ana", "password": "ana-secret"}), headers)
        assert status == 403, "a foreign page cannot sign a visitor in as someone else"
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    status, _, body = http(secured, "POST", "/inbox/answer", fields, {"Origin": secured.endpoint, "Cookie": cookie})
    assert status == 200, body
    assert support.wait_done(sfn, ex)["status"] == "SUCCEEDED"


# ----- /metrics ---------------------------------------------------------------------------

SAMPLE = r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? \S+$'


def test_metrics_stay_valid_and_bounded_whatever_the_target_header(server):
    import re

    hostile = ['AWSStepFunctions.Evil"} 1\rx', 'AWSStepFunctions.a\\b{c="d"}', 'AmazonSQS.Evil"} 9', "Nonsense"]
    hostile += [f"AWSStepFunctions.Made{i}" for i in range(300)] + [f"AmazonSQS.Made{i}" for i in range(300)]
    for target in hostile:
        status, _, _ = http(server, "POST", "/", b"{}", {"X-Amz-Target": target.replace("\r", "")})
        assert status == 400
    status, _, text = http(server, "GET", "/metrics")
    assert status == 200
    for line in text.splitlines():
        assert line.startswith("#") or re.match(SAMPLE, line), f"not Prometheus text: {line!r}"
    actions = set(re.findall(r'baton_request_duration_seconds_count\{action="([^"]*)"\}', text))
    assert "unknown" in actions and "sqs:unknown" in actions
    assert not [a for a in actions if "Made" in a or "Evil" in a], actions
    assert len(actions) <= 60


# ----- receipt handles --------------------------------------------------------------------


def test_receipt_handles_cannot_be_forged_from_the_message_id(server):
    import base64

    sqs = sqs_client(server)
    url = sqs.create_queue(QueueName=f"handles-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue = url.rsplit("/", 1)[1]
    message_id = sqs.send_message(QueueUrl=url, MessageBody="keep me")["MessageId"]
    for count in range(3):
        raw = f"{queue}#{message_id}#{count}".encode()
        forged = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=forged)
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
    second = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
    assert first["MessageId"] == second["MessageId"] == message_id
    assert first["ReceiptHandle"] != second["ReceiptHandle"], "a new handle on every receive"
    # Another queue's handle does not delete this one's message either.
    other = sqs.create_queue(QueueName=f"handles-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=other, ReceiptHandle=second["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


# ----- AWS's limits -----------------------------------------------------------------------


def test_definitions_over_one_mebibyte_are_refused(server):
    sfn = support.client(server.endpoint)
    padding = "x" * (1_048_576 - 200)
    big = json.dumps({"Comment": padding, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    big = big.replace(padding, padding + "y" * (1_048_577 - len(big)))
    assert len(big) == 1_048_577
    constraint = "Member must have length less than or equal to 1048576"
    with support.raises("ValidationException", constraint, 400):
        sfn.create_state_machine(name=f"big-{uuid.uuid4().hex[:8]}", definition=big, roleArn=support.ROLE_ARN)
    with support.raises("ValidationException", constraint, 400):
        sfn.validate_state_machine_definition(definition=big)
    small = support.definition({"P": {"Type": "Pass", "End": True}})
    arn = sfn.create_state_machine(name=f"big-{uuid.uuid4().hex[:8]}", definition=small,
                                   roleArn=support.ROLE_ARN)["stateMachineArn"]
    with support.raises("ValidationException", constraint, 400):
        sfn.update_state_machine(stateMachineArn=arn, definition=big)


def test_sqs_refuses_what_sqs_refuses(server):
    sqs = sqs_client(server)
    url = sqs.create_queue(QueueName=f"limits-{uuid.uuid4().hex[:8]}")["QueueUrl"]

    def code(call) -> str:
        with pytest.raises(sqs.exceptions.ClientError) as e:
            call()
        return e.value.response["Error"]["Code"]

    assert code(lambda: sqs.send_message(QueueUrl=url, MessageBody="bell \x07")) == "InvalidMessageContents"
    assert code(lambda: sqs.send_message(QueueUrl=url, MessageBody="\ufffe")) == "InvalidMessageContents"
    sqs.send_message(QueueUrl=url, MessageBody="tab\t new\nline \u00e9 \U0001F600")
    eleven = [{"Id": f"m{i}", "MessageBody": "x"} for i in range(11)]
    assert code(lambda: sqs.send_message_batch(QueueUrl=url, Entries=eleven)) == \
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    twice = [{"Id": "same", "MessageBody": "a"}, {"Id": "same", "MessageBody": "b"}]
    assert code(lambda: sqs.send_message_batch(QueueUrl=url, Entries=twice)) == \
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    handles = [{"Id": f"h{i}", "ReceiptHandle": "x"} for i in range(11)]
    assert code(lambda: sqs.delete_message_batch(QueueUrl=url, Entries=handles)) == \
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    assert code(lambda: sqs.delete_message_batch(QueueUrl=url, Entries=[handles[0], handles[0]])) == \
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    sent = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "ok"},
                                                         {"Id": "b", "MessageBody": "bad \x00"}])
    assert [s["Id"] for s in sent["Successful"]] == ["a"]
    assert [(f["Id"], f["Code"]) for f in sent["Failed"]] == [("b", "InvalidMessageContents")]
    assert code(lambda: sqs.create_queue(QueueName=f"orders-{uuid.uuid4().hex[:6]}.fifo")) == "InvalidParameterValue"
    assert code(lambda: sqs.create_queue(QueueName=f"o-{uuid.uuid4().hex[:6]}",
                                         Attributes={"FifoQueue": "true"})) == "InvalidParameterValue"
    sqs.create_queue(QueueName=f"orders-{uuid.uuid4().hex[:6]}.fifo", Attributes={"FifoQueue": "true"})


# ----- sign-out ---------------------------------------------------------------------------


def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(secured):
    _, _, cookie = sign_in(secured, "bob", "bob-secret")
    assert http(secured, "GET", "/inbox", headers={"Cookie": cookie})[0] == 200
    copied = cookie
    status, headers, _ = http(secured, "POST", "/logout", b"", {"Cookie": cookie})
    assert status == 303 and "Max-Age=0" in headers.get("set-cookie", "")
    status, headers, _ = http(secured, "GET", "/inbox", headers={"Cookie": copied})
    assert status == 303 and headers["location"].startswith("/login"), "a copied cookie outlived the sign-out"
    # Signing in again gives a new session that works.
    _, _, fresh = sign_in(secured, "bob", "bob-secret")
    assert fresh and http(secured, "GET", "/inbox", headers={"Cookie": fresh})[0] == 200
    assert http(secured, "GET", "/inbox", headers={"Cookie": copied})[0] == 303


# ----- password guessing ------------------------------------------------------------------


def test_failed_sign_ins_are_throttled_per_name_and_per_address(tmp_path):
    server = support.BatonServer(tmp_path, 2000)
    with open(server.config, "a") as f:
        f.write(f'\n[console.users.ana]\npassword = "{pbkdf2("ana-secret")}"\n'
                f'\n[console.users.bob]\npassword = "{pbkdf2("bob-secret")}"\n')
    server.start()
    try:
        for _ in range(5):
            assert sign_in(server, "ana", "guess")[0] == 401
        status, _, cookie = sign_in(server, "ana", "ana-secret")
        assert status == 429 and not cookie, "the right password after five wrong ones within minutes"
        status, _, body = http(server, "POST", "/login", form({"user": "ana", "password": "ana-secret"}))
        assert "Too many failed sign-ins" in body
        # An unknown name is refused the same way (its failures count too), and another
        # person is not locked out by them.
        for _ in range(5):
            assert sign_in(server, "nobody", "guess")[0] == 401
        assert sign_in(server, "nobody", "guess")[0] == 429
        assert sign_in(server, "bob", "bob-secret")[0] == 303
        # Many names from one address: the address is refused.
        for i in range(20):
            sign_in(server, f"name{i}", "guess")
        assert sign_in(server, "bob", "bob-secret")[0] == 429
    finally:
        server.stop()


# ----- connections ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    from seeds_helpers import Baton

    config = tmp_path_factory.mktemp("capped") / "baton.toml"
    config.write_text("")
    with Baton(config, ["--max-connections", "4", "--idle-timeout-seconds", "1", "--activity-poll-ms", "6000"]) as b:
        yield b


def closed_by_server(sock: socket.socket, trickle: bytes = b"") -> bool:
    """Whether the server closes `sock` (within 20 s), while `trickle` is sent a byte at a time."""
    import select
    import time

    deadline = time.monotonic() + 20
    pending = list(trickle)
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.2)
        if readable:
            try:
                data = sock.recv(4096)
            except ConnectionError:
                return True
            if not data or data.startswith(b"HTTP/1.1 408"):
                return True
        if pending:
            try:
                sock.send(bytes([pending.pop(0)]))
            except (BrokenPipeError, ConnectionError):
                return True
    return False


def test_idle_and_slow_header_connections_are_closed(capped):
    host, port = "127.0.0.1", capped.port
    with socket.create_connection((host, port)) as idle:
        assert closed_by_server(idle), "a connection that sends nothing stays open"
    with socket.create_connection((host, port)) as slow:
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        assert closed_by_server(slow, b"X-Slow: " + b"a" * 200), "headers sent a byte at a time are read for ever"
    # A keep-alive connection idle after its answer is closed too.
    with socket.create_connection((host, port)) as kept:
        kept.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        assert closed_by_server(kept)


def connections_to(port: int) -> int:
    """Established TCP connections to the loopback `port` from this machine's clients (read
    from /proc/net/tcp: remote port `port`, state 01)."""
    count = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                count += 1
    return count


def test_connections_beyond_the_cap_wait_for_a_free_one(capped):
    import threading
    import time

    sfn = capped.client()
    activity = sfn.create_activity(name=f"cap-{uuid.uuid4().hex[:8]}")["activityArn"]
    sfn.close()  # its kept-alive connection would hold one of the four
    # The clients are made first: making one takes a while on a loaded machine.
    clients = [capped.client() for _ in range(4)]
    finished: list[str] = []
    lock = threading.Lock()
    results: dict[str, object] = {}

    def poll(i: int):
        try:
            results[f"poll{i}"] = clients[i].get_activity_task(activityArn=activity)
        except Exception as e:  # noqa: BLE001 - recorded and asserted below
            results[f"poll{i}"] = e
        with lock:
            finished.append(f"poll{i}")

    pollers = [threading.Thread(target=poll, args=(i,)) for i in range(4)]
    for t in pollers:
        t.start()
    # The four long polls hold the four connections once the kernel has connected them: the
    # server takes connections in the order they were made, so the fifth comes after them.
    deadline = time.monotonic() + 30
    while connections_to(capped.port) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connections_to(capped.port) >= 4, "the four long polls did not connect"
    status, _, body = http(capped, "GET", "/health")
    with lock:
        finished.append("health")
    for t in pollers:
        t.join()
    assert status == 200 and json.loads(body) == {"status": "ok"}
    assert finished.index("health") > 0, f"the fifth connection was served while four were busy: {finished}"
    for i in range(4):
        assert isinstance(results[f"poll{i}"], dict) and "taskToken" not in results[f"poll{i}"], results[f"poll{i}"]


# ----- serving on the network -------------------------------------------------------------


def serve_on_all_interfaces(tmp_path, config: str, *extra: str):
    """`baton serve --host 0.0.0.0`: (exit code or None if it serves, its output)."""
    import subprocess
    import time

    (tmp_path / "baton.toml").write_text(config)
    port = support._free_port()
    args = [str(support.baton_binary()), "serve", "--host", "0.0.0.0", "--port", str(port),
            "--data-dir", str(tmp_path / "data"), "--config", str(tmp_path / "baton.toml"), *extra]
    log = tmp_path / "out.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return proc.returncode, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    return None, log.read_text()
            except OSError:
                time.sleep(0.05)
        raise AssertionError("baton serve neither served nor exited:\n" + log.read_text())
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def test_serving_openly_on_the_network_needs_an_explicit_choice(tmp_path):
    code, out = serve_on_all_interfaces(tmp_path, "")
    assert code not in (None, 0), "served openly on 0.0.0.0 without being asked to"
    assert "--allow-open" in out and "0.0.0.0" in out, out
    code, out = serve_on_all_interfaces(tmp_path, "", "--allow-open")
    assert code is None, out
    assert "warning: serving openly on 0.0.0.0" in out, out
    users = f'[console.users.ana]\npassword = "{pbkdf2("x")}"\n'
    code, out = serve_on_all_interfaces(tmp_path, users)
    assert code is None, out
