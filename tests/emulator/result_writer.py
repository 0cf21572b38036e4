"""The Distributed Map's ResultWriter (arn:aws:states:::s3:putObject) for the emulator's Step
Functions: what moto 5.2 lacks, modelled as AWS does. moto writes only a manifest, with every
ResultFiles list empty, and no result file. Patched here, as AWS writes them under
`<Prefix>/<map run id>/`:

    SUCCEEDED_0.json, FAILED_0.json: JSON arrays of the child executions of that status, each
        {"ExecutionArn", "Input" (a JSON string), "InputDetails": {"Included": true}, "Name",
         "Output" (a JSON string; SUCCEEDED) | "Error", "Cause" (FAILED, TIMED_OUT),
         "OutputDetails": {"Included": true}, "RedriveCount": 0, "RedriveStatus":
         "NOT_REDRIVABLE", "StartDate", "StateMachineArn", "Status", "StopDate"},
        in item order; a file only when it would not be empty (a timed-out child is listed
        with the failed, its Status TIMED_OUT);
    manifest.json, written last: {"DestinationBucket", "MapRunArn", "ResultFiles": {"FAILED":
        [{"Key", "Size"}], "PENDING": [], "SUCCEEDED": [{"Key", "Size"}]}}.

The state's result is {"MapRunArn", "ResultWriterDetails": {"Bucket", "Key": the manifest's}},
as moto already answers it. When the Map Run fails because the failures exceeded the tolerance
(step_functions.py), the files are still written for every child that finished, as AWS exports
a failed Map Run's results; the state's result is then its error, so no ResultWriterDetails
reach the next state. Children step_functions.py records (`child`) carry what the files hold.
"""

import json
import logging
import uuid
from datetime import datetime, timezone

from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
from moto.stepfunctions.parser.asl.component.state.exec.state_map import state_map
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3,
)

LOG = logging.getLogger(__name__)
COMPACT = (",", ":")


def enable():
    resource_eval_s3.ResourceEvalS3._handle_put_object = staticmethod(put_results)
    state_map.StateMap._eval_execution = eval_execution_exporting_on_failure


def timestamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now():
    return datetime.now(timezone.utc)


def child(map_run_record, index, child_input, started, status, output=None, error=None, cause=None):
    """One child execution as the result files list it, with the item's index to order by."""
    name = str(uuid.uuid4())
    machine = map_run_record.map_state_machine_arn
    record = {
        "ExecutionArn": machine.replace(":stateMachine:", ":execution:", 1) + ":" + name,
        "Input": json.dumps(child_input, separators=COMPACT),
        "InputDetails": {"Included": True},
        "Name": name,
    }
    if status == "SUCCEEDED":
        record["Output"] = json.dumps(output, separators=COMPACT)
    else:
        record["Error"] = error if error is not None else "States.Runtime"
        record["Cause"] = cause if cause is not None else ""
    record.update({
        "OutputDetails": {"Included": True},
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "StartDate": timestamp(started),
        "StateMachineArn": machine,
        "Status": status,
        "StopDate": timestamp(now()),
    })
    return index, record


def put_results(env, resource_runtime_part, state_credentials):
    """moto's ResourceEvalS3._handle_put_object, writing the result files as well."""
    parameters = env.stack.pop()
    env.stack.pop()  # the children's outputs: they go to the files instead
    client = resource_eval_s3.ResourceEvalS3._get_s3_client(
        resource_runtime_part=resource_runtime_part, state_credentials=state_credentials)
    map_run_record = env.map_run_record_pool_manager.get_all()[-1]
    env.stack.append(export(client, parameters, map_run_record))


def export(client, parameters, map_run_record):
    bucket = parameters["Bucket"]
    prefix = parameters.get("Prefix") or ""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    folder = prefix + map_run_record.map_run_arn.split(":")[-1] + "/"
    children = [record for _, record in sorted(getattr(map_run_record, "children", []), key=lambda c: c[0])]
    files = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status in ("SUCCEEDED", "FAILED"):
        listed = [c for c in children if (c["Status"] == "SUCCEEDED") == (status == "SUCCEEDED")]
        if not listed:
            continue
        key = f"{folder}{status}_0.json"
        body = json.dumps(listed, separators=COMPACT).encode()
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        files[status].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_record.map_run_arn, "ResultFiles": files}
    key = folder + "manifest.json"
    client.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=2).encode(),
                      ContentType="application/json")
    map_run_record.exported = True
    return {"MapRunArn": map_run_record.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}


def eval_execution_exporting_on_failure(self, env):
    """moto's StateMap._eval_execution; when the Map Run failed on the tolerance, the
    ResultWriter still writes what the children that finished left, and the failure stands."""
    try:
        ORIGINAL_EVAL_EXECUTION(self, env)
    except FailureEventException:
        records = env.map_run_record_pool_manager.get_all()
        map_run_record = records[-1] if records else None
        if (self.result_writer is not None and map_run_record is not None
                and getattr(map_run_record, "exceeded", False)
                and not getattr(map_run_record, "exported", False)):
            depth = len(env.stack)
            try:
                env.stack.append(None)  # where moto's writer expects the Map's results
                self.result_writer.eval(env)
            except Exception:  # the Map Run's own failure is the one to report
                LOG.exception("ResultWriter failed after the Map Run failed")
            del env.stack[depth:]
        raise


ORIGINAL_EVAL_EXECUTION = state_map.StateMap._eval_execution
