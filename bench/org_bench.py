"""`make bench-org`: the organisation sweep (a Step Functions Distributed Map, one invocation per
member account) against today's sequential multi-account sweep, on one seeded local organisation.

    .venv/bin/python bench/org_bench.py [--accounts 200] [--users 100] [--map-concurrency 10]
                                        [--iam-latency-ms 30] [--only map|sequential|alone]

The emulator (tests/emulator/emulator.py --step-functions, in-process moto) holds an
organisation of M member accounts (BENCH_ACCOUNTS), each with the member role and U IAM users
(BENCH_ORG_USERS): over-age-percent of them with an Active key over 90 days old, the rest young.
Each IAM and STS request waits --iam-latency-ms (30) before moto serves it, concurrent ones at
the same time, as IAM's own latency would. Before each run the emulator is reset and seeded
again from the same seed, and the function processes are new (no cached account modes).

1. map: the state machine template.yaml defines (OrgSweepStateMachine, its Definition with the
   function's ARN and the bucket org-sweep-bench substituted), run by moto's engine, its items
   and results in that bucket of the emulator's S3 (SWEEP_BUCKET); MAP_MAX_CONCURRENCY
   processes of the release bootstrap (`make build`) poll the emulator's Lambda Runtime API,
   and every Invoke the engine makes goes to one of them. Discovery walks Organizations
   (SWEEP_ORGANIZATION=on), each account's mode comes from its tags (ORG_MODE_TAGS=on).
2. sequential: one process, invoked once with an EventBridge Scheduled Event whose
   detail.accounts lists the M accounts (events/scheduled-sweep-accounts.json's shape).
3. alone: one process, one account: the sweep-account payload one Map item sends.

Prints, for each, the wall time (start of the execution or invoke to its end), accounts per
minute, AWS calls per account (as the emulator served them; Lambda Invoke not counted), peak
RSS of the largest process, and the ratio wall / ((M / concurrency) x alone): 1.0 would be a
perfect split of the accounts over the concurrent invocations. Writes target/bench/org.json.
"""

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep_bench import ROOT, Emulator, base_env, call_diff, log, proc_status, spawn, stop, stop_all  # noqa: E402

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:access-key-remediator"
CENTRAL = "123456789012"
MEMBER_ROLE = "access-key-remediator-member"
FIRST_MEMBER = 200000000000
# The template's OrgSweepBucket, here a fixed name in the emulator's S3 (created by each seed):
# discovery writes the items to it, the Map's ItemReader and ResultWriter read and write there.
SWEEP_BUCKET = "org-sweep-bench"


def state_machine_definition(template):
    """OrgSweepStateMachine's Definition from the template, substituted as CloudFormation would."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    resources = yaml.load(Path(template).read_text(), Loader=Loader)["Resources"]
    if "OrgSweepStateMachine" not in resources:
        raise SystemExit(f"{template} has no OrgSweepStateMachine")
    text = json.dumps(resources["OrgSweepStateMachine"]["Properties"]["Definition"])
    substitutions = {"${Partition}": "aws", "${RemediatorFunctionArn}": FUNCTION_ARN, "${SweepBucket}": SWEEP_BUCKET}
    for name, value in substitutions.items():
        text = text.replace(name, value)
    return json.loads(text)


def members(count):
    return [str(FIRST_MEMBER + n) for n in range(count)]


def seed(emulator, args, accounts):
    """A fresh organisation of `accounts`, each with the member role and its users."""
    started = time.perf_counter()
    emulator.command("reset")
    emulator.command("s3_bucket", name=SWEEP_BUCKET)
    emulator.command("organization", accounts=[
        {"id": account, "name": f"member-{n:04d}", "unit": "root", "memberRole": {"name": MEMBER_ROLE}}
        for n, account in enumerate(accounts)
    ])
    for account in accounts:
        emulator.command("seed", account=account, population={
            "users": args.users, "overAgePercent": args.over_age_percent,
            "pendingPercent": args.pending_percent, "seed": args.seed,
        })
    log(f"seeded {len(accounts)} accounts x {args.users} users in {time.perf_counter() - started:.1f} s")


def function_env(args, runtime_api, endpoint):
    env = base_env()
    env.update(
        AWS_LAMBDA_RUNTIME_API=runtime_api,
        AWS_LAMBDA_FUNCTION_NAME="access-key-remediator",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_LOG_FORMAT="JSON",
        AWS_ENDPOINT_URL=endpoint,
        AWS_RETRY_MODE="adaptive",
        AWS_MAX_ATTEMPTS="8",
        REMEDIATION_MODE="delete",
        MAX_ACTIONS_PER_INVOCATION="100000",
        MEMBER_ROLE_NAME=MEMBER_ROLE,
        SWEEP_ORGANIZATION="on",
        SWEEP_EXCLUDE=CENTRAL,  # the management account holds no users here
        ORG_MODE_TAGS="on",
        MAP_MAX_CONCURRENCY=str(args.map_concurrency),
        FAILURE_TOLERANCE_PERCENT="10",
        SWEEP_BUCKET=SWEEP_BUCKET,
    )
    return env


class Functions:
    """`count` processes of the bootstrap, all polling the emulator's runtime API."""

    def __init__(self, args, emulator, count, work, name):
        runtime = emulator.command("lambda_runtime")["runtimeApi"]
        env = function_env(args, runtime, emulator.endpoint)
        self.logs = [work / f"{name}-function-{n}.log" for n in range(count)]
        self.processes = [
            spawn([ROOT / args.bootstrap], env=env, stdin=subprocess.DEVNULL,
                  stdout=open(path, "w"), stderr=subprocess.STDOUT, cwd=ROOT)
            for path in self.logs
        ]
        deadline = time.monotonic() + 30
        while emulator.command("lambda_runtime")["polling"] < count:
            if any(p.poll() is not None for p in self.processes):
                raise SystemExit(f"a function process exited at init; logs: {self.logs}")
            if time.monotonic() > deadline:
                raise SystemExit("the function processes are not polling the runtime API")
            time.sleep(0.05)

    def peak_rss_kib(self):
        return max((proc_status(p.pid)[0] for p in self.processes if p.poll() is None), default=None)

    def close(self):
        for process in self.processes:
            stop(process)


