"""`make bench`: our scheduled sweep against Cloud Custodian, on the same seeded local account.

    .venv/bin/python bench/sweep_bench.py [--users 10000] [--only ours|custodian] [--iam-latency-ms 30]

1. Seeds the emulator (tests/emulator/emulator.py, in-process moto) with N users: 10% with an
   Active key over 90 days old, 2% with an Inactive over-age key marked as deactivated 20
   days ago (past the 14-day grace period), the rest with a young key. With --iam-latency-ms N
   (`make bench`: BENCH_IAM_LATENCY_MS, default 30) each IAM and STS request waits N ms before
   moto serves it, concurrent requests at the same time, as IAM's own latency would.
2. Ours: the release bootstrap (`make build`) polls a runtime API started by
   `cargo lambda watch --only-lambda-apis`, exactly as Lambda runs it, and is invoked once
   with events/scheduled-sweep.json through `cargo lambda invoke`.
3. A fresh emulator with the same seed (same users, same kinds, same ages).
4. Custodian: `custodian run` of bench/custodian-policy.yml from its own venv (.venv-bench),
   with AWS_ENDPOINT_URL pointing at the emulator.
5. Prints the two side by side and writes them to target/bench/sweep.json.

Measured for each: wall time (of the invoke; of the whole `custodian run` process, including
its Python start-up), API calls per operation as the emulator served them (so retries count,
and nothing either side reports about itself is trusted), the process's peak RSS (VmHWM of
the bootstrap; ru_maxrss of the custodian process from wait4) and its CPU time, and the key
states read back from the emulator: deactivated (Active before, Inactive after), deleted
(gone after), and any key within the age limit that was touched (must be 0).

Everything it starts runs in its own process group and is stopped on exit, Ctrl-C included.
"""

import argparse
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMULATOR = ROOT / "tests/emulator/emulator.py"
MAX_KEY_AGE_DAYS = 90

CHILDREN = []  # every process we started and have not stopped yet


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def spawn(command, **kwargs):
    """Starts a process as the leader of its own process group, so that stopping it also
    stops anything it started, and a Ctrl-C at the terminal reaches only us (we stop it)."""
    process = subprocess.Popen([str(part) for part in command], start_new_session=True, **kwargs)
    CHILDREN.append(process)
    return process


def stop(process, grace=5.0):
    if process in CHILDREN:
        CHILDREN.remove(process)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone
        if process.returncode is not None:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all():
    for process in reversed(list(CHILDREN)):
        stop(process)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what} on port {port}")


