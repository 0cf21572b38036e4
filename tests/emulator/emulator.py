r"""Local AWS for tests, the demo and benchmarks: moto's server, run in this process so that
it can also set what the real APIs cannot, such as a key's creation date or a fixed UserId.

    python emulator.py [--port 0] [--seed FILE]... [--control] [--index-access-keys]
                       [--step-functions] [--iam-latency-ms N]

Prints `READY http://127.0.0.1:PORT` once it serves. With --control it reads one JSON
command per line on stdin, answers one JSON line on stdout, and exits at end of input, so a
test that dies takes its emulator with it. Commands:

    {"op": "seed", "users": [USER, ...], "fillerUsers": N, "population"?: POPULATION}
        USER: {"name", "path"?, "userId"?, "tags"?: {k: v}, "exemptUntil"?,
               "keys"?: [{"ageDays", "status"?, "lastUsedDaysAgo"?, "markerDaysAgo"?}]}
        answers {"users": {name: {"userId", "keys": [accessKeyId, ...]}}}, plus
        {"population": {"users", "overAge", "pending", "young"}} when POPULATION is given.
        POPULATION (bulk seeding for benchmarks, written straight into moto's backend):
               {"users": N, "overAgePercent"?: 10, "pendingPercent"?: 2, "seed"?: 1,
                "namePrefix"?: "bench-user-", "path"?: "/bench/", "markerDaysAgo"?: 20}
        N users with one access key each: overAgePercent of them Active and 91-1000 days old;
        pendingPercent Inactive, 91-1000 days old, marked as deactivated markerDaysAgo days
        ago and last used before that; the rest Active and 1-89 days old. Which user gets
        which kind, and every age, follow from "seed": the same spec gives the same account
        (access key ids aside, which moto draws at random).
    "account"?: ACCOUNT_ID on "seed" seeds USERs and POPULATION into that account instead of
        the default one (123456789012); moto keeps one IAM per account and routes a request
        by its credentials, so a role assumed in that account (STS AssumeRole) acts there.
        POPULATION may also name its own "account".
    {"op": "account_state", "account"?}
        answers {"users": {name: {"keys": {accessKeyId: status}, "tags": {k: v}}}}: one
        account's users as they are now, read in-process (no API call).
    {"op": "assumed_roles", "account"}
        answers {"roles": [{"roleArn", "sessionName", "externalId"}]}: every STS AssumeRole
        into that account, in order.
    {"op": "key_states"}
        answers {"keys": [{"user", "accessKeyId", "status", "ageDays"}], "markers": N}: every
        access key in the account and the number of keys whose grace clock a remediator
        marker records (either format: a per-key tag, or an entry of the state tag), read
        in-process (no API call, so the call counts stay the function's own).
    {"op": "backdate", "accessKeyId", "ageDays", "lastUsedDaysAgo"?}
    {"op": "set_user_id", "userName", "userId"}
    {"op": "fail", "action", "times"?: 1, "status"?: 403, "code"?}
        the next `times` requests of `action` fail in the error shape of the action's
        protocol: IAM's XML (awsQuery: IAM, STS; code AccessDenied unless given), or the JSON
        protocols' {"__type": code, "message"} with the x-amzn-ErrorType header (awsJson:
        Config; REST-JSON: Security Hub, Access Analyzer; code AccessDeniedException unless
        given), or S3's XML <Error> (REST-XML: S3; code AccessDenied unless given).
    {"op": "contend", "actions"?: ["TagUser", "UntagUser"], "rate": 0.5, "seed"?: 1}
        from now on, `rate` of the requests of those actions are answered as IAM answers
        when another writer is changing the same user: HTTP 409 ConcurrentModification (IAM's
        XML error shape), and nothing applied. Which requests, follows from "seed" and the
        order the requests arrive in (one draw per request of those actions), so a test that
        makes its calls in a fixed order sees the same answers every run. "rate": 0 turns it
        off; so does reset. Those requests still count in `calls`.
    {"op": "contended"}
        answers {"contended": {Action: count}}: the ConcurrentModification answers served
        since the last contend or reset.
    {"op": "calls"}
        answers {"calls": {Action: count}}: every AWS API call served since start, counted
        at the server, so a test can prove what the function did and did not call. A
        REST-JSON call (Security Hub, Access Analyzer) counts under its operation's name, as
        its botocore model gives it for the request's method and path (BatchUpdateFindings).
        An S3 call counts under its operation's name, read from its method, path and query
        (CreateBucket, PutObject, GetObject, HeadObject, ListObjectsV2, DeleteObject, ...);
        those moto's state machine engine makes itself (its ItemReader's GetObject, its
        ResultWriter's PutObject) count apart, as "states:GetObject" and "states:PutObject".
    {"op": "config_rule", "name", "managed"?: true, "maxAccessKeyAge"?, "account"?}
        a Config rule for DescribeConfigRules: the AWS-managed ACCESS_KEYS_ROTATED named `name`
        (InputParameters {"maxAccessKeyAge": "90"} unless given), or with "managed": false a
        custom Lambda rule (CUSTOM_LAMBDA). Answers {"arn"}, the rule's ARN as Config made it.
    {"op": "import_finding", "finding": ASFF, "account"?}
        puts one finding into moto's Security Hub (as BatchImportFindings does, uncounted), so
        that BatchUpdateFindings finds it. Answers {"id"}.
    {"op": "security_hub_findings", "account"?}
        answers {"findings": [ASFF, ...]}: moto's Security Hub findings as they are now.
    {"op": "finding_updates"}
        answers {"updates": [UPDATE, ...]}: every finding BatchUpdateFindings was asked to
        update since the last reset, in order, found or not:
        UPDATE: {"account", "region", "id", "productArn", "found", "workflowStatus", "note",
                 "updatedBy", "at"}
    {"op": "analyzer", "arn", "unusedAccessAge"?, "type"?: "ACCOUNT_UNUSED_ACCESS"}
        an Access Analyzer analyzer for GetAnalyzer (`unusedAccessAge` omitted: the answer has
        no configuration), in the account and region its ARN names.
    {"op": "analyzer_finding", "analyzerArn", "id", "userName", "accessKeyId"?, "path"?: "/",
     "status"?: "ACTIVE", "findingType"?: "UnusedIAMUserAccessKey", "lastAccessedDaysAgo"?,
     "resourceAccount"?}
        a finding of that analyzer for GetFindingV2 (AWS has no API that makes one): for the
        key type, unusedIamUserAccessKeyDetails {accessKeyId, lastAccessed}.
    {"op": "key_writes"}
        answers {"writes": [WRITE, ...]}: every UpdateAccessKey and DeleteAccessKey that reached
        moto since the last reset, each with the key as it was just before the write applied:
        WRITE: {"action", "userName", "accessKeyId", "requestedStatus" (UpdateAccessKey),
                "found", "status", "createDate", "lastUsedDate", "marker", "at"}
        (dates "%Y-%m-%dT%H:%M:%SZ" or null; "marker" is the time the key's marker records,
        per-key tag or state-tag entry, or null),
        so a test can judge every deletion by the state it was actually applied to.
    {"op": "sns_topic", "name", "account"?, "region"?: "us-east-1"}
        an SNS topic, as CreateTopic makes it (uncounted); answers {"arn"}.
    {"op": "sns_messages", "topicArn"?}
        answers {"messages": [{"topicArn", "messageId", "message", "subject", "attributes":
        {name: {"Type", "Value"}}}]}: every message published to the topic (or any), in order.
    {"op": "ses_identity", "address"}
        verifies an SES identity (uncounted), so that SendEmail from it is accepted.
    {"op": "ses_messages"}
        answers {"messages": [{"id", "source", "subject", "body", "destinations"}]}: moto's
        ses backend's sent_messages (SES v1 and v2 SendEmail alike), in order.
    CloudTrail LookupEvents, which moto lacks, is answered with no events (notices.py).
    {"op": "organization", "units"?: [UNIT, ...], "accounts"?: [ACCOUNT, ...]}
        UNIT: {"name", "parent": "root" | UNIT_NAME, "tags"?: {k: v}}
        ACCOUNT: {"id", "name", "unit": "root" | UNIT_NAME, "state"?: "ACTIVE" | "SUSPENDED" |
                  "PENDING_CLOSURE", "tags"?: {k: v}, "memberRole"?: {"name", "ceiling"?}}
        an AWS Organizations organisation managed by 123456789012 (made by the first call; a
        later call adds to it), its units and member accounts under the ids given, in the
        state given (moto's ListAccounts answers it as both `Status` and `State`);
        "memberRole" creates that role in the account's IAM, tagged
        `access-key-remediator:ceiling` = ceiling when given (organizations.py). Answers
        {"rootId", "units": {name: id}, "accounts": {name: id}} for the whole organisation.
    {"op": "org_tag", "id", "tags": {k: v}}
        tags a root, unit or account, as TagResource does (uncounted).
    {"op": "s3_bucket", "name", "account"?, "region"?: "us-east-1"}
        an S3 bucket in moto's S3, as CreateBucket makes it (uncounted); answers {"bucket"}.
        Any client reaches it path-style (http://127.0.0.1:PORT/BUCKET/KEY, as the Rust SDK
        does with force_path_style) through the emulator's own port.
    {"op": "s3_objects", "bucket", "prefix"?: ""}
        answers {"objects": {key: the object parsed as JSON, or its text}}: every object of
        the bucket under the prefix, read in-process (uncounted).
    {"op": "deny_assume_role", "account"}
        from now on, every STS AssumeRole into that account answers HTTP 403 AccessDenied in
        STS's XML error shape (still counted in `calls`).
    {"op": "latency", "ms"}
        from now on, each IAM and STS request waits `ms` before it is served (--iam-latency-ms
        sets it from the start; reset returns to that). It waits outside the serving lock, so
        that concurrent callers wait at the same time, as on AWS.
    With --step-functions only (step_functions.py, lambda_invoke.py):
    {"op": "lambda_runtime"}
        answers {"runtimeApi": "127.0.0.1:PORT", "polling": N}: the Lambda Runtime API function
        processes poll (their AWS_LAMBDA_RUNTIME_API), and how many are polling now. Every
        Lambda Invoke the emulator receives (`POST /2015-03-31/functions/{name}/invocations`,
        counted as "Invoke") goes to one of them; a process that hangs up takes none with it.
    {"op": "lambda_concurrency", "limit": N | null}
        reserved concurrency: an Invoke arriving while N are in flight answers HTTP 429
        TooManyRequestsException (Reason ReservedFunctionConcurrentInvocationLimitExceeded).
    {"op": "invocations"}
        answers {"invocations": [{"payload", "outcome": "response" | "error" | "throttled",
        "answer"}]}: every Invoke since the last reset, in the order answered.
    {"op": "state_machine", "name", "definition": OBJECT | STRING}
        a state machine (moto runs its executions); answers {"arn"}.
    {"op": "start_execution", "arn", "input"?: OBJECT | STRING}
        answers {"executionArn"} at once; the execution runs in the background.
    {"op": "execution", "executionArn"}
        answers {"status", "output"? (parsed), "error"?, "cause"?}; poll until the status is
        not RUNNING.
    A Distributed Map's ItemReader (arn:aws:states:::s3:getObject) reads from moto's S3 (the
    s3_bucket above), and its ResultWriter (arn:aws:states:::s3:putObject) writes the manifest
    and the SUCCEEDED_0.json / FAILED_0.json files there as AWS does (result_writer.py), also
    when the Map Run fails on the tolerance.
    {"op": "reset"}
        an empty account again: moto's IAM, Config, Security Hub, SNS and SES, the analyzers
        and their findings, the call counts, and the recorded key writes and finding updates;
        also the organisation, the AssumeRole denials, the latency, S3 (every bucket and
        object), the state machines, the invocations and the concurrency limit.
    {"op": "shutdown"}

Everything else goes through moto's normal HTTP API, exactly as AWS would be called. Where
moto 5.2 is more lenient than IAM, the emulator answers as IAM does:
    - TagUser: at most 50 tags per user. A TagUser that would leave the user with more than
      50 (counting the keys it only overwrites as no new tag) answers HTTP 409 LimitExceeded
      "Cannot exceed quota for TagsPerUser: 50" and changes nothing.
    - Tag keys of a user are case-insensitive for uniqueness, their case preserved: tagging
      `Team` on a user tagged `team` replaces that tag (IAM: "it replaces the first tag"), and
      UntagUser `team` removes `Team`.
    - TagUser validates its tags as IAM's model does, before the limit: a key of 1-128 and a
      value of 0-256 characters, each of the pattern [\p{L}\p{Z}\p{N}_.:/=+\-@] (moto checks
      neither), at most 50 tags a request; otherwise HTTP 400 ValidationError "N validation
      error(s) detected: Value '...' at 'tags.I.member.value' failed to satisfy constraint:
      ...", as IAM answers it. Two keys of one request equal but for case: 400 InvalidInput.
These apply to seeding too (seed's markers go through TagUser), but not to a seed's own
"tags", which moto's CreateUser stores as given.

moto 5.2 has no BatchUpdateFindings and no Access Analyzer: findings.py answers those as AWS
does (see its doc). The seed command, and so each --seed FILE, may also hold what the commands
above set, each applied after the users: "configRules": [config_rule's fields],
"securityHubFindings": [ASFF], "securityHubEvents": [PATH of an EventBridge "Security Hub
Findings - Imported" event, such as events/security-hub-iam3.json, from the current
directory: its findings are imported], "analyzers": [analyzer's fields], "analyzerFindings":
[analyzer_finding's fields, where "key": N may name the N-th seeded key of "userName" instead
of an "accessKeyId"].

--step-functions turns on moto's execution of state machines, which calls Lambda back at this
emulator; its DISTRIBUTED Map is patched to honour the failure tolerance (step_functions.py) and
to write the ResultWriter's result files (result_writer.py). It prints nothing more before READY.

moto serves one request at a time, as each IAM call is atomic (the GIL nearly serialized them
anyway): a recorded write and the state it saw cannot be separated by another request.

--index-access-keys (for benchmarks) answers GetAccessKeyLastUsed from moto's index of keys by
id instead of moto's scan of every user's keys, which costs O(users) per call (about 5 ms at
10,000 users, where AWS takes the same time whatever the account's size). Same answers.
"""

