"""Prints the access keys and remediator tags of some IAM users, as IAM reports them.

    python show_keys.py ENDPOINT USER [USER ...]

A key's grace clock (when the function deactivated it) is read from either format the
function reads: its entry in the user's state tag, or a tag of its own (the first format,
which the function folds into the state tag on its next write; marked "per-key").
"""

import sys
from datetime import datetime, timezone

import boto3

# The function's grace clocks (src/domain/marker.rs): one state tag per user whose value is
# space-separated <AccessKeyId>=<RFC 3339> entries, and the first format's tag per key.
STATE_TAG = "access-key-remediator:state"
MARKER_PREFIX = "access-key-remediator:deactivated:"


def grace_clock(tags, key_id):
    """The clock the tags record for the key, and in which format; the state tag's wins."""
    for entry in tags.get(STATE_TAG, "").split():
        key, _, at = entry.partition("=")
        if key == key_id:
            return at
    if MARKER_PREFIX + key_id in tags:
        return f"{tags[MARKER_PREFIX + key_id]} (per-key)"
    return "-"


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
    print(f"  {'user':<8} {'access key':<22} {'status':<9} {'age':>5} {'last used':>10}  grace clock (deactivated at)")
    for user in users:
        try:
            keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        except iam.exceptions.NoSuchEntityException:
            print(f"  {user:<8} (no such user)")
            continue
        tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user)["Tags"]}
        exempt = next((v for k, v in tags.items() if k.lower() == "access-key-remediator:exempt"), None)
        if not keys:
            print(f"  {user:<8} (no access keys)")
        for key in keys:
            key_id = key["AccessKeyId"]
            age = (now - key["CreateDate"]).days
            used = iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"]
            last_used = f"{(now - used['LastUsedDate']).days}d ago" if "LastUsedDate" in used else "never"
            clock = grace_clock(tags, key_id)
            note = f"  exempt={exempt}" if exempt else ""
            print(f"  {user:<8} {key_id:<22} {key['Status']:<9} {age:>4}d {last_used:>10}  {clock}{note}")


if __name__ == "__main__":
    main()
