"""S3 for the emulator: moto's own S3 (served through its DomainDispatcherApplication, path-style
and virtual-hosted alike), a name for each S3 request in the call counts, S3's error shape for
injected faults, and the control ops `s3_bucket` and `s3_objects` (emulator.py documents them),
which go to moto's backend in-process and so are not counted.

S3 is REST-XML: a request names its operation only by its method, path and query, so
`operation` reads those as the SDKs' model defines them (for the operations a test meets).
"""

import json
import re
import uuid
from urllib.parse import parse_qs, unquote

from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

import rest_json

# The fixed access key of the clients moto's state machine engine makes (boto_client_for):
# its ItemReader and ResultWriter requests, counted apart from the function's own.
ENGINE_ACCESS_KEY = "ak"
ENGINE_PREFIX = "states:"
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def operation(environ):
    """The S3 operation a request signed for S3 makes ("PutObject", "GetObject", ...), prefixed
    with "states:" when moto's state machine engine makes it, or None for another service."""
    scope = rest_json.CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not scope or scope.group(3) != "s3":
        return None
    method = environ.get("REQUEST_METHOD", "GET")
    path = unquote(environ.get("PATH_INFO", "/"))
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if has_key(environ, path):
        name = object_operation(method, query, "HTTP_X_AMZ_COPY_SOURCE" in environ)
    else:
        name = bucket_operation(method, query)
    return (ENGINE_PREFIX + name) if scope.group(1) == ENGINE_ACCESS_KEY else name


def has_key(environ, path):
    """Whether the request names an object: path-style /bucket/key, or /key on a bucket's host."""
    host = environ.get("HTTP_HOST", "")
    virtual_hosted = ".s3." in host or host.split(":")[0].endswith(".localhost")
    segments = [segment for segment in path.split("/") if segment]
    return len(segments) >= (1 if virtual_hosted else 2)


def object_operation(method, query, copies):
    if method == "PUT":
        if "partNumber" in query:
            return "UploadPart"
        return "CopyObject" if copies else "PutObject"
    if method == "GET":
        return "ListParts" if "uploadId" in query else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        return "CompleteMultipartUpload" if "uploadId" in query else "PostObject"
    return method


def bucket_operation(method, query):
    if method == "PUT":
        return "CreateBucket" if not query else "PutBucket" + next(iter(query)).title()
    if method == "GET":
        if query.get("list-type") == ["2"]:
            return "ListObjectsV2"
        listing = not query or any(name in query for name in ("prefix", "delimiter", "marker", "max-keys"))
        return "ListObjects" if listing else "GetBucket" + next(iter(query)).title()
    if method == "HEAD":
        return "HeadBucket"
    if method == "DELETE":
        return "DeleteBucket"
    if method == "POST":
        return "DeleteObjects" if "delete" in query else "PostBucket"
    return method


def error(start_response, status, code, message):
    """An answer in S3's REST-XML error shape (an <Error> root, no <ErrorResponse>)."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    ).encode()
    start_response(f"{status} Injected", [
        ("Content-Type", "application/xml"),
        ("Content-Length", str(len(body))),
        ("x-amz-request-id", uuid.uuid4().hex[:16].upper()),
    ])
    return [body]


def backend(account=None):
    return s3_backends[account or DEFAULT_ACCOUNT_ID]["aws"]


def create_bucket(name, account=None, region="us-east-1"):
    if not BUCKET_NAME.match(name):
        raise ValueError(f"{name!r} is not an S3 bucket name (3-63 of [a-z0-9.-])")
    backend(account).create_bucket(name, region)
    return {"bucket": name}


def objects(bucket, prefix=""):
    """Every object of `bucket` under `prefix`: parsed JSON where it parses, else its text."""
    found = {}
    for key in backend().get_bucket(bucket).keys.values():
        if not key.name.startswith(prefix or ""):
            continue
        text = key.value.decode("utf-8", "replace")
        try:
            found[key.name] = json.loads(text)
        except ValueError:
            found[key.name] = text
    return {"objects": found}


def reset():
    s3_backends.reset()
    s3_backends.bucket_accounts.clear()


OPS = ("s3_bucket", "s3_objects")


def handle(op, command):
    if op == "s3_bucket":
        return create_bucket(command["name"], command.get("account"), command.get("region", "us-east-1"))
    if op == "s3_objects":
        return objects(command["bucket"], command.get("prefix", ""))
    raise ValueError(f"unknown op {op!r}")
