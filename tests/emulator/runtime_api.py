"""Minimal Lambda Runtime APIs for tests that run the real function binary: one API per
function process, so each process is its own Lambda execution environment, and events can
be handed to several processes at the same instant. Standard library only.

    python runtime_api.py --functions N

Prints `READY http://127.0.0.1:P1 http://127.0.0.1:P2 ...` (one base URL per function, for
its AWS_LAMBDA_RUNTIME_API) once it serves. Reads one JSON command per line on stdin, answers
one JSON line on stdout, and exits at end of input. Commands:

    {"op": "invoke", "payloads": [PAYLOAD or null, ...], "timeoutSeconds"?: 120}
        waits until every function given a payload is polling for its next event, hands each
        its payload at once (null: that function gets nothing), and answers when all have
        answered: {"results": [{"response": REPORT} | {"error": {"errorType", "errorMessage"}}
        | null, ...], "releaseSpreadMs"}. An init error counts as that function's answer.

It serves what the Rust runtime (lambda_runtime) calls: GET /2018-06-01/runtime/invocation/next,
POST .../invocation/{id}/response and .../invocation/{id}/error, and POST .../init/error.
"""

import argparse
import json
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import control

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:access-key-remediator"


class Function:
    """One function process's side of the API: its pending event and its answers."""

    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.polling = threading.Event()


def handler_for(function):
    class RuntimeApi(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path != f"{PREFIX}/invocation/next":
                return self.reply(404, {"errorMessage": f"no route {self.path}"})
            function.polling.set()
            request_id, payload = function.events.get()
            function.polling.clear()
            deadline_ms = int((time.time() + 300) * 1000)
            self.reply(200, payload, {
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
            })

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                document = json.loads(body) if body else None
            except ValueError:
                document = {"unparsed": body.decode("utf-8", "replace")}
            if self.path.endswith("/response"):
                function.answers.put({"response": document})
            elif self.path.endswith("/error"):
                function.answers.put({"error": document})
            else:
                return self.reply(404, {"errorMessage": f"no route {self.path}"})
            self.reply(202, {"status": "OK"})

        def reply(self, status, document, headers=None):
            body = json.dumps(document).encode()
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


def invoke(functions, payloads, timeout):
    if len(payloads) != len(functions):
        raise ValueError(f"{len(payloads)} payloads for {len(functions)} functions")
    chosen = [(f, p) for f, p in zip(functions, payloads) if p is not None]
    deadline = time.monotonic() + timeout
    for function, _ in chosen:
        if not function.polling.wait(max(0.0, deadline - time.monotonic())):
            raise TimeoutError("a function is not polling for events")
    released = []
    for function, payload in chosen:
        function.events.put((str(uuid.uuid4()), payload))
        released.append(time.perf_counter())
    results = []
    for function, payload in zip(functions, payloads):
        if payload is None:
            results.append(None)
            continue
        results.append(function.answers.get(timeout=max(0.0, deadline - time.monotonic())))
    spread = (released[-1] - released[0]) * 1000 if released else 0.0
    return {"results": results, "releaseSpreadMs": round(spread, 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=1)
    args = parser.parse_args()

    functions, urls = [], []
    for _ in range(args.functions):
        function = Function()
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(function))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        functions.append(function)
        urls.append(f"http://127.0.0.1:{server.server_address[1]}")
    print("READY " + " ".join(urls), flush=True)

    def handle(command):
        if command.get("op") != "invoke":
            raise ValueError(f"unknown op {command.get('op')!r}")
        return invoke(functions, command["payloads"], command.get("timeoutSeconds", 120))

    control.serve(handle)


if __name__ == "__main__":
    main()
