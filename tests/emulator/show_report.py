"""Prints a remediation report (the function's JSON response, on stdin) one line per key.
Anything that is not a report, such as an invocation error, is printed as it came."""

import json
import sys


def main():
    text = sys.stdin.read()
    try:
        report = json.loads(text)
        users = report["users"]
    except (ValueError, KeyError, TypeError):
        print(text.strip())
        return
    reason = f"  reason: {report['reason']}" if "reason" in report else ""
    print(f"outcome={report['outcome']} mode={report['mode']}{reason}")
    for user in users:
        for key in user["keys"]:
            print(f"  {user['userName']:<6} {key['accessKeyId']}  {key['action']:<12} {key['reason']}")
    counts = ", ".join(f"{action}={n}" for action, n in report["summary"].items() if n)
    print(f"  summary: {counts or 'nothing'}")


if __name__ == "__main__":
    main()
