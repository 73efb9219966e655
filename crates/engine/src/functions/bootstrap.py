# Baton's bootstrap for Python handlers: runs `module.function(event, context)` once, in the
# manner of AWS Lambda's Python runtime, for `runtime = "python3"` functions in baton.toml.
#
# In: the event (JSON) on stdin; the handler and function in the environment (_HANDLER,
# LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, BATON_REQUEST_ID, ...).
# Out, on the stdout this process started with: "ok\n" and the result as JSON (bytes are
# passed on as they are), or "error\n" and Lambda's error document
# {"errorMessage", "errorType", "requestId", "stackTrace"}. What the handler prints goes to
# stderr, as Lambda sends it to the function's log.
import importlib
import json
import os
import sys
import time
import traceback

_START = time.monotonic()


def _main():
    answer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    request_id = os.environ.get("BATON_REQUEST_ID", "")
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())

    def reply(kind, body):
        answer.write(kind + b"\n" + body)
        answer.flush()
        sys.stderr.flush()
        os._exit(0)

    def fail(error_type, message, stack=None):
        doc = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack or []}
        reply(b"error", json.dumps(doc).encode())

    def stack_of(tb):
        # Frames of the function's code only, its files shown under /var/task as on Lambda,
        # so error causes read the same here and on AWS.
        lines = []
        for frame in traceback.extract_tb(tb):
            name = frame.filename
            if name == "<string>":
                continue
            if name.startswith(task_root + os.sep):
                name = "/var/task/" + os.path.relpath(name, task_root)
            text = '  File "%s", line %d, in %s\n' % (name, frame.lineno, frame.name)
            if frame.line:
                text += "    %s\n" % frame.line.strip()
            lines.append(text)
        return lines

    raw = sys.stdin.buffer.read()
    try:
        event = json.loads(raw) if raw.strip() else {}
    except ValueError as e:
        fail("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e)

    spec = os.environ.get("_HANDLER", "")
    module_name, _, function_name = spec.rpartition(".")
    module_name = module_name.replace("/", ".")
    sys.path.insert(0, task_root)
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as e:
        fail("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (module_name, e), stack_of(e.__traceback__))
    except ImportError as e:
        fail("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_name, e))
    except Exception as e:
        fail(type(e).__name__, str(e), stack_of(e.__traceback__))
    handler = getattr(module, function_name, None)
    if handler is None:
        fail("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (function_name, module_name))

    try:
        result = handler(event, _Context(request_id))
    except Exception as e:
        fail(type(e).__name__, str(e), stack_of(e.__traceback__))
    if isinstance(result, (bytes, bytearray)):
        reply(b"ok", bytes(result))
    try:
        body = json.dumps(result).encode()
    except (TypeError, ValueError) as e:
        fail("Runtime.MarshalError", "Unable to marshal response: %s" % e)
    reply(b"ok", body)


class _Context:
    """What Lambda's Python runtime passes as `context`."""

    def __init__(self, request_id):
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = env.get("BATON_FUNCTION_ARN", "")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = _START + float(env.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "60"))

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


_main()
