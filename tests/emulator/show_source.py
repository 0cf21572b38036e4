"""Prints what a remediation report (the function's JSON response, on stdin) says beyond its
keys: the Config rule or finding that named the user and why it was acted on or ignored, the
update written back to a Security Hub finding, any warning, and the AWS calls the invocation
made. Prints nothing for anything that is not a report (show_report.py prints that)."""

import json
import sys


def main():
    try:
        report = json.loads(sys.stdin.read())
        calls = report["apiCalls"]
    except (ValueError, KeyError, TypeError):
        return
    source = report.get("source")
    if source:
        subject = f" {source['subject']}" if "subject" in source else ""
        print(f"  source: {source['kind']}{subject} {source['id']}")
        if "recognised" in source:
            print(f"    {source['recognised']}")
        update = source.get("findingUpdate")
        if update:
            written = "written" if update["written"] else "not written"
            status = update.get("status", "no update")
            reason = f" ({update['reason']})" if "reason" in update else ""
            print(f"  finding update: {status}, {written}{reason}")
            if "note" in update:
                print(f"    note: {update['note']}")
    for warning in report.get("warnings", []):
        print(f"  warning: {warning}")
    total = sum(calls.values())
    listed = ", ".join(f"{operation}={n}" for operation, n in sorted(calls.items()))
    print(f"  AWS calls: {total}{f' ({listed})' if listed else ''}")


if __name__ == "__main__":
    main()
