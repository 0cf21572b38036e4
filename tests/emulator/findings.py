"""What moto 5.2 lacks of the finding services the function calls, answered as AWS does:
Security Hub's BatchUpdateFindings, applied to the findings in moto's own Security Hub (those
BatchImportFindings or the `import_finding` command put there), and IAM Access Analyzer's
GetAnalyzer and GetFindingV2, from analyzers and findings the test declares (AWS has no API
that creates a finding). emulator.py routes these operations here and documents the commands.

Each request is answered in the account its credentials belong to, as AWS does: a finding or
an analyzer of another account is not found (GetFindingV2 of another account's analyzer is
denied)."""

import json
import threading
from datetime import datetime, timedelta, timezone

from moto.core import DEFAULT_ACCOUNT_ID
from moto.securityhub.models import securityhub_backends

import rest_json

TIMESTAMP = "%Y-%m-%dT%H:%M:%S.000Z"
WORKFLOW_STATUSES = ("NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED")
# ASFF: Note.Text and Note.UpdatedBy are 1-512 characters.
NOTE_MAX = 512
UNUSED_KEY = "UnusedIAMUserAccessKey"
ANALYZER_RESOURCE = "AWS::AccessAnalyzer::Analyzer"


def timestamp(days_ago=0):
    return (datetime.now(timezone.utc) - timedelta(days=days_ago)).strftime(TIMESTAMP)