import argparse
import io
import json
import random
import signal
import sys
import threading
import time
import unicodedata
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import control
import lambda_invoke
import notices
import organizations
import rest_json
import s3
import step_functions
import trigger_services
from trigger_services import FINDINGS
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.exceptions import (
    InvalidInput,
    LimitExceededException,
    NotFoundException,
    ValidationError,
)
from moto.iam.models import AccessKeyLastUsed, IAMBackend, iam_backends
from moto.sts.models import sts_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

# Must equal the function's marker (src/domain/marker.rs). Two formats: one tag per key,
# MARKER_PREFIX + key id = time; and one state tag per user, STATE_TAG = "KEYID=time ..."
# (space-separated). The seed writes the first; both are read.
MARKER_PREFIX = "access-key-remediator:deactivated:"
STATE_TAG = "access-key-remediator:state"
MARKER_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# IAM's limits that moto lacks (see the module doc).
TAGS_PER_USER = 50
TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256
TAG_PATTERN_EXTRA = set("_.:/=+-@")
CONCURRENT_MODIFICATION_MESSAGE = (
    "The request was rejected because multiple requests to change this object were "
    "submitted simultaneously. Wait a few minutes and submit your request again."
)


def marker_of(tags, access_key_id):
    """The grace clock `tags` (key -> value) record for a key, in either format, or None."""
    if MARKER_PREFIX + access_key_id in tags:
        return tags[MARKER_PREFIX + access_key_id]
    for entry in (tags.get(STATE_TAG) or "").split():
        key, _, value = entry.partition("=")
        if key == access_key_id:
            return value
    return None