def invoke(endpoint, payload, timeout):
    """One Lambda Invoke through the emulator, as any caller makes it: (outcome, answer)."""
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("POST", "/2015-03-31/functions/access-key-remediator/invocations",
                           body=json.dumps(payload), headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        body = json.loads(response.read() or b"null")
        return ("error" if response.getheader("X-Amz-Function-Error") else "response"), body
    finally:
        connection.close()


def measured(emulator, functions, run):
    calls_before = emulator.calls()
    emulator_cpu = proc_status(emulator.process.pid)[1]
    started = time.perf_counter()
    outcome = run()
    wall = time.perf_counter() - started
    calls = call_diff(calls_before, emulator.calls())
    calls.pop("Invoke", None)
    return {"wallSeconds": wall, "calls": calls, "peakRssKiB": functions.peak_rss_kib(),
            "emulatorCpuSeconds": proc_status(emulator.process.pid)[1] - emulator_cpu, **outcome}


def run_map(args, emulator, work):
    seed(emulator, args, members(args.accounts))
    arn = emulator.command("state_machine", name="org-sweep", definition=state_machine_definition(args.template))["arn"]
    functions = Functions(args, emulator, args.map_concurrency, work, "map")

    def execute():
        execution = emulator.command("start_execution", arn=arn, input={})["executionArn"]
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            state = emulator.command("execution", executionArn=execution)
            if state["status"] != "RUNNING":
                return {"status": state["status"], "summary": state.get("output"),
                        "error": state.get("error"), "cause": state.get("cause")}
            time.sleep(0.2)
        return {"status": "TIMED_OUT"}

    try:
        result = measured(emulator, functions, execute)
    finally:
        functions.close()
    invocations = emulator.command("invocations")["invocations"]
    discovered = next((i["answer"] for i in invocations if i["outcome"] == "response"
                       and i["payload"].get("remediator") == "discover-accounts"), {})
    result["concurrency"] = discovered.get("maxConcurrency") or args.map_concurrency
    result["invocations"] = {outcome: sum(1 for i in invocations if i["outcome"] == outcome)
                             for outcome in ("response", "error", "throttled")}
    return result


def run_sequential(args, emulator, work):
    accounts = members(args.accounts)
    seed(emulator, args, accounts)
    event = json.loads((ROOT / "events/scheduled-sweep-accounts.json").read_text())
    event["detail"]["accounts"] = accounts
    functions = Functions(args, emulator, 1, work, "sequential")
    try:
        result = measured(emulator, functions, lambda: answer_of(invoke(emulator.endpoint, event, args.timeout)))
    finally:
        functions.close()
    result["concurrency"] = 1
    return result


def run_alone(args, emulator, work):
    account = members(1)[0]
    seed(emulator, args, [account])
    functions = Functions(args, emulator, 1, work, "alone")
    payload = {"remediator": "sweep-account", "account": account, "mode": "delete"}
    try:
        result = measured(emulator, functions, lambda: answer_of(invoke(emulator.endpoint, payload, args.timeout)))
    finally:
        functions.close()
    result["concurrency"] = 1
    return result


def answer_of(invoked):
    outcome, body = invoked
    if outcome == "error":
        return {"status": "FAILED", "error": body}
    return {"status": "SUCCEEDED", "summary": shorten(body)}


def shorten(body):
    if not isinstance(body, dict):
        return body
    return {k: (f"[{len(v):,} items]" if isinstance(v, list) and len(v) > 5 else v) for k, v in body.items()}


def table(runs, args):
    alone = (runs.get("alone") or {}).get("wallSeconds")
    rows = [("", "wall (s)", "accounts/min", "calls/account", "peak RSS (MiB)", "emulator CPU (s)",
             "wall ÷ ideal", "status")]
    for name, run in runs.items():
        if run is None:
            continue
        accounts = 1 if name == "alone" else args.accounts
        wall = run["wallSeconds"]
        ideal = accounts / run["concurrency"] * alone if alone else None
        run["idealSeconds"] = ideal
        run["ratioToIdeal"] = wall / ideal if ideal else None
        run["accountsPerMinute"] = accounts / wall * 60
        run["callsPerAccount"] = sum(run["calls"].values()) / accounts
        rss = run.get("peakRssKiB")
        rows.append((
            f"{name} (x{run['concurrency']})", f"{wall:.2f}", f"{run['accountsPerMinute']:.1f}",
            f"{run['callsPerAccount']:.1f}", "-" if rss is None else f"{rss / 1024:.1f}",
            f"{run['emulatorCpuSeconds']:.1f}",
            "-" if ideal is None else f"{run['ratioToIdeal']:.2f}", run["status"],
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  " + f"{row[0]:<{widths[0]}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(row[1:], widths[1:])))
        if n == 0:
            print("  " + "-" * (sum(widths) + 2 * len(widths)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=int(os.environ.get("BENCH_ACCOUNTS") or 200))
    parser.add_argument("--users", type=int, default=int(os.environ.get("BENCH_ORG_USERS") or 100))
    parser.add_argument("--over-age-percent", type=float, default=10)
    parser.add_argument("--pending-percent", type=float, default=0)
    parser.add_argument("--seed", type=int, default=1, help="the population's random seed")
    parser.add_argument("--map-concurrency", type=int, default=int(os.environ.get("MAP_MAX_CONCURRENCY") or 10))
    parser.add_argument("--iam-latency-ms", type=int, default=int(os.environ.get("BENCH_IAM_LATENCY_MS") or 30))
    parser.add_argument("--bootstrap", default="target/lambda/access-key-remediator/bootstrap")
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    parser.add_argument("--only", choices=("map", "sequential", "alone"), action="append",
                        help="run only these (repeatable); alone is needed for the ratio")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds a run may take")
    parser.add_argument("--output", default="target/bench/org.json")
    args = parser.parse_args()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)

    work = Path(tempfile.mkdtemp(prefix="org-bench-"))
    log(f"logs in {work}")
    chosen = args.only or ["alone", "map", "sequential"]
    runs = {}
    emulator = Emulator(work / "emulator.log", True, args.iam_latency_ms, ["--step-functions"])
    try:
        for name, run in (("alone", run_alone), ("map", run_map), ("sequential", run_sequential)):
            if name in chosen:
                log(f"{name}: running")
                runs[name] = run(args, emulator, work)
                log(f"{name}: {runs[name]['status']} in {runs[name]['wallSeconds']:.1f} s")
    finally:
        emulator.close()
        stop_all()

    print(f"\nOrganisation sweep of {args.accounts} member accounts x {args.users} IAM users "
          f"({args.over_age_percent:g}% over-age), {args.iam_latency_ms} ms per IAM/STS request, "
          f"on the local moto emulator\n")
    table({name: runs.get(name) for name in ("map", "sequential", "alone")}, args)
    print("\n  ideal = (accounts / concurrency) x alone. Calls are AWS API calls the emulator served,\n"
          "  Lambda Invoke excluded; peak RSS is the largest function process's. The emulator serves\n"
          "  one request at a time (plus moto's state machine engine): when its CPU time nears the\n"
          "  wall time, the emulator, not the function, is what bounds the run.")
    for name, run in runs.items():
        if run["status"] != "SUCCEEDED":
            print(f"\n{name}: {run['status']}: {json.dumps(run.get('error'))[:600]} {run.get('cause') or ''}")
    if "map" in runs and runs["map"].get("summary"):
        print("\nmap, the summary:\n  " + json.dumps(shorten(runs["map"]["summary"]), indent=2).replace("\n", "\n  "))

    output = ROOT / args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    report = {"accounts": args.accounts, "usersPerAccount": args.users, "overAgePercent": args.over_age_percent,
              "iamLatencyMs": args.iam_latency_ms, "mapMaxConcurrency": args.map_concurrency,
              "runs": runs, "logs": str(work)}
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.output}; logs in {work}")
    return 0 if all(run["status"] == "SUCCEEDED" for run in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
