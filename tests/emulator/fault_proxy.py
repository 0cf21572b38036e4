"""A fault-injecting HTTP proxy between the function's AWS SDK and the emulator: the SDK's
endpoint points here, and each request is forwarded to the emulator or, at a configured rate,
answered with a fault. Standard library only.

    python fault_proxy.py --upstream http://127.0.0.1:PORT [--port 0] [--rate 0.2] [--seed 1]

Prints `READY http://127.0.0.1:PORT` once it serves. Reads one JSON command per line on
stdin, answers one JSON line on stdout, and exits at end of input (so a test that dies takes
its proxy with it). Commands:

    {"op": "configure", "rate"?, "seed"?, "kinds"?: [KIND, ...], "slowSeconds"?: [min, max]}
        also restarts the fault sequence, so the same seed replays the same faults.
    {"op": "stats"}
        answers {"requests": {operation: n}, "faults": {KIND: {operation: n}}}, counted since
        start (or "reset_stats").
    {"op": "operations"}
        answers {"operations": [{"operation", "attempts", "lastFault"}]}: every SDK operation
        seen since the previous "operations" (an operation is all attempts of one call, which
        the SDK marks with the same amz-sdk-invocation-id header), with the fault its last
        attempt got, or null. An operation whose last attempt was an error fault failed for
        good: the SDK gave up on it.
    {"op": "reset_stats"}

KIND, each injected with IAM's real error shape (Config's JSON one for Config calls):

    throttling   400 Throttling "Rate exceeded"; not forwarded.
    http-500     500 ServiceFailure, after forwarding: the call was applied and its answer lost,
                 as when IAM fails after committing.
    http-503     503 ServiceUnavailable; not forwarded.
    drop-before  the connection is reset (TCP RST) before forwarding: the call never arrived.
    drop-after   forwarded, then the connection is reset before the answer: the call was
                 applied and the caller cannot know.
    slow         forwarded, and the answer held back for slowSeconds (default 1-3 s).

Which requests are faulted follows from the seed, not from arrival order: the decision for a
request is drawn from (seed, operation, UserName, how many such requests came before it). So
a run's faults repeat with its seed, up to the order of concurrent calls of one operation for
one user (access key ids are not part of it: moto draws them at random).
"""

import argparse
import http.client
import json
import random
import socket
import struct
import threading
import time
import uuid
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import control

KINDS = ("throttling", "http-500", "http-503", "drop-before", "drop-after", "slow")
ERROR_KINDS = {"throttling", "http-500", "http-503", "drop-before", "drop-after"}
# Hop-by-hop headers are the proxy's own business on each side.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}

IAM_ERRORS = {
    "throttling": (400, "Throttling", "Rate exceeded"),
    "http-500": (500, "ServiceFailure", "The request processing has failed because of an unknown error."),
    "http-503": (503, "ServiceUnavailable", "Service is unavailable. Try again later."),
}
JSON_ERRORS = {
    "throttling": (400, "ThrottlingException", "Rate exceeded"),
    "http-500": (500, "InternalFailure", "The request processing has failed because of an unknown error."),
    "http-503": (503, "ServiceUnavailableException", "Service is unavailable. Try again later."),
}


