"""Prints the Security Hub findings of an account as GetFindings returns them: each one's
control, user, workflow status, and the note with who wrote it.

    python show_findings.py ENDPOINT
"""

import sys

import boto3


def main():
    client = boto3.client(
        "securityhub", endpoint_url=sys.argv[1], region_name="us-east-1",
        aws_access_key_id="demo", aws_secret_access_key="demo",
    )
    for finding in client.get_findings()["Findings"]:
        control = finding.get("Compliance", {}).get("SecurityControlId", finding["GeneratorId"])
        user = finding["Resources"][0]["Id"].rsplit("/", 1)[-1]
        workflow = finding.get("Workflow", {}).get("Status", "NEW")
        print(f"{control:<6} {user:<6} workflow={workflow}")
        note = finding.get("Note")
        if note:
            print(f"       note by {note['UpdatedBy']}: {note['Text']}")


if __name__ == "__main__":
    main()
