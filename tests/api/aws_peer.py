"""A real AWS-compatible server for the tests of Tasks that call AWS services: moto's server
mode (`moto[server]`, pinned in requirements.txt), started on a free loopback port.

moto runs Lambda functions in Docker, which does not run here: `start_moto` switches on
moto's documented non-Docker Lambda (`{"lambda": {"use_docker": false}}` through its
`/moto-api/config`), in which a function answers with the event it was given.

Also `SigningRecorder`: a loopback HTTP proxy in front of moto that checks every request's
SigV4 signature with botocore's own signer (so the check is not Baton's code judging itself)
and keeps what it saw.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import boto3
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from seeds_helpers import free_port

REGION = "us-east-1"


class Moto:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "moto.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Moto":
        self.log = open(self.log_path, "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("moto_server exited:\n" + self.log_path.read_text(errors="replace"))
            try:
                with urllib.request.urlopen(self.endpoint + "/moto-api/config", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not answer within 60 s")
                time.sleep(0.1)
        # Lambda without Docker (see the module doc).
        self.configure({"lambda": {"use_docker": False}})
        return self

    def configure(self, config: dict) -> None:
        request = urllib.request.Request(self.endpoint + "/moto-api/config", data=json.dumps(config).encode(),
                                         headers={"content-type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST"), timeout=30).close()
        self.configure({"lambda": {"use_docker": False}})

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="test", aws_secret_access_key="test")

    def create_function(self, name: str) -> str:
        """A Lambda function in moto (which, without Docker, answers with its event)."""
        iam = self.client("iam")
        try:
            role = iam.get_role(RoleName="baton-test-lambda")["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            role = iam.create_role(RoleName="baton-test-lambda", AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                               "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("handler.py", "def handler(event, context):\n    return event\n")
        return self.client("lambda").create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
            Code={"ZipFile": code.getvalue()})["FunctionArn"]


def start_moto(workdir: Path) -> Moto:
    return Moto(workdir).start()


class SigningRecorder:
    """A proxy to `upstream` that verifies each request's SigV4 signature for the given
    credentials with botocore's signer, records (service, valid) per request, and forwards."""

    def __init__(self, upstream: str, access_key: str, secret_key: str):
        self.upstream = upstream.rstrip("/")
        self.credentials = Credentials(access_key, secret_key)
        self.seen: list[dict] = []
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.seen.append(recorder.check(self.command, self.path, dict(self.headers.items()), body))
                request = urllib.request.Request(recorder.upstream + self.path, data=body or None,
                                                 method=self.command, headers=dict(self.headers.items()))
                try:
                    with urllib.request.urlopen(request, timeout=30) as r:
                        status, headers, data = r.status, r.headers.items(), r.read()
                except urllib.error.HTTPError as e:
                    status, headers, data = e.code, e.headers.items(), e.read()
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def check(self, method: str, path: str, headers: dict, body: bytes) -> dict:
        lower = {k.lower(): v for k, v in headers.items()}
        auth = lower.get("authorization", "")
        fields = dict(part.strip().split("=", 1) for part in auth.removeprefix("AWS4-HMAC-SHA256 ").split(",") if "=" in part)
        credential = fields.get("Credential", "").split("/")
        signed = fields.get("SignedHeaders", "").split(";")
        if len(credential) != 5:
            return {"service": None, "access_key": None, "valid": False, "valid_with_wrong_secret": False}
        access_key, _, region, service, _ = credential

        def signature(credentials: Credentials) -> str:
            request = AWSRequest(method=method, url=f"http://{lower['host']}{path}", data=body,
                                 headers={h: lower[h] for h in signed if h in lower})
            request.context["timestamp"] = lower["x-amz-date"]
            signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(credentials, service, region)
            if service == "s3":
                request.context["payload_signing_enabled"] = lower.get("x-amz-content-sha256") != "UNSIGNED-PAYLOAD"
            canonical = signer.canonical_request(request)
            return signer.signature(signer.string_to_sign(request, canonical), request)

        wrong = Credentials(self.credentials.access_key, self.credentials.secret_key + "x")
        return {
            "service": service,
            "region": region,
            "access_key": access_key,
            "valid": signature(self.credentials) == fields.get("Signature"),
            "valid_with_wrong_secret": signature(wrong) == fields.get("Signature"),
        }

    def stop(self) -> None:
        self.server.shutdown()