class Faults:
    """The configuration, the fault decisions and their counts; shared by handler threads."""

    def __init__(self, rate, seed, kinds, slow_seconds):
        self.lock = threading.Lock()
        self.configure(rate, seed, kinds, slow_seconds)
        self.reset_stats()
        self.operations = {}

    def configure(self, rate, seed, kinds, slow_seconds):
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        with self.lock:
            self.rate, self.seed, self.kinds = float(rate), seed, list(kinds)
            self.slow_seconds = tuple(slow_seconds)
            self.seen = Counter()

    def reset_stats(self):
        with self.lock:
            self.requests = Counter()
            self.faults = defaultdict(Counter)

    def decide(self, operation, user_name):
        """The fault for this request (or None) and, for `slow`, how long to hold it."""
        with self.lock:
            self.requests[operation] += 1
            occurrence = self.seen[(operation, user_name)]
            self.seen[(operation, user_name)] += 1
            rng = random.Random(f"{self.seed}|{operation}|{user_name}|{occurrence}")
            if not self.kinds or rng.random() >= self.rate:
                return None, 0.0
            kind = rng.choice(self.kinds)
            self.faults[kind][operation] += 1
            return kind, rng.uniform(*self.slow_seconds)

    def attempt(self, invocation_id, operation, fault):
        with self.lock:
            entry = self.operations.setdefault(
                invocation_id, {"operation": operation, "attempts": 0, "lastFault": None}
            )
            entry["attempts"] += 1
            entry["lastFault"] = fault if fault in ERROR_KINDS else None

    def take_operations(self):
        with self.lock:
            taken, self.operations = list(self.operations.values()), {}
            return taken

    def stats(self):
        with self.lock:
            return {
                "requests": dict(self.requests),
                "faults": {kind: dict(ops) for kind, ops in self.faults.items()},
            }


FAULTS = None
UPSTREAM = None


def operation_of(headers, body):
    """(operation, UserName) of an awsQuery (IAM) or awsJson (Config) request."""
    target = headers.get("X-Amz-Target")
    if target:
        try:
            user_name = json.loads(body or b"{}").get("UserName")
        except ValueError:
            user_name = None
        return target.rsplit(".", 1)[-1], user_name, True
    params = parse_qs(body.decode("utf-8", "replace"))
    first = lambda name: (params.get(name) or [None])[0]
    return first("Action") or "unknown", first("UserName"), False


class FaultyProxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the SDK keeps connections alive, so resets hit pooled ones

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        operation, user_name, is_json = operation_of(self.headers, body)
        fault, slow_for = FAULTS.decide(operation, user_name)
        invocation_id = self.headers.get("amz-sdk-invocation-id") or str(uuid.uuid4())
        FAULTS.attempt(invocation_id, operation, fault)

        if fault == "drop-before":
            return self.reset_connection()
        if fault in ("throttling", "http-503"):
            return self.error_response(fault, is_json)
        status, headers, answer = self.forward(body)
        if fault == "drop-after":
            return self.reset_connection()
        if fault == "http-500":
            return self.error_response(fault, is_json)
        if fault == "slow":
            time.sleep(slow_for)
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST

    def forward(self, body):
        connection = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def error_response(self, fault, is_json):
        request_id = str(uuid.uuid4())
        if is_json:
            status, code, message = JSON_ERRORS[fault]
            answer = json.dumps({"__type": code, "message": message}).encode()
            content_type = "application/x-amz-json-1.1"
        else:
            status, code, message = IAM_ERRORS[fault]
            answer = (
                '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
                f"<Type>{'Sender' if status < 500 else 'Receiver'}</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
                "</ErrorResponse>"
            ).encode()
            content_type = "text/xml"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def reset_connection(self):
        # SO_LINGER with a zero timeout makes close() send a RST: "connection reset by peer".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a reset connection's aftermath, and callers that hang up


def handle(command):
    op = command.get("op")
    if op == "configure":
        FAULTS.configure(
            command.get("rate", FAULTS.rate),
            command.get("seed", FAULTS.seed),
            command.get("kinds", FAULTS.kinds),
            command.get("slowSeconds", FAULTS.slow_seconds),
        )
        return {}
    if op == "stats":
        return FAULTS.stats()
    if op == "operations":
        return {"operations": FAULTS.take_operations()}
    if op == "reset_stats":
        FAULTS.reset_stats()
        return {}
    raise ValueError(f"unknown op {op!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="the emulator, http://HOST:PORT")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--seed", default="1")
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args()

    global FAULTS, UPSTREAM
    UPSTREAM = urlsplit(args.upstream)
    FAULTS = Faults(args.rate, args.seed, [k for k in args.kinds.split(",") if k], (1.0, 3.0))
    server = QuietServer((args.host, args.port), FaultyProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    print(f"READY http://{host}:{port}", flush=True)
    control.serve(handle)
    server.shutdown()


if __name__ == "__main__":
    main()
