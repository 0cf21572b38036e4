"""The control channel of the test tools here (emulator, fault proxy, runtime API): one JSON
command per line on stdin, one JSON answer per line on stdout, until end of input or
{"op": "shutdown"}. A test that dies closes stdin, and so takes its tools with it."""

import json
import sys


def serve(handle):
    """Answers each command with {"ok": true, **handle(command)}, or with {"ok": false, "error"}
    when handle raises, so that the test can show the message."""
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            command = json.loads(line)
            if command.get("op") == "shutdown":
                break
            reply = {"ok": True, **handle(command)}
        except Exception as error:  # the test reads the message
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)
