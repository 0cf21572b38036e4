"""The emulator's AWS Organizations: an organisation whose management account is the default
account (123456789012), with the units and member accounts a test names, each account under
the id the test chooses (moto's CreateAccount draws one at random) and in the state it asks
for (both of moto's fields: `Status`, AWS's deprecated one, and `State`), and a member role in
that account's IAM. Written into moto's backend in-process, so none of it counts as a call.
Also the AssumeRole denials `deny_assume_role` sets. emulator.py documents the ops."""

import json
import re
from contextlib import contextmanager

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends
from moto.organizations import utils as org_utils
from moto.organizations.models import organizations_backends

CEILING_TAG = "access-key-remediator:ceiling"
STATES = ("ACTIVE", "SUSPENDED", "PENDING_CLOSURE")
ROLE_ACCOUNT = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):")

_denied = set()  # accounts every AssumeRole into is refused


def backend():
    return organizations_backends[DEFAULT_ACCOUNT_ID]["aws"]


def reset():
    organizations_backends.reset()
    organizations_backends.master_accounts.clear()
    _denied.clear()


def handle(op, command):
    if op == "organization":
        return organization(command.get("units", []), command.get("accounts", []))
    if op == "org_tag":
        tags = [{"Key": k, "Value": v} for k, v in command["tags"].items()]
        backend().tag_resource(ResourceId=command["id"], Tags=tags)
        return {}
    if op == "deny_assume_role":
        _denied.add(str(command["account"]))
        return {}
    raise ValueError(f"unknown op {op!r}")


def denies(action, query):
    """Whether an AssumeRole request (its parsed query) is into an account denied."""
    if action != "AssumeRole" or not _denied:
        return False
    match = ROLE_ACCOUNT.match((query.get("RoleArn") or [""])[0])
    return bool(match) and match.group(1) in _denied


def organization(units, accounts):
    org = backend()
    if org.org is None:
        org.create_organization("us-east-1", FeatureSet="ALL")
    root_id = org.org.root_id
    unit_ids = {unit.name: unit.id for unit in org.ou if unit.id != root_id}
    parent_of = lambda name: root_id if name in (None, "root") else unit_ids[name]
    for unit in units:
        if unit["name"] in unit_ids:
            raise ValueError(f"unit {unit['name']!r} already exists")
        created = org.create_organizational_unit(
            Name=unit["name"], ParentId=parent_of(unit.get("parent")), Tags=tag_list(unit.get("tags")))
        unit_ids[unit["name"]] = created["OrganizationalUnit"]["Id"]
    for spec in accounts:
        add_account(org, spec, parent_of(spec.get("unit")))
    names = {account.name: account.id for account in org.accounts}
    return {"rootId": root_id, "units": unit_ids, "accounts": names}


def add_account(org, spec, parent_id):
    account_id = str(spec["id"])
    if not re.fullmatch(r"\d{12}", account_id):
        raise ValueError(f"account id must be 12 digits, got {account_id!r}")
    state = spec.get("state", "ACTIVE")
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, got {state!r}")
    existing = next((a for a in org.accounts if a.id == account_id), None)
    if existing is None:
        with account_ids(account_id):
            org.create_account(AccountName=spec.get("name", account_id),
                               Email=f"{account_id}@example.com", Tags=tag_list(spec.get("tags")))
        account = org.get_account_by_id(account_id)
    else:
        account = existing
        if "name" in spec:
            account.name = spec["name"]
        account.tags.update(spec.get("tags") or {})
    account.parent_id = parent_id
    account.status = account.state = state
    role = spec.get("memberRole")
    if role:
        member_role(account_id, role["name"], role.get("ceiling"))


@contextmanager
def account_ids(account_id):
    """moto's CreateAccount, with `account_id` for the id it would draw at random."""
    original = org_utils.make_random_account_id
    org_utils.make_random_account_id = lambda: account_id
    try:
        yield
    finally:
        org_utils.make_random_account_id = original


def member_role(account_id, name, ceiling):
    iam = iam_backends[account_id]["global"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root"},
        "Action": "sts:AssumeRole"}]}
    tags = [{"Key": CEILING_TAG, "Value": ceiling}] if ceiling else []
    if any(role.name == name for role in iam.get_roles()):
        raise ValueError(f"account {account_id} already has a role {name!r}")
    iam.create_role(role_name=name, assume_role_policy_document=json.dumps(trust), path="/",
                    permissions_boundary=None, description="", tags=tags, max_session_duration="3600")


def tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