class RuntimeApiProxy:
    """Sits between the function and `cargo lambda watch`'s runtime API, forwarding every
    request unchanged except one header. cargo lambda 1.9.2 sends `Lambda-Runtime-Deadline-Ms:
    600000` (a duration, whatever --timeout says) where Lambda sends the deadline as Unix epoch
    milliseconds, so the function would see a deadline in 1970 and a sweep that watches its
    deadline would stop at once. The proxy sets it as Lambda does: now + deadline_seconds."""

    def __init__(self, upstream_port, deadline_seconds):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port)  # no timeout: /next long-polls
                try:
                    try:
                        upstream.request(self.command, self.path, body=body, headers=headers)
                        response = upstream.getresponse()
                        payload = response.read()
                    except (OSError, http.client.HTTPException):
                        # cargo lambda watch stopped (at the end of the run) under a pending poll.
                        try:
                            self.send_error(502)
                        except OSError:
                            pass
                        return
                    self.send_response(response.status, response.reason)
                    for name, value in response.getheaders():
                        lower = name.lower()
                        if lower in ("content-length", "transfer-encoding", "connection"):
                            continue
                        if lower == "lambda-runtime-deadline-ms":
                            proxy.upstream_deadline = value
                            value = str(int((time.time() + deadline_seconds) * 1000))
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = forward

            def log_message(self, *args):
                pass

        self.upstream_deadline = None
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Emulator:
    """tests/emulator/emulator.py --control: one JSON command per line on stdin."""

    def __init__(self, log_path, index_access_keys=True, iam_latency_ms=0, extra=()):
        self.log_file = open(log_path, "w")
        self.process = spawn(
            [sys.executable, EMULATOR, "--control", "--iam-latency-ms", iam_latency_ms, *extra]
            + (["--index-access-keys"] if index_access_keys else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log_file,
            text=True,
            cwd=ROOT,
        )
        ready = self.process.stdout.readline().strip()
        if not ready.startswith("READY "):
            raise SystemExit(f"the emulator did not start ({ready!r}); its log: {log_path}")
        self.endpoint = ready.split(" ", 1)[1]

    def command(self, op, **fields):
        self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        if not answer.pop("ok"):
            raise SystemExit(f"the emulator refused {op}: {answer['error']}")
        return answer

    def calls(self):
        return self.command("calls")["calls"]

    def key_states(self):
        return self.command("key_states")

    def close(self):
        try:
            self.process.stdin.write(json.dumps({"op": "shutdown"}) + "\n")
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        stop(self.process)
        self.log_file.close()


def seeded_emulator(args, work, name):
    emulator = Emulator(work / f"{name}-emulator.log", not args.moto_key_scan, args.iam_latency_ms)
    started = time.perf_counter()
    population = {
        "users": args.users,
        "overAgePercent": args.over_age_percent,
        "pendingPercent": args.pending_percent,
        "seed": args.seed,
    }
    seeded = emulator.command("seed", population=population)["population"]
    log(
        f"{name}: emulator {emulator.endpoint} seeded in {time.perf_counter() - started:.1f} s: "
        f"{seeded['users']} users, {seeded['overAge']} over-age Active keys, "
        f"{seeded['pending']} Inactive keys past their grace period, {seeded['young']} young"
    )
    return emulator


def call_diff(before, after):
    diff = {op: after.get(op, 0) - before.get(op, 0) for op in after}
    return {op: n for op, n in sorted(diff.items()) if n}


def key_outcome(before, after):
    """What happened to the keys, from two in-process snapshots of the account."""
    after_by_id = {k["accessKeyId"]: k for k in after["keys"]}
    deactivated = deleted = young_touched = over_age_active_left = 0
    for key in before["keys"]:
        now = after_by_id.get(key["accessKeyId"])
        touched = False
        if now is None:
            deleted += 1
            touched = True
        elif key["status"] == "Active" and now["status"] == "Inactive":
            deactivated += 1
            touched = True
        elif now["status"] == "Active" and now["ageDays"] > MAX_KEY_AGE_DAYS:
            over_age_active_left += 1
        if touched and key["ageDays"] <= MAX_KEY_AGE_DAYS:
            young_touched += 1
    return {
        "deactivated": deactivated,
        "deleted": deleted,
        "youngKeysTouched": young_touched,
        "overAgeActiveKeysLeft": over_age_active_left,
        "markersBefore": before["markers"],
        "markersAfter": after["markers"],
    }


def shorten(response):
    """The response without its per-user detail: a long list becomes its length."""
    if not isinstance(response, dict):
        return response
    return {
        k: (f"[{len(v):,} items]" if isinstance(v, list) and len(v) > 5 else v)
        for k, v in response.items()
    }


def proc_status(pid):
    """Peak RSS (VmHWM, kB) and CPU seconds (user + system) of a live process."""
    with open(f"/proc/{pid}/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15)
    return hwm, cpu


def base_env():
    """A clean environment: none of the caller's AWS settings (profiles, real credentials)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        # cargo lambda watch invokes with a placeholder ARN: say which account is ours.
        AWS_ACCOUNT_ID="123456789012",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return env


def run_ours(args, work):
    result = {"tool": "access-key-remediator (scheduled sweep)"}
    emulator = seeded_emulator(args, work, "ours")
    try:
        before = emulator.key_states()
        port = args.runtime_port or free_port()
        watch_log = open(work / "ours-watch.log", "w")
        # --timeout: how long the runtime API lets an invoke wait for the function's answer.
        watch = spawn(
            ["cargo", "lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1",
             "--invoke-port", port, "--timeout", args.timeout],
            stdout=watch_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
        )
        wait_for_port(port, watch, "cargo lambda watch")
        proxy = RuntimeApiProxy(port, args.deadline)
        env = base_env()
        env.update(
            AWS_LAMBDA_RUNTIME_API=f"http://127.0.0.1:{proxy.port}/.rt",
            AWS_LAMBDA_FUNCTION_NAME="_",
            AWS_LAMBDA_FUNCTION_VERSION="1",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
            AWS_ENDPOINT_URL=emulator.endpoint,
            AWS_RETRY_MODE="adaptive",
            AWS_LAMBDA_LOG_FORMAT="JSON",
            REMEDIATION_MODE="delete",
            MAX_KEY_AGE_DAYS=str(MAX_KEY_AGE_DAYS),
            DELETE_AFTER_INACTIVE_DAYS="14",
            MAX_ACTIONS_PER_INVOCATION="100000",  # the cap must not cut the sweep short
        )
        function_log = work / "ours-function.log"
        function = spawn(
            [ROOT / args.bootstrap], env=env, stdin=subprocess.DEVNULL,
            stdout=open(function_log, "w"), stderr=subprocess.STDOUT, cwd=ROOT,
        )
        time.sleep(0.5)  # INIT (a few ms) and the first poll for an event
        if function.poll() is not None:
            raise SystemExit(f"the function exited at init; its log: {function_log}")

        calls_before = emulator.calls()
        log(f"ours: invoking with {args.event} (function log: {function_log})")
        started = time.perf_counter()
        invoke = subprocess.run(
            ["cargo", "lambda", "invoke", "_", "--invoke-address", "127.0.0.1",
             "--invoke-port", str(port), "--data-file", args.event, "--output-format", "json"],
            capture_output=True, text=True, cwd=ROOT, timeout=float(args.timeout) + 60,
        )
        result["wallSeconds"] = time.perf_counter() - started
        result["calls"] = call_diff(calls_before, emulator.calls())
        if function.poll() is None:
            result["peakRssKiB"], result["cpuSeconds"] = proc_status(function.pid)
        else:
            result["error"] = f"the function exited with {function.returncode}"
        stop(function)
        stop(watch)
        proxy.close()
        watch_log.close()
        result["runtimeApiDeadlineHeader"] = {
            "fromCargoLambdaWatch": proxy.upstream_deadline,
            "givenToTheFunction": f"invocation start + {args.deadline} s",
        }

        if invoke.returncode == 0:
            try:
                response = json.loads(invoke.stdout)
            except json.JSONDecodeError:
                response = {"unparsed": invoke.stdout}
            result["response"] = shorten(response)
        else:
            result["error"] = (invoke.stderr or invoke.stdout).strip()[-2000:]
        result["keys"] = key_outcome(before, emulator.key_states())
        return result
    finally:
        emulator.close()


def run_custodian(args, work):
    result = {"tool": f"Cloud Custodian ({args.custodian})"}
    emulator = seeded_emulator(args, work, "custodian")
    try:
        before = emulator.key_states()
        output_dir = work / "custodian-output"
        env = base_env()
        env["AWS_ENDPOINT_URL"] = emulator.endpoint  # boto3 honours it for every service
        custodian_log = work / "custodian.log"
        calls_before = emulator.calls()
        log(f"custodian: running {args.policy} (log: {custodian_log})")
        started = time.perf_counter()
        # --cache-period 0: c7n otherwise caches resources in ~/.cache for 15 minutes, and a
        # second run would skip ListUsers/GetUser/ListAccessKeys.
        process = spawn(
            [ROOT / args.custodian, "run", "-s", output_dir, "--cache-period", "0",
             ROOT / args.policy, "--region", "us-east-1"],
            env=env, stdin=subprocess.DEVNULL, stdout=open(custodian_log, "w"),
            stderr=subprocess.STDOUT, cwd=ROOT,
        )
        watchdog = threading.Timer(float(args.timeout), kill_group, args=(process,))
        watchdog.daemon = True
        watchdog.start()
        try:
            # wait4 gives this process's own rusage: its peak RSS, not the emulator's.
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        result["wallSeconds"] = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stop(process)
        result["calls"] = call_diff(calls_before, emulator.calls())
        result["peakRssKiB"] = usage.ru_maxrss
        result["cpuSeconds"] = usage.ru_utime + usage.ru_stime
        if process.returncode != 0:
            tail = custodian_log.read_text()[-2000:]
            result["error"] = f"custodian exited with {process.returncode}: {tail}"
        matched = sorted(output_dir.glob("*/resources.json"))
        if matched:
            result["usersMatched"] = sum(len(json.loads(p.read_text())) for p in matched)
        result["keys"] = key_outcome(before, emulator.key_states())
        return result
    finally:
        emulator.close()


def ratio(custodian, ours):
    if custodian is None or not ours:
        return None
    return custodian / ours


def compare(ours, custodian):
    def total(side):
        return sum(side["calls"].values()) if side and "calls" in side else None

    def get(side, *path):
        for part in path:
            if not isinstance(side, dict) or part not in side:
                return None
            side = side[part]
        return side

    rows = [
        ("wall time (s)", "wallSeconds", lambda v: f"{v:.2f}"),
        ("CPU time of the process (s)", "cpuSeconds", lambda v: f"{v:.2f}"),
        ("total API calls", None, lambda v: f"{v:,}"),
    ]
    table, ratios = [], {}
    for label, key, fmt in rows:
        a = total(ours) if key is None else get(ours, key)
        b = total(custodian) if key is None else get(custodian, key)
        r = ratio(b, a)
        ratios[key or "totalApiCalls"] = r
        table.append((label, a, b, r, fmt))
    operations = sorted(set(get(ours, "calls") or {}) | set(get(custodian, "calls") or {}))
    for op in operations:
        a = (get(ours, "calls") or {}).get(op, 0) if ours else None
        b = (get(custodian, "calls") or {}).get(op, 0) if custodian else None
        r = ratio(b, a)
        ratios[f"calls.{op}"] = r
        table.append((f"  {op}", a, b, r, lambda v: f"{v:,}"))
    a, b = get(ours, "peakRssKiB"), get(custodian, "peakRssKiB")
    ratios["peakRss"] = ratio(b, a)
    table.append(("peak RSS (MiB)", a, b, ratios["peakRss"], lambda v: f"{v / 1024:.1f}"))
    for label, key in (
        ("keys deactivated", "deactivated"),
        ("keys deleted", "deleted"),
        ("over-age Active keys left", "overAgeActiveKeysLeft"),
        ("keys within the limit touched", "youngKeysTouched"),
        ("marker tags after (before)", None),
    ):
        if key is None:
            def markers(side):
                keys = get(side, "keys")
                return f"{keys['markersAfter']:,} ({keys['markersBefore']:,})" if keys else None

            table.append((label, markers(ours), markers(custodian), None, str))
            continue
        a, b = get(ours, "keys", key), get(custodian, "keys", key)
        table.append((label, a, b, None, lambda v: f"{v:,}"))
    return table, ratios


def print_table(table):
    def cell(value, fmt):
        return "-" if value is None else fmt(value)

    header = ("", "ours", "Custodian", "Custodian ÷ ours")
    lines = [
        (label, cell(a, fmt), cell(b, fmt), "-" if r is None else f"{r:.2f}×")
        for label, a, b, r, fmt in table
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(4)]
    for n, row in enumerate([header, *lines]):
        print(f"  {row[0]:<{widths[0]}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(row[1:], widths[1:])))
        if n == 0:
            print("  " + "-" * (sum(widths) + 6))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=int(os.environ.get("BENCH_USERS") or 10000))
    parser.add_argument("--over-age-percent", type=float, default=10)
    parser.add_argument("--pending-percent", type=float, default=2)
    parser.add_argument("--seed", type=int, default=1, help="the population's random seed")
    parser.add_argument("--bootstrap", default="target/lambda/access-key-remediator/bootstrap")
    parser.add_argument("--event", default="events/scheduled-sweep.json")
    parser.add_argument("--custodian", default=".venv-bench/bin/custodian")
    parser.add_argument("--policy", default="bench/custodian-policy.yml")
    parser.add_argument("--only", choices=("ours", "custodian"), help="run one side only")
    parser.add_argument("--runtime-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--timeout", default="900", help="seconds either side may take")
    parser.add_argument("--deadline", type=int, default=900,
                        help="the function's Lambda deadline, seconds after the invoke (900 = Lambda's maximum)")
    parser.add_argument("--output", default="target/bench/sweep.json")
    parser.add_argument("--iam-latency-ms", type=int, default=int(os.environ.get("BENCH_IAM_LATENCY_MS") or 0),
                        help="each IAM and STS request waits this long in the emulator")
    parser.add_argument("--moto-key-scan", action="store_true",
                        help="keep moto's O(users) GetAccessKeyLastUsed (the emulator's --index-access-keys is off)")
    args = parser.parse_args()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)

    work = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    log(f"logs in {work}")
    ours = custodian = None
    try:
        if args.only != "custodian":
            ours = run_ours(args, work)
        if args.only != "ours":
            custodian = run_custodian(args, work)
    finally:
        stop_all()

    table, ratios = compare(ours, custodian)
    print(f"\nSweep of {args.users:,} IAM users ({args.over_age_percent:g}% with an over-age Active key, "
          f"{args.pending_percent:g}% Inactive past the grace period), on the local moto emulator "
          f"({args.iam_latency_ms} ms per IAM request)\n")
    print_table(table)
    print(
        "\n  Wall times are against moto on this machine (a few ms a call; IAM takes longer and\n"
        "  throttles), so calls per operation carry over to AWS better than seconds do. Peak RSS\n"
        "  and CPU time are each tool's own process; the emulator's are not included."
    )
    for name, side in (("ours", ours), ("Custodian", custodian)):
        if side and "error" in side:
            print(f"\n{name} failed: {side['error']}")
    if ours and "response" in ours:
        print("\nours, the function's response (lists shortened to their length):")
        print("  " + json.dumps(ours["response"], indent=2).replace("\n", "\n  "))
    if custodian and "usersMatched" in custodian:
        print(f"\nCustodian matched {custodian['usersMatched']:,} users.")

    output = ROOT / args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "population": {
            "users": args.users, "overAgePercent": args.over_age_percent,
            "pendingPercent": args.pending_percent, "seed": args.seed,
        },
        "iamLatencyMs": args.iam_latency_ms,
        "ours": ours,
        "custodian": custodian,
        "ratiosCustodianOverOurs": ratios,
        "logs": str(work),
    }
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.output}; logs in {work}")
    return 1 if any(side and "error" in side for side in (ours, custodian)) else 0


if __name__ == "__main__":
    sys.exit(main())