def arn_parts(arn):
    """(region, account, resource) of an ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        raise ValueError(f"{arn!r} is not an ARN")
    return parts[3], parts[4], parts[5]


def security_hub(account=None, region="us-east-1"):
    return securityhub_backends[account or DEFAULT_ACCOUNT_ID][region]


class Findings:
    """The state behind the operations moto lacks, and the commands that set and read it."""

    ANSWERED = ("BatchUpdateFindings", "GetAnalyzer", "GetFindingV2")

    def __init__(self):
        self.lock = threading.Lock()
        self.analyzers = {}  # ARN -> {"name", "type", "unusedAccessAge", "createdAt"}
        self.analyzer_findings = {}  # (analyzer ARN, finding id) -> GetFindingV2's answer
        self.updates = []  # every finding BatchUpdateFindings was asked to update

    def reset(self):
        with self.lock:
            self.analyzers.clear()
            self.analyzer_findings.clear()
            self.updates.clear()
        securityhub_backends.reset()

    def answers(self, action):
        return action in self.ANSWERED

    def answer(self, operation, body, query, start_response):
        handler = {
            "BatchUpdateFindings": self.batch_update_findings,
            "GetAnalyzer": self.get_analyzer,
            "GetFindingV2": self.get_finding_v2,
        }[operation.name]
        with self.lock:
            return handler(operation, body, query, start_response)

    # Security Hub

    def batch_update_findings(self, operation, body, _query, start_response):
        request = json.loads(body or b"{}")
        invalid = update_request_error(request)
        if invalid:
            return rest_json.error(start_response, 400, "InvalidInputException", invalid)
        backend = security_hub(operation.account, operation.region)
        processed, unprocessed = [], []
        for identifier in request["FindingIdentifiers"]:
            finding = next(
                (f for f in backend.findings
                 if f.id == identifier["Id"] and f.data.get("ProductArn") == identifier["ProductArn"]),
                None,
            )
            self.updates.append(update_record(operation, identifier, request, finding is not None))
            if finding is None:
                unprocessed.append({"FindingIdentifier": identifier, "ErrorCode": "FindingNotFound",
                                    "ErrorMessage": "Finding Not Found"})
                continue
            apply_update(finding.data, request)
            processed.append(identifier)
        return rest_json.answer(
            start_response, {"ProcessedFindings": processed, "UnprocessedFindings": unprocessed}
        )

    def import_finding(self, finding, account=None, region="us-east-1"):
        failed, _, failures = security_hub(account, region).batch_import_findings([finding])
        if failed:
            raise ValueError(f"moto refused the finding: {failures}")
        return {"id": finding["Id"]}

    def security_hub_findings(self, account=None, region="us-east-1"):
        return {"findings": [f.as_dict() for f in security_hub(account, region).findings]}

    def finding_updates(self):
        with self.lock:
            return {"updates": list(self.updates)}

    # Access Analyzer

    def add_analyzer(self, arn, unused_access_age=None, kind="ACCOUNT_UNUSED_ACCESS"):
        _, _, resource = arn_parts(arn)
        if not resource.startswith("analyzer/"):
            raise ValueError(f"{arn!r} is not an analyzer ARN")
        with self.lock:
            self.analyzers[arn] = {"name": resource.split("/", 1)[1], "type": kind,
                                   "unusedAccessAge": unused_access_age, "createdAt": timestamp(400)}
        return {}

    def add_analyzer_finding(self, spec):
        """GetFindingV2's answer for one finding of an analyzer (see emulator.py's commands)."""
        analyzer = spec["analyzerArn"]
        _, account, _ = arn_parts(analyzer)
        kind = spec.get("findingType", UNUSED_KEY)
        last = spec.get("lastAccessedDaysAgo")
        details = {} if last is None else {"lastAccessed": timestamp(last)}
        if kind == UNUSED_KEY:
            details = {"unusedIamUserAccessKeyDetails": {"accessKeyId": spec["accessKeyId"], **details}}
        elif kind == "UnusedIAMUserPassword":
            details = {"unusedIamUserPasswordDetails": details}
        else:
            details = {"unusedPermissionDetails": {"serviceNamespace": "iam", **details}}
        owner = spec.get("resourceAccount", account)
        finding = {
            "id": spec["id"],
            "resource": f"arn:aws:iam::{owner}:user{spec.get('path', '/')}{spec['userName']}",
            "resourceType": "AWS::IAM::User",
            "resourceOwnerAccount": owner,
            "status": spec.get("status", "ACTIVE"),
            "findingType": kind,
            "findingDetails": [details],
            "createdAt": timestamp(1),
            "updatedAt": timestamp(1),
            "analyzedAt": timestamp(1),
        }
        with self.lock:
            self.analyzer_findings[(analyzer, spec["id"])] = finding
        return {}

    def get_analyzer(self, operation, _body, _query, start_response):
        name = operation.params["analyzerName"]
        arn = f"arn:aws:access-analyzer:{operation.region}:{operation.account}:analyzer/{name}"
        analyzer = self.analyzers.get(arn)
        if analyzer is None:
            return rest_json.error(start_response, 404, "ResourceNotFoundException",
                                   f"Analyzer {name} not found", resourceId=name,
                                   resourceType=ANALYZER_RESOURCE)
        summary = {"arn": arn, "name": name, "type": analyzer["type"],
                   "createdAt": analyzer["createdAt"], "status": "ACTIVE"}
        if analyzer["unusedAccessAge"] is not None:
            summary["configuration"] = {"unusedAccess": {"unusedAccessAge": analyzer["unusedAccessAge"]}}
        return rest_json.answer(start_response, {"analyzer": summary})

    def get_finding_v2(self, operation, _body, query, start_response):
        analyzer = (query.get("analyzerArn") or [""])[0]
        finding_id = operation.params["id"]
        try:
            region, account, _ = arn_parts(analyzer)
        except ValueError as invalid:
            return rest_json.error(start_response, 400, "ValidationException", str(invalid))
        if (region, account) != (operation.region, operation.account):
            return rest_json.error(start_response, 403, "AccessDeniedException",
                                   f"{operation.account} may not read findings of {analyzer}")
        finding = self.analyzer_findings.get((analyzer, finding_id))
        if analyzer not in self.analyzers or finding is None:
            return rest_json.error(start_response, 404, "ResourceNotFoundException",
                                   f"Finding {finding_id} not found", resourceId=finding_id,
                                   resourceType="AWS::AccessAnalyzer::Finding")
        return rest_json.answer(start_response, finding)


def update_request_error(request):
    """Why Security Hub would refuse a BatchUpdateFindings request, or None."""
    identifiers = request.get("FindingIdentifiers")
    if not isinstance(identifiers, list) or not 1 <= len(identifiers) <= 100:
        return "FindingIdentifiers must hold 1 to 100 findings"
    if any(not i.get("Id") or not i.get("ProductArn") for i in identifiers):
        return "each FindingIdentifier needs an Id and a ProductArn"
    status = request.get("Workflow", {}).get("Status")
    if "Workflow" in request and status not in WORKFLOW_STATUSES:
        return f"Workflow.Status {status!r} is not one of {', '.join(WORKFLOW_STATUSES)}"
    note = request.get("Note")
    if note is not None:
        for field in ("Text", "UpdatedBy"):
            if not 1 <= len(note.get(field) or "") <= NOTE_MAX:
                return f"Note.{field} must be 1 to {NOTE_MAX} characters"
    return None


def apply_update(finding, request):
    """What BatchUpdateFindings changes of a finding: its workflow and note, and UpdatedAt."""
    now = timestamp()
    if "Workflow" in request:
        finding["Workflow"] = {"Status": request["Workflow"]["Status"]}
    if "Note" in request:
        finding["Note"] = {**request["Note"], "UpdatedAt": now}
    finding["UpdatedAt"] = now


def update_record(operation, identifier, request, found):
    return {
        "account": operation.account,
        "region": operation.region,
        "id": identifier["Id"],
        "productArn": identifier["ProductArn"],
        "found": found,
        "workflowStatus": request.get("Workflow", {}).get("Status"),
        "note": request.get("Note", {}).get("Text"),
        "updatedBy": request.get("Note", {}).get("UpdatedBy"),
        "at": timestamp(),
    }
