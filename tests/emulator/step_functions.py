"""Step Functions for the emulator (--step-functions): moto's own engine runs the executions
(its `stepfunctions.execute_state_machine`), and calls Lambda back at the emulator's own port
(MOTO_PORT), where lambda_invoke.py hands each Invoke to a function process. The control ops
(`state_machine`, `start_execution`, `execution`; emulator.py documents them) go to moto's
backend in-process, so they are not counted as calls.

What moto 5.2 lacks, modelled as AWS does: its DISTRIBUTED Map ignores the failure tolerance
(a failed item's result is null and the Map Run always succeeds). Patched here: the Map Run
fails with States.ExceedToleratedFailureThreshold once the failed (or timed-out) items exceed
ToleratedFailurePercentage(Path) percent of all items, or number more than
ToleratedFailureCount(Path); no item is started after that, and items already in flight
finish first. A tolerance of 0 (moto's value for an absent field) tolerates no failure, as
AWS's default does; with a percentage set and no count, only the percentage applies.

Each item's child execution is recorded as it closes (its input after the ItemSelector, its
output or error, its times), for the ResultWriter's files (result_writer.py), which moto also
lacks. moto's ItemReader (arn:aws:states:::s3:getObject, JSON, CSV) reads from moto's S3 as it
is: the engine's S3 requests reach this emulator's port like its Lambda ones. When S3 refuses
the read (no such key or bucket, access denied), moto fails the state with States.Runtime;
patched to fail it with States.ItemReaderFailed and S3's message as the cause, as AWS does.
"""

import copy
import json
import logging
import os
import uuid

from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.config import default_user_config
from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as item_reader_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as distributed,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    distributed_item_processor_worker as worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool
from moto.stepfunctions.parser.asl.component.state.exec.state_map.max_concurrency import (
    DEFAULT_MAX_CONCURRENCY_VALUE,
)
from moto.stepfunctions.parser.asl.eval.program_state import (
    ProgramEnded,
    ProgramError,
    ProgramStopped,
    ProgramTimedOut,
)

import result_writer

REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/org-sweep-state-machine"
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


def enable(port):
    """Turns moto's execution engine on, calling AWS (Lambda) back at `port`."""
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    os.environ["MOTO_PORT"] = str(port)
    distributed.DistributedIterationComponent._map_run = tolerant_map_run
    worker.DistributedItemProcessorWorker._eval_job = eval_job_noting_failure
    worker.DistributedItemProcessorWorker._eval_input = eval_input_noting_it
    item_reader_s3.ResourceEvalS3._handle_get_object = staticmethod(get_items_failing_as_aws)
    result_writer.enable()
    # moto logs every failed Task (an account that failed, a throttled Invoke) with the repr of
    # the whole state tree, and warns that the tolerance has no effect, which the patch undoes.
    # The execution's own error and cause say what a test needs.
    logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(logging.CRITICAL)
    logging.getLogger("moto.stepfunctions.parser.asl.parse.preprocessor").addFilter(
        lambda record: "Tolerated" not in str(record.msg))


def backend():
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID][REGION]


def reset():
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    stepfunctions_parser_backends.reset()


def handle(op, command):
    if op == "state_machine":
        definition = command["definition"]
        if not isinstance(definition, str):
            definition = json.dumps(definition)
        machine = backend().create_state_machine(name=command["name"], definition=definition, roleArn=ROLE_ARN)
        return {"arn": machine.arn}
    if op == "start_execution":
        given = command.get("input", {})
        text = given if isinstance(given, str) else json.dumps(given)
        execution = backend().start_execution(command["arn"], name=str(uuid.uuid4()), execution_input=text)
        return {"executionArn": execution.execution_arn}
    if op == "execution":
        execution = backend().describe_execution(command["executionArn"])
        answer = {"status": str(execution.status.value if hasattr(execution.status, "value") else execution.status)}
        if execution.output is not None and answer["status"] == "SUCCEEDED":
            output = execution.output
            answer["output"] = json.loads(output) if isinstance(output, str) else output
        if execution.error is not None:
            answer["error"] = execution.error
        if execution.cause is not None:
            answer["cause"] = execution.cause
        return answer
    raise ValueError(f"unknown op {op!r}")


