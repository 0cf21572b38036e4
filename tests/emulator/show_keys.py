"""Prints the access keys and remediator tags of some IAM users, as IAM reports them.

    python show_keys.py ENDPOINT USER [USER ...]
"""

import sys
from datetime import datetime, timezone

import boto3

MARKER_PREFIX = "access-key-remediator:deactivated:"


def main():
    endpoint, users = sys.argv[1], sys.argv[2:]
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )
    now = datetime.now(timezone.utc)
    print(f"  {'user':<8} {'access key':<22} {'status':<9} {'age':>5} {'last used':>10}  marker (deactivated at)")
    for user in users:
        try:
            keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        except iam.exceptions.NoSuchEntityException:
            print(f"  {user:<8} (no such user)")
            continue
        tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user)["Tags"]}
        exempt = tags.get("access-key-remediator:exempt")
        if not keys:
            print(f"  {user:<8} (no access keys)")
        for key in keys:
            key_id = key["AccessKeyId"]
            age = (now - key["CreateDate"]).days
            used = iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"]
            last_used = f"{(now - used['LastUsedDate']).days}d ago" if "LastUsedDate" in used else "never"
            marker = tags.get(MARKER_PREFIX + key_id, "-")
            note = f"  exempt={exempt}" if exempt else ""
            print(f"  {user:<8} {key_id:<22} {key['Status']:<9} {age:>4}d {last_used:>10}  {marker}{note}")


if __name__ == "__main__":
    main()
