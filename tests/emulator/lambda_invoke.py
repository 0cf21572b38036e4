"""Lambda for the emulator's Step Functions (--step-functions): every Lambda Invoke that reaches
the emulator (`POST /2015-03-31/functions/{name}/invocations`, as moto's state machine engine
sends it) is handed to one of the function processes that poll this module's Lambda Runtime API
(its own port), and answered with what that process answers, as Lambda answers it:

    - a response: HTTP 200, the function's JSON;
    - an error: HTTP 200, `X-Amz-Function-Error: Unhandled`, {"errorType", "errorMessage"};
    - reserved concurrency (`limit`): an invocation arriving while `limit` are in flight (queued
      or running) is answered at once with HTTP 429, x-amzn-ErrorType TooManyRequestsException,
      {"Type": "User", "message": "Rate Exceeded.", "Reason":
      "ReservedFunctionConcurrentInvocationLimitExceeded"}, and never reaches a process;
    - an init error a process posts (POST .../init/error) answers the oldest invocation still
      waiting for a process, or else the next to arrive, as that invocation's error;
    - no answer within the deadline (15 minutes, as the runtime is told): the Lambda timeout
      error (errorType Sandbox.Timedout).

Any number of processes may poll the one API (GET /2018-06-01/runtime/invocation/next); each
queued invocation goes to exactly one of them, and its answer (POST
.../invocation/{id}/response or .../error) back to the Invoke request waiting for it. The
waiting request holds no emulator lock: the process it waits on calls the emulator itself.
"""

import collections
import json
import re
import select
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:access-key-remediator"
DEADLINE_SECONDS = 15 * 60
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
THROTTLED = {
    "Type": "User",
    "message": "Rate Exceeded.",
    "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
}


def is_invoke(environ):
    """Whether a WSGI request is a Lambda Invoke."""
    return environ.get("REQUEST_METHOD") == "POST" and bool(INVOKE_PATH.match(environ.get("PATH_INFO", "")))


class Invocation:
    def __init__(self, body):
        self.request_id = str(uuid.uuid4())
        self.body = body or b"{}"
        self.deadline = time.time() + DEADLINE_SECONDS
        self.answered = threading.Event()
        self.answer = None  # ("response" | "error", document)
        self.cancelled = False