def marker_count(tags):
    """How many keys' grace clocks `tags` record, in either format."""
    per_key = sum(1 for key in tags if key.startswith(MARKER_PREFIX))
    state = sum(1 for entry in (tags.get(STATE_TAG) or "").split() if "=" in entry)
    return per_key + state


class CallCounter:
    """WSGI middleware counting each request by its API action (awsQuery `Action=` for IAM
    and STS, the `X-Amz-Target` operation for JSON services such as Config, the modelled
    operation for REST-JSON services), failing the next N requests of an action on demand in
    the protocol's real error shape (see `fail`), and answering what moto lacks (trigger_services.FINDINGS)."""

    def __init__(self, app):
        self.app = app
        self.calls = Counter()
        self.faults = {}  # action -> [remaining, status, code]
        self.lock = threading.Lock()
        # Held while moto serves a request or a command: one at a time, so each is atomic.
        self.serving = threading.RLock()
        self.writes = []  # key writes that reached moto, with the state they applied to
        self.contention = None  # (actions, rate, random.Random) while `contend` is on
        self.contended = Counter()  # ConcurrentModification answers served, by action
        self.lambda_service = None  # lambda_invoke.LambdaService with --step-functions
        self.default_latency_ms = self.latency_ms = 0  # --iam-latency-ms, `latency`

    def reset(self):
        with self.serving, self.lock:
            iam_backends.reset()
            trigger_services.reset()
            notices.reset()
            self.calls.clear()
            self.faults.clear()
            self.writes.clear()
            self.contention = None
            self.contended.clear()
            organizations.reset()
            s3.reset()
            self.latency_ms = self.default_latency_ms
            if self.lambda_service is not None:
                self.lambda_service.reset()
                step_functions.reset()

    def contend(self, actions, rate, seed):
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be within 0 and 1, got {rate}")
        with self.lock:
            self.contention = (frozenset(actions), rate, random.Random(seed)) if rate > 0 else None
            self.contended.clear()

    def contended_counts(self):
        with self.lock:
            return dict(self.contended)

    def concurrent_modification(self, action, start_response):
        """IAM's answer to a write racing another writer of the same user, drawn per request."""
        with self.lock:
            if self.contention is None:
                return None
            actions, rate, rng = self.contention
            if action not in actions or rng.random() >= rate:
                return None
            self.contended[action] += 1
        return iam_error(start_response, 409, "ConcurrentModification", CONCURRENT_MODIFICATION_MESSAGE)

    def fail(self, action, times, status, code):
        with self.lock:
            self.faults[action] = [times, status, code]

    def injected_fault(self, action, protocol, start_response):
        with self.lock:
            fault = self.faults.get(action)
            if not fault or fault[0] <= 0:
                return None
            fault[0] -= 1
            _, status, code = fault
        if protocol == "json":
            return rest_json.error(start_response, status, code or "AccessDeniedException",
                                   "injected by the emulator")
        if protocol == "s3":
            return s3.error(start_response, status, code or "AccessDenied", "injected by the emulator")
        return iam_error(start_response, status, code or "AccessDenied", "injected by the emulator")

    def __call__(self, environ, start_response):
        if self.lambda_service is not None and lambda_invoke.is_invoke(environ):
            # Never under the serving lock: the function process calls the emulator meanwhile.
            with self.lock:
                self.calls["Invoke"] += 1
            return self.lambda_service.invoke(environ, start_response)
        if self.latency_ms and signing_service(environ) in ("iam", "sts"):
            time.sleep(self.latency_ms / 1000)  # outside the lock: concurrent callers wait together
        action, query, body, rest = None, {}, b"", None
        target = environ.get("HTTP_X_AMZ_TARGET")
        s3_action = s3.operation(environ)
        if target:
            action = target.rsplit(".", 1)[-1]
        elif s3_action:
            action = s3_action  # S3 is REST-XML: its body is the object, never the action
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            rest = rest_json.operation(environ)
            query = parse_qs(environ.get("QUERY_STRING", ""))
            if rest is None:
                query |= parse_qs(body.decode("utf-8", "replace"))
            action = rest.name if rest else (query.get("Action") or [None])[0]
        if action:
            with self.lock:
                self.calls[action] += 1
            protocol = "s3" if s3_action else ("json" if target or rest else "query")
            fault = self.injected_fault(action, protocol, start_response)
            if fault is None:
                fault = self.concurrent_modification(action, start_response)
            if fault is None and organizations.denies(action, query):
                fault = iam_error(start_response, 403, "AccessDenied",
                                  f"not authorized to perform: sts:AssumeRole on resource: {query['RoleArn'][0]}")
            if fault is not None:
                return fault
        with self.serving:
            if rest is not None and FINDINGS.answers(action):
                return FINDINGS.answer(rest, body, query, start_response)
            if target and action in notices.ANSWERED:
                return notices.answer(action, start_response)
            if action in AUDITED_WRITES:
                self.writes.append(audit_write(action, query))
            return self.app(environ, start_response)

    def snapshot(self):
        with self.lock:
            return dict(self.calls)

    def key_writes(self):
        with self.serving:
            return list(self.writes)


