"""Cold init time of the release bootstrap: from process spawn until it first polls the
Lambda runtime API for an event (GET /2018-06-01/runtime/invocation/next), which is the
moment Lambda's INIT phase ends. A minimal runtime API on 127.0.0.1 records that moment.

    python bench/cold_start.py target/lambda/access-key-remediator/bootstrap [RUNS]

Prints min / median / p95 / max over RUNS cold starts (default 30).
"""

import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

FIRST_POLL = threading.Event()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            FIRST_POLL.set()
        # Never hand out an event: the process is killed once it has polled.
        time.sleep(5)

    def log_message(self, *args):
        pass


def one_cold_start(bootstrap, port):
    FIRST_POLL.clear()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "access-key-remediator",
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
    }
    started = time.perf_counter()
    process = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    polled = FIRST_POLL.wait(timeout=10)
    elapsed = time.perf_counter() - started
    process.kill()
    process.wait()
    if not polled:
        raise SystemExit("the bootstrap never polled for an event")
    return elapsed * 1000


def main():
    bootstrap = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    one_cold_start(bootstrap, port)  # warm the page cache: Lambda's first start is not what we measure
    times = sorted(one_cold_start(bootstrap, port) for _ in range(runs))
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    print(
        f"cold init, spawn to first poll, {runs} runs: "
        f"min {times[0]:.1f} ms, median {statistics.median(times):.1f} ms, "
        f"p95 {p95:.1f} ms, max {times[-1]:.1f} ms"
    )
    server.shutdown()


if __name__ == "__main__":
    main()