class LambdaService:
    """The invocations, their queue and the runtime API the function processes poll."""

    def __init__(self):
        self.lock = threading.Condition()
        self.queue = collections.deque()  # invocations no process has taken yet
        self.running = {}  # request id -> invocation a process is working on
        self.init_errors = collections.deque()
        self.limit = None
        self.records = []
        self.polling = 0  # processes waiting for their next invocation now
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), runtime_handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def reset(self):
        with self.lock:
            self.limit = None
            self.records.clear()
            self.init_errors.clear()

    def set_limit(self, limit):
        if limit is not None and int(limit) < 0:
            raise ValueError(f"limit must be at least 0, got {limit}")
        with self.lock:
            self.limit = None if limit is None else int(limit)

    def pollers(self):
        with self.lock:
            return self.polling

    def invocations(self):
        with self.lock:
            return list(self.records)

    # The Invoke side (the emulator's WSGI app).

    def invoke(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        invocation = Invocation(environ["wsgi.input"].read(length) if length else b"")
        with self.lock:
            in_flight = len(self.queue) + len(self.running)
            if self.limit is not None and in_flight >= self.limit:
                self.record(invocation, "throttled", THROTTLED)
                return answer(start_response, 429, THROTTLED, [("x-amzn-ErrorType", "TooManyRequestsException")])
            if self.init_errors:
                self.finish(invocation, "error", self.init_errors.popleft())
            else:
                self.queue.append(invocation)
                self.lock.notify()
        if not invocation.answered.wait(max(0.0, invocation.deadline - time.time())):
            with self.lock:
                invocation.cancelled = True
                if invocation in self.queue:
                    self.queue.remove(invocation)
                self.running.pop(invocation.request_id, None)
                self.finish(invocation, "error", {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {DEADLINE_SECONDS:.2f} seconds",
                })
        outcome, document = invocation.answer
        if outcome == "error":
            error = {"errorType": document.get("errorType"), "errorMessage": document.get("errorMessage")}
            return answer(start_response, 200, error, [("X-Amz-Function-Error", "Unhandled")])
        return answer(start_response, 200, document)

    # The runtime API side (the function processes). Called with self.lock held.

    def record(self, invocation, outcome, document):
        try:
            payload = json.loads(invocation.body)
        except ValueError:
            payload = invocation.body.decode("utf-8", "replace")
        self.records.append({"payload": payload, "outcome": outcome, "answer": document})

    def finish(self, invocation, outcome, document):
        if invocation.answer is not None:
            return
        invocation.answer = (outcome, document)
        self.record(invocation, outcome, document)
        invocation.answered.set()

    def next_invocation(self, alive):
        """The next invocation for a polling process, or None once `alive()` says the process
        hung up (a killed process must not take an invocation with it)."""
        with self.lock:
            self.polling += 1
            try:
                while True:
                    while not self.queue:
                        self.lock.wait(timeout=0.5)
                        if not self.queue and not alive():
                            return None
                    invocation = self.queue.popleft()
                    if not invocation.cancelled:
                        self.running[invocation.request_id] = invocation
                        return invocation
            finally:
                self.polling -= 1

    def undelivered(self, invocation):
        """Puts back an invocation whose process hung up before it could be handed over."""
        with self.lock:
            if self.running.pop(invocation.request_id, None) is not None:
                self.queue.appendleft(invocation)
                self.lock.notify()

    def answered(self, request_id, outcome, document):
        with self.lock:
            invocation = self.running.pop(request_id, None)
            if invocation is None:
                return False
            if outcome == "error" and not isinstance(document, dict):
                document = {"errorType": "Runtime.Unknown", "errorMessage": str(document)}
            self.finish(invocation, outcome, document)
            return True

    def init_error(self, document):
        with self.lock:
            if self.queue:
                self.finish(self.queue.popleft(), "error", document)
            else:
                self.init_errors.append(document)


def answer(start_response, status, document, headers=()):
    body = json.dumps(document).encode()
    reason = {200: "OK", 429: "Too Many Requests"}.get(status, "Error")
    start_response(f"{status} {reason}", [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("X-Amz-Executed-Version", "$LATEST"),
        ("x-amzn-RequestId", str(uuid.uuid4())),  # moto's engine reads it from every error
        *headers,
    ])
    return [body]


def runtime_handler(service):
    class RuntimeApi(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path != f"{PREFIX}/invocation/next":
                return self.reply(404, {"errorMessage": f"no route {self.path}"})
            invocation = service.next_invocation(self.connected)
            if invocation is None:
                self.close_connection = True
                return
            if not self.connected():
                self.close_connection = True
                return service.undelivered(invocation)
            try:
                self.reply(200, invocation.body, {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int(invocation.deadline * 1000)),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                })
            except OSError:
                self.close_connection = True
                service.undelivered(invocation)

        def connected(self):
            """False once the process closed its end: a waiting client sends nothing, so a
            readable socket with nothing to read is one the peer hung up."""
            try:
                readable, _, _ = select.select([self.connection], [], [], 0)
                return not readable or self.connection.recv(1, socket.MSG_PEEK) != b""
            except OSError:
                return False

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                document = json.loads(body) if body else None
            except ValueError:
                document = {"unparsed": body.decode("utf-8", "replace")}
            if self.path == f"{PREFIX}/init/error":
                service.init_error(document if isinstance(document, dict) else {"errorType": "Runtime.InitError"})
                return self.reply(202, {"status": "OK"})
            match = re.fullmatch(rf"{PREFIX}/invocation/([^/]+)/(response|error)", self.path)
            if not match:
                return self.reply(404, {"errorMessage": f"no route {self.path}"})
            if not service.answered(match.group(1), match.group(2), document):
                return self.reply(400, {"errorMessage": "no such invocation in flight",
                                        "errorType": "InvalidRequestID"})
            self.reply(202, {"status": "OK"})

        def reply(self, status, document, headers=None):
            body = document if isinstance(document, bytes) else json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return RuntimeApi