def signing_service(environ):
    """The service a request's SigV4 credential scope names ("iam", "sts", ...), or None."""
    scope = rest_json.CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    return scope.group(3) if scope else None


def iam_error(start_response, status, code, message):
    """An answer in IAM's awsQuery XML error shape."""
    body = (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
        f"<Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
        "</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    ).encode()
    start_response(f"{status} Injected", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]


COUNTER = None


class QuietRequestHandler(MotoRequestHandler):
    """Werkzeug logs every request to stderr; tests and benchmarks make thousands."""

    def log_request(self, *args, **kwargs):
        pass


def iam(account=None):
    return iam_backends[account or DEFAULT_ACCOUNT_ID]["global"]


def now():
    # moto stores naive UTC datetimes.
    return datetime.now(timezone.utc).replace(tzinfo=None)


def days_ago(days):
    return now() - timedelta(days=days)


def find_key(access_key_id, account=None):
    for user in iam(account).users.values():
        for key in user.access_keys:
            if key.access_key_id == access_key_id:
                return user, key
    raise KeyError(f"no access key {access_key_id}")


def backdate(access_key_id, age_days, last_used_days_ago=None, account=None):
    user, key = find_key(access_key_id, account)
    key.create_date = days_ago(age_days)
    user.create_date = min(user.create_date, key.create_date)
    if last_used_days_ago is not None:
        key.last_used = AccessKeyLastUsed(days_ago(last_used_days_ago), "iam", "us-east-1")


def index_access_keys():
    """Replaces moto's GetAccessKeyLastUsed lookup (a scan of every user's keys in every
    account) with the backend's dict of keys by id. It answers the same: a key is found only
    while it is still attached to an existing user, as the scan finds it."""

    def get_access_key_last_used(self, access_key_id):
        for account in iam_backends.values():
            backend = account[self.partition]
            key = backend.access_keys.get(access_key_id)
            if key is None or key.user_name is None:
                continue
            user = backend.users.get(key.user_name)
            if user is not None and key in user.access_keys:
                return {"user_name": key.user_name, "last_used": key.last_used}
        raise NotFoundException(f"The Access Key with id {access_key_id} cannot be found")

    IAMBackend.get_access_key_last_used = get_access_key_last_used


def tag_pattern_ok(text):
    r"""IAM's tag pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]: letters, separators, numbers, _.:/=+-@."""
    return all(c in TAG_PATTERN_EXTRA or unicodedata.category(c)[0] in "LZN" for c in text)


def tag_validation_errors(tags):
    """IAM's model validation of TagUser's Tags, in its words; [] when the tags are valid."""
    if len(tags) > TAGS_PER_USER:
        return [f"Value '{tags}' at 'tags' failed to satisfy constraint: "
                f"Member must have length less than or equal to {TAGS_PER_USER}"]
    errors = []
    for n, tag in enumerate(tags, start=1):
        key, value = tag.get("Key", ""), tag.get("Value", "")
        for field, text, low, high, quantifier in (
            ("key", key, 1, TAG_KEY_MAX, "+"),
            ("value", value, 0, TAG_VALUE_MAX, "*"),
        ):
            at = f"Value '{text}' at 'tags.{n}.member.{field}' failed to satisfy constraint: "
            if len(text) > high:
                errors.append(at + f"Member must have length less than or equal to {high}")
            elif len(text) < low:
                errors.append(at + f"Member must have length greater than or equal to {low}")
            if not tag_pattern_ok(text):
                errors.append(at + "Member must satisfy regular expression pattern: "
                              f"[\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]{quantifier}")
    return errors


def iam_tag_user(self, name, tags):
    """moto's TagUser with IAM's checks (see the module doc): validation, then the limit of
    50 tags per user with keys compared case-insensitively, then the write, all or nothing."""
    errors = tag_validation_errors(tags)
    if errors:
        count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected: "
        raise ValidationError(count + "; ".join(errors))
    new_keys = [tag["Key"] for tag in tags]
    if len({key.lower() for key in new_keys}) < len(new_keys):
        raise InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    user = self.get_user(name)
    current = self.tagger.tags.get(user.arn, {})
    kept = [key for key in current if key.lower() not in {k.lower() for k in new_keys}]
    if len(kept) + len(new_keys) > TAGS_PER_USER:
        raise LimitExceededException(f"Cannot exceed quota for TagsPerUser: {TAGS_PER_USER}")
    replaced = [key for key in current if key not in kept]
    self.tagger.untag_resource_using_names(user.arn, replaced)
    self.tagger.tag_resource(user.arn, tags)


def iam_untag_user(self, name, tag_keys):
    """moto's UntagUser with IAM's case-insensitive keys: `team` removes `Team`."""
    user = self.get_user(name)
    wanted = {key.lower() for key in tag_keys}
    current = self.tagger.tags.get(user.arn, {})
    self.tagger.untag_resource_using_names(user.arn, [k for k in current if k.lower() in wanted])


IAMBackend.tag_user = iam_tag_user
IAMBackend.untag_user = iam_untag_user


AUDITED_WRITES = ("UpdateAccessKey", "DeleteAccessKey")


def format_date(date):
    return date.strftime(MARKER_FORMAT) if date else None


def audit_write(action, query):
    """The key a write is about, as it is right before moto applies the write."""
    param = lambda name: (query.get(name) or [None])[0]
    user_name, key_id = param("UserName"), param("AccessKeyId")
    record = {"action": action, "userName": user_name, "accessKeyId": key_id,
              "at": format_date(now()), "found": False}
    if action == "UpdateAccessKey":
        record["requestedStatus"] = param("Status")
    user = iam().users.get(user_name)
    key = next((k for k in user.access_keys if k.access_key_id == key_id), None) if user else None
    if key is not None:
        tags = {t["Key"]: t["Value"] for t in iam().tagger.list_tags_for_resource(user.arn)["Tags"]}
        record.update({
            "found": True,
            "status": key.status,
            "createDate": format_date(key.create_date),
            "lastUsedDate": format_date(key.last_used.timestamp if key.last_used else None),
            "marker": marker_of(tags, key_id),
        })
    return record


def set_user_id(user_name, user_id):
    backend = iam()
    backend.get_user(user_name).id = user_id


def seed_user(spec, account=None):
    backend = iam(account)
    name = spec["name"]
    tags = dict(spec.get("tags", {}))
    user = backend.create_user(
        "us-east-1",
        name,
        path=spec.get("path", "/"),
        tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    if "userId" in spec:
        user.id = spec["userId"]
    key_ids = []
    for key_spec in spec.get("keys", []):
        key = backend.create_access_key(name, status=key_spec.get("status", "Active"))
        backdate(key.access_key_id, key_spec["ageDays"], key_spec.get("lastUsedDaysAgo"), account)
        if "markerDaysAgo" in key_spec:
            marker = days_ago(key_spec["markerDaysAgo"]).strftime(MARKER_FORMAT)
            backend.tag_user(name, [{"Key": MARKER_PREFIX + key.access_key_id, "Value": marker}])
        key_ids.append(key.access_key_id)
    return {"userId": user.id, "keys": key_ids}


def seed_population(spec, account=None):
    """Bulk seeding (see the module doc): tens of thousands of users in seconds, because it
    writes each key's dates directly instead of searching the account for it (backdate)."""
    backend = iam(spec.get("account", account))
    total = int(spec["users"])
    over_age = round(total * spec.get("overAgePercent", 10) / 100)
    pending = round(total * spec.get("pendingPercent", 2) / 100)
    if over_age + pending > total:
        raise ValueError("overAgePercent + pendingPercent exceed 100")
    prefix = spec.get("namePrefix", "bench-user-")
    path = spec.get("path", "/bench/")
    marker_days = spec.get("markerDaysAgo", 20)
    rng = random.Random(spec.get("seed", 1))
    kinds = ["over-age"] * over_age + ["pending"] * pending + ["young"] * (total - over_age - pending)
    rng.shuffle(kinds)
    # Whole seconds, as IAM reports dates (and as the credential report prints them).
    base = now().replace(microsecond=0)
    marker = (base - timedelta(days=marker_days)).strftime(MARKER_FORMAT)
    width = max(5, len(str(total - 1)))
    for n, kind in enumerate(kinds):
        name = f"{prefix}{n:0{width}d}"
        user = backend.create_user("us-east-1", name, path=path)
        if kind == "young":
            age = rng.randint(1, 89)
            used = rng.randint(0, age)
        elif kind == "over-age":
            age, used = rng.randint(91, 1000), rng.randint(0, 30)
        else:
            age, used = rng.randint(91, 1000), rng.randint(marker_days + 1, 90)
        key = backend.create_access_key(name, status="Inactive" if kind == "pending" else "Active")
        key.create_date = base - timedelta(days=age)
        key.last_used = AccessKeyLastUsed(base - timedelta(days=used), "iam", "us-east-1")
        user.create_date = min(user.create_date, key.create_date)
        if kind == "pending":
            backend.tag_user(name, [{"Key": MARKER_PREFIX + key.access_key_id, "Value": marker}])
    return {"users": total, "overAge": over_age, "pending": pending, "young": total - over_age - pending}


def seed(spec):
    users = {user["name"]: seed_user(user, spec.get("account")) for user in spec.get("users", [])}
    for n in range(spec.get("fillerUsers", 0)):
        # Young keys: filler users are there to make the account big, not to be remediated.
        seed_user({"name": f"filler-{n:05d}", "path": "/filler/", "keys": [{"ageDays": n % 60}]})
    result = {"users": users}
    if "population" in spec:
        result["population"] = seed_population(spec["population"], spec.get("account"))
    trigger_services.seed(spec, users)
    return result


def key_states():
    backend = iam()
    current = now()
    keys, markers = [], 0
    for user in backend.users.values():
        for key in user.access_keys:
            keys.append({
                "user": user.name,
                "accessKeyId": key.access_key_id,
                "status": key.status,
                "ageDays": (current - key.create_date).days,
            })
        tags = backend.tagger.list_tags_for_resource(user.arn)["Tags"]
        markers += marker_count({tag["Key"]: tag["Value"] for tag in tags})
    return {"keys": keys, "markers": markers}


def account_state(account=None):
    backend = iam(account)
    users = {}
    for user in backend.users.values():
        tags = backend.tagger.list_tags_for_resource(user.arn)["Tags"]
        users[user.name] = {
            "keys": {key.access_key_id: key.status for key in user.access_keys},
            "tags": {tag["Key"]: tag["Value"] for tag in tags},
        }
    return {"users": users}


def assumed_roles(account):
    backend = sts_backends[account]["aws"]
    return {"roles": [
        {"roleArn": role.role_arn, "sessionName": role.session_name, "externalId": role.external_id}
        for role in backend.assumed_roles
    ]}


def handle(command):
    op = command.get("op")
    if op == "seed":
        return seed(command)
    if op == "backdate":
        backdate(command["accessKeyId"], command["ageDays"], command.get("lastUsedDaysAgo"))
        return {}
    if op == "calls":
        return {"calls": COUNTER.snapshot()}
    if op == "fail":
        COUNTER.fail(command["action"], command.get("times", 1), command.get("status", 403), command.get("code"))
        return {}
    if op == "contend":
        COUNTER.contend(command.get("actions", ["TagUser", "UntagUser"]), float(command["rate"]), command.get("seed", 1))
        return {}
    if op == "contended":
        return {"contended": COUNTER.contended_counts()}
    if op == "key_states":
        return key_states()
    if op == "account_state":
        return account_state(command.get("account"))
    if op == "assumed_roles":
        return assumed_roles(command["account"])
    if op == "key_writes":
        return {"writes": COUNTER.key_writes()}
    if op == "reset":
        COUNTER.reset()
        return {}
    if op == "set_user_id":
        set_user_id(command["userName"], command["userId"])
        return {}
    if op in notices.OPS:
        return notices.handle(op, command)
    if op in ("organization", "org_tag", "deny_assume_role"):
        return organizations.handle(op, command)
    if op in s3.OPS:
        return s3.handle(op, command)
    if op == "latency":
        COUNTER.latency_ms = max(0, int(command["ms"]))
        return {}
    if op in LAMBDA_OPS:
        if COUNTER.lambda_service is None:
            raise ValueError(f"{op} needs the emulator started with --step-functions")
        return lambda_op(op, command)
    return trigger_services.handle(op, command)


LAMBDA_OPS = ("lambda_runtime", "lambda_concurrency", "invocations",
              "state_machine", "start_execution", "execution")


def lambda_op(op, command):
    service = COUNTER.lambda_service
    if op == "lambda_runtime":
        return {"runtimeApi": service.address, "polling": service.pollers()}
    if op == "lambda_concurrency":
        service.set_limit(command.get("limit"))
        return {}
    if op == "invocations":
        return {"invocations": service.invocations()}
    return step_functions.handle(op, command)


def serve_commands(stop):
    def atomically(command):
        with COUNTER.serving:
            return handle(command)

    control.serve(atomically)
    stop.set()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--seed", action="append", default=[], help="a JSON file in the seed command's shape (repeatable)"
    )
    parser.add_argument("--control", action="store_true", help="read commands on stdin")
    parser.add_argument(
        "--index-access-keys", action="store_true", help="O(1) GetAccessKeyLastUsed (see above)"
    )
    parser.add_argument(
        "--step-functions", action="store_true",
        help="run state machine executions, calling Lambda back here (see above)",
    )
    parser.add_argument(
        "--iam-latency-ms", type=int, default=0, help="each IAM and STS request waits this long first"
    )
    args = parser.parse_args()
    if args.index_access_keys:
        index_access_keys()

    global COUNTER
    COUNTER = CallCounter(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        args.host, args.port, COUNTER, threaded=True, request_handler=QuietRequestHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    COUNTER.default_latency_ms = COUNTER.latency_ms = max(0, args.iam_latency_ms)
    if args.step_functions:
        step_functions.enable(port)
        COUNTER.lambda_service = lambda_invoke.LambdaService()
    for path in args.seed:
        with open(path) as f:
            result = seed(json.load(f))
        print(json.dumps({"seeded": result}), file=sys.stderr, flush=True)
    print(f"READY http://{host}:{port}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.control:
        threading.Thread(target=serve_commands, args=(stop,), daemon=True).start()
    stop.wait()
    server.shutdown()


if __name__ == "__main__":
    main()
