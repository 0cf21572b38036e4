"""What a REST-JSON request to the emulator is (Security Hub, Access Analyzer): such requests
carry no `Action=` or `X-Amz-Target`, so the service comes from the SigV4 credential scope and
the operation from the service's own botocore model (its HTTP method and request URI), the
same model the SDKs are generated from. Also the JSON answers and errors those services give."""

import json
import re
from typing import NamedTuple

import botocore.loaders
from moto.iam.models import get_account_id_from

# SigV4 signing name -> botocore service name, for the REST-JSON services the emulator names.
SERVICES = {"securityhub": "securityhub", "access-analyzer": "accessanalyzer", "ses": "sesv2"}

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


class Operation(NamedTuple):
    service: str  # the signing name: "securityhub", "access-analyzer"
    name: str  # the operation, as AWS names it: "BatchUpdateFindings"
    params: dict  # the request URI's labels: {"id": "..."}
    region: str
    account: str  # the account the request's credentials belong to


_routes = {}


def routes(service):
    """(method, compiled request URI, operation name) for each operation of `service`."""
    if service not in _routes:
        model = botocore.loaders.Loader().load_service_model(SERVICES[service], "service-2")
        table = []
        for name, operation in model["operations"].items():
            http = operation["http"]
            path = http["requestUri"].split("?", 1)[0]
            pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(path))
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
            table.append((path.count("{"), http["method"], re.compile(f"^{pattern}/?$"), name))
        # A literal segment wins over a label that would also match it.
        _routes[service] = [route[1:] for route in sorted(table, key=lambda route: route[0])]
    return _routes[service]


def operation(environ):
    """The REST-JSON operation `environ` requests, or None when it is not one of SERVICES."""
    scope = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not scope or scope.group(3) not in SERVICES:
        return None
    access_key, region, service = scope.groups()
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    for route_method, pattern, name in routes(service):
        match = pattern.match(path)
        if route_method == method and match:
            return Operation(service, name, match.groupdict(), region, get_account_id_from(access_key))
    return None


def answer(start_response, body, status=200, headers=()):
    """A JSON answer, as the REST-JSON services give it."""
    data = json.dumps(body).encode()
    start_response(
        f"{status} {'OK' if status < 300 else 'Error'}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


def error(start_response, status, code, message, **fields):
    """An error in the JSON protocols' shape (awsJson and REST-JSON alike): the code in the
    `x-amzn-ErrorType` header and as `__type`, the message as `message`."""
    body = {"__type": code, "message": message, **fields}
    return answer(start_response, body, status, [("x-amzn-ErrorType", code)])