class TolerantJobPool(JobPool):
    """moto's job pool, which also stops handing out items once the failures exceed the
    tolerance, and then counts the run as over once every item started has closed."""

    def __init__(self, job_program, job_inputs, tolerated_count, tolerated_percentage, map_run_record):
        super().__init__(job_program=job_program, job_inputs=job_inputs)
        self.map_run_record = map_run_record
        map_run_record.children = []  # (item index, child execution), for the ResultWriter
        self.tolerated_count = tolerated_count or 0
        self.tolerated_percentage = tolerated_percentage or 0.0
        self.started = 0
        self.failed = 0
        self.exceeded = False

    def next_job(self):
        with self._mutex:
            if self.exceeded or self._worker_exception is not None or not self._open_jobs:
                return None
            self.started += 1
            return self._open_jobs.pop()

    def note_outcome(self, failed, child=None):
        with self._mutex:
            if child is not None:
                self.map_run_record.children.append(child)
            if not failed:
                return
            self.failed += 1
            by_count = self.tolerated_count > 0 and self.failed > self.tolerated_count
            by_percentage = (
                self.tolerated_percentage > 0 and self.failed * 100 > self.tolerated_percentage * self._jobs_number
            )
            no_tolerance = self.tolerated_count <= 0 and self.tolerated_percentage <= 0
            if by_count or by_percentage or no_tolerance:
                self.exceeded = self.map_run_record.exceeded = True

    def _is_terminated(self):
        if self.exceeded and len(self._closed_jobs) >= self.started:
            return True
        return super()._is_terminated()


def eval_input_noting_it(self, env_frame):
    """moto's worker input step (the ItemSelector), keeping the child execution's input."""
    ORIGINAL_EVAL_INPUT(self, env_frame)
    self.child_input = copy.deepcopy(env_frame.states.get_input())


def eval_job_noting_failure(self, env, job):
    """moto's worker step, then tells the pool whether the item failed (or timed out), with
    the child execution as the ResultWriter lists it."""
    started = result_writer.now()
    self.child_input = job.job_input
    ORIGINAL_EVAL_JOB(self, env, job)
    note = getattr(self._job_pool, "note_outcome", None)
    if note is None:
        return
    state = env.program_state()
    failed = not isinstance(state, (ProgramEnded, ProgramStopped))
    note(failed, child_execution(self, job, state, started))


def child_execution(worker_, job, state, started):
    record = worker_._map_run_record
    if isinstance(state, ProgramEnded):
        return result_writer.child(record, job.job_index, worker_.child_input, started, "SUCCEEDED",
                                   output=job.job_output)
    if isinstance(state, ProgramTimedOut):
        return result_writer.child(record, job.job_index, worker_.child_input, started, "TIMED_OUT",
                                   error="States.Timeout", cause="")
    details = (state.error or {}) if isinstance(state, ProgramError) else {}
    status = "ABORTED" if isinstance(state, ProgramStopped) else "FAILED"
    return result_writer.child(record, job.job_index, worker_.child_input, started, status,
                               error=details.get("error"), cause=details.get("cause"))


def get_items_failing_as_aws(env, resource_runtime_part, state_credentials):
    """moto's ItemReader GetObject; an S3 error fails the state with States.ItemReaderFailed."""
    try:
        ORIGINAL_GET_ITEMS(env, resource_runtime_part, state_credentials)
    except ClientError as error:
        name = StatesErrorNameType.StatesItemReaderFailed
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=name),
                event_type=HistoryEventType.MapRunFailed,
                event_details={"executionFailedEventDetails": ExecutionFailedEventDetails(
                    error=name.to_name(), cause=error.response.get("Error", {}).get("Message") or str(error))},
            )
        ) from error


def tolerant_map_run(self, env, eval_input):
    """moto's DistributedIterationComponent._map_run on a TolerantJobPool, failing the Map Run
    as AWS does when the pool says the tolerance was exceeded."""
    input_items = env.stack.pop()
    pool = TolerantJobPool(
        self._get_iteration_program(),
        input_items,
        eval_input.tolerated_failure_count,
        eval_input.tolerated_failure_percentage,
        eval_input.map_run_record,
    )
    max_concurrency = eval_input.map_run_record.max_concurrency
    workers = len(input_items) if max_concurrency == DEFAULT_MAX_CONCURRENCY_VALUE else max_concurrency
    for _ in range(min(workers, len(input_items))):
        self._launch_worker(env=env, eval_input=eval_input, job_pool=pool)
    if input_items:
        pool.await_jobs()
    worker_exception = pool.get_worker_exception()
    if worker_exception is not None:
        raise worker_exception
    if pool.exceeded:
        error = StatesErrorNameType.StatesExceedToleratedFailureThreshold
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=error),
                event_type=HistoryEventType.MapRunFailed,
                event_details={"executionFailedEventDetails": ExecutionFailedEventDetails(
                    error=error.to_name(), cause=THRESHOLD_CAUSE)},
            )
        )
    env.stack.append([closed.job_output for closed in pool.get_closed_jobs()])


ORIGINAL_EVAL_JOB = worker.DistributedItemProcessorWorker._eval_job
ORIGINAL_EVAL_INPUT = worker.DistributedItemProcessorWorker._eval_input
ORIGINAL_GET_ITEMS = item_reader_s3.ResourceEvalS3._handle_get_object
