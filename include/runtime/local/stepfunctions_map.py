"""The ``Map`` state on this machine: inline, or distributed over an S3 ``ItemReader`` with a ``ResultWriter``.

Items run on a pool of threads bounded by ``MaxConcurrency`` (0 means "as many as Step Functions allows";
here at most :data:`UNBOUNDED_POOL` threads, the handlers being I/O bound).

Inline: each item runs the ``ItemProcessor`` in the parent execution; the first failed item fails the Map
with that item's error (no new items start), and the Map's ``Retry``/``Catch`` apply.

Distributed: each item is a child execution of its own (named like Step Functions names them, under the
Map Run). A failed child is counted, not raised; once the failures exceed ``ToleratedFailurePercentage``
(of all items) or ``ToleratedFailureCount`` (both 0 by default), no further child starts and the Map fails
with ``States.ExceedToleratedFailureThreshold``. The ``ResultWriter`` writes what Step Functions writes:
``<Prefix>/<Map Run id>/SUCCEEDED_0.json``, ``FAILED_0.json`` (failed children), ``PENDING_0.json``
(children never started) and ``manifest.json`` naming them, even when the Map fails; the Map's result is
then ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}``. Without a ``ResultWriter`` the result is
the children's outputs in item order, ``None`` for a failed child.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from include.runtime.local.stepfunctions_errors import StatesError
from include.runtime.local.stepfunctions_paths import state_path, state_template

if TYPE_CHECKING:
    from include.runtime.local.stepfunctions import Interpreter

UNBOUNDED_POOL = 64
TOLERANCE_EXCEEDED = "States.ExceedToleratedFailureThreshold"
_RUN_NAMESPACE = uuid.UUID("6f0f6c1e-5b1d-4c1e-9d57-8a3c2e1d0b7a")


@dataclass
class ChildOutcome:
    """One item's run: a child execution (distributed) or an iteration (inline)."""

    index: int
    input: Any
    status: str = "PENDING"
    output: Any = None
    error: str | None = None
    cause: str | None = None
    name: str = ""
    started: datetime | None = None
    stopped: datetime | None = None
    history: list[str] = field(default_factory=list)


def run_map(interpreter: Interpreter, state_name: str, state: Mapping[str, Any], effective: Any,
            history: list[str]) -> Any:
    """The Map state's result (before ``ResultSelector`` / ``ResultPath`` / ``OutputPath``)."""
    processor = state["ItemProcessor"]
    distributed = processor.get("ProcessorConfig", {}).get("Mode", "INLINE") == "DISTRIBUTED"
    if "ItemReader" in state:
        items = _read_items(interpreter, state["ItemReader"], effective)
    else:
        items = state_path(effective, state.get("ItemsPath", "$"))
        if not isinstance(items, list):
            raise StatesError("States.Runtime", f"state {state_name!r}: the Map's items must be a JSON array, "
                              f"got {type(items).__name__}", terminal=True)
    concurrency = _count(state, "MaxConcurrency", effective, default=0)
    if not distributed:
        outcomes = _run_pool(interpreter, processor, items, concurrency, stop_on_failure=True)
        for outcome in outcomes:
            history.extend(outcome.history)
        failed = next((o for o in outcomes if o.status == "FAILED"), None)
        if failed is not None:
            raise StatesError(failed.error or "States.TaskFailed", failed.cause or "")
        return [outcome.output for outcome in outcomes]
    run = MapRun.start(interpreter.state_machine_arn, interpreter.execution, state.get("Label", state_name))
    tolerated_percentage = (_number(state, "ToleratedFailurePercentage", effective, default=0.0, maximum=100.0)
                            if _given(state, "ToleratedFailurePercentage") else None)
    tolerated_count = (_count(state, "ToleratedFailureCount", effective, default=0)
                       if _given(state, "ToleratedFailureCount") else None)
    tolerance = _Tolerance(len(items), tolerated_percentage, tolerated_count, interpreter.progress)
    outcomes = _run_pool(interpreter, processor, items, concurrency, stop_on_failure=False, run=run,
                         tolerance=tolerance)
    result: Any = [outcome.output for outcome in outcomes]
    if "ResultWriter" in state:
        result = _write_results(interpreter, state["ResultWriter"], effective, run, outcomes)
    if tolerance.exceeded:
        raise StatesError(TOLERANCE_EXCEEDED, "The specified tolerated failure threshold was exceeded")
    return result


@dataclass(frozen=True)
class MapRun:
    """A distributed Map's run: its ARN, and the ARNs it gives its child executions."""

    arn: str
    run_id: str
    child_machine_arn: str
    child_execution_prefix: str

    @classmethod
    def start(cls, state_machine_arn: str, execution: str, label: str) -> MapRun:
        run_id = str(uuid.uuid5(_RUN_NAMESPACE, f"{state_machine_arn}:{execution}:{label}"))
        return cls(
            arn=f"{state_machine_arn.replace(':stateMachine:', ':mapRun:', 1)}/{label}:{run_id}",
            run_id=run_id,
            child_machine_arn=f"{state_machine_arn}/{label}",
            child_execution_prefix=f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}/{label}",
        )

    def child_name(self, index: int) -> str:
        return str(uuid.uuid5(_RUN_NAMESPACE, f"{self.arn}:{index}"))


class _Tolerance:
    """Counts finished and failed children; says when the failures exceed a threshold the Map set.

    Step Functions fails the Map Run when the failures exceed either threshold given; with neither given, the
    tolerated percentage is 0 (any failure fails it).
    """

    def __init__(self, total: int, percentage: float | None, count: int | None,
                 progress: Callable[[int, int, int], None] | None) -> None:
        self.total, self.progress = total, progress
        self.percentage = 0.0 if percentage is None and count is None else percentage
        self.count = count
        self.finished = self.failed = 0
        self.exceeded = False
        self._lock = threading.Lock()

    def record(self, outcome: ChildOutcome) -> bool:
        """Count ``outcome``; False once no further child may start."""
        with self._lock:
            self.finished += 1
            if outcome.status != "SUCCEEDED":
                self.failed += 1
                over_count = self.count is not None and self.failed > self.count
                over_share = self.percentage is not None and self.failed * 100 > self.percentage * self.total
                self.exceeded = self.exceeded or over_count or over_share
            finished, failed, exceeded = self.finished, self.failed, self.exceeded
        if self.progress:
            self.progress(finished, failed, self.total)
        return not exceeded


def _run_pool(interpreter: Interpreter, processor: Mapping[str, Any], items: list[Any], concurrency: int, *,
              stop_on_failure: bool, run: MapRun | None = None, tolerance: _Tolerance | None = None
              ) -> list[ChildOutcome]:
    outcomes = [ChildOutcome(index, item) for index, item in enumerate(items)]
    workers = min(len(items), concurrency or UNBOUNDED_POOL)
    lock = threading.Lock()
    stop = threading.Event()
    position = iter(range(len(items)))
    crashed: list[BaseException] = []

    def work() -> None:
        while not stop.is_set():
            with lock:
                index = next(position, None)
            if index is None:
                return
            outcome = outcomes[index]
            try:
                _run_item(interpreter, processor, outcome, run)
            except BaseException as exc:  # a bug, not a state error: stop everything and re-raise
                crashed.append(exc)
                stop.set()
                return
            keep_going = tolerance.record(outcome) if tolerance else outcome.status == "SUCCEEDED"
            if not keep_going and (stop_on_failure or tolerance):
                stop.set()

    threads = [threading.Thread(target=work, name=f"map-item-{n}", daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if crashed:
        raise crashed[0]
    return outcomes


def _run_item(interpreter: Interpreter, processor: Mapping[str, Any], outcome: ChildOutcome,
              run: MapRun | None) -> None:
    if run is not None:
        outcome.name = run.child_name(outcome.index)
    outcome.started = datetime.now(UTC)
    outcome.status, outcome.output, outcome.error, outcome.cause = interpreter.run_states(
        processor, outcome.input, outcome.history)
    outcome.stopped = datetime.now(UTC)


def _read_items(interpreter: Interpreter, reader: Mapping[str, Any], effective: Any) -> list[Any]:
    location = state_template(reader.get("Parameters", {}), effective)
    if interpreter.objects is None:
        raise StatesError("States.ItemReaderFailed", "no S3 access was given to this local execution", terminal=True)
    try:
        body = interpreter.objects.get_object(location["Bucket"], location["Key"])
    except Exception as exc:
        raise StatesError("States.ItemReaderFailed",
                          f"could not read s3://{location['Bucket']}/{location['Key']}: {exc}") from exc
    try:
        items = json.loads(body)
    except ValueError as exc:
        raise StatesError("States.ItemReaderFailed",
                          f"s3://{location['Bucket']}/{location['Key']} is not JSON: {exc}") from exc
    if not isinstance(items, list):
        raise StatesError("States.ItemReaderFailed",
                          f"s3://{location['Bucket']}/{location['Key']} holds a JSON {type(items).__name__}, "
                          "not an array")
    return items


def _write_results(interpreter: Interpreter, writer: Mapping[str, Any], effective: Any, run: MapRun,
                   outcomes: list[ChildOutcome]) -> dict[str, Any]:
    location = state_template(writer.get("Parameters", {}), effective)
    bucket, prefix = location["Bucket"], str(location.get("Prefix", "")).strip("/")
    folder = f"{prefix}/{run.run_id}" if prefix else run.run_id
    by_status: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for outcome in outcomes:
        record = result_record(outcome, run)
        by_status["SUCCEEDED" if outcome.status == "SUCCEEDED" else
                  "PENDING" if outcome.status == "PENDING" else "FAILED"].append(record)
    files: dict[str, list[dict[str, Any]]] = {status: [] for status in by_status}
    manifest_key = f"{folder}/manifest.json"
    try:
        for status, records in by_status.items():
            if records:
                key = f"{folder}/{status}_0.json"
                body = json.dumps(records).encode()
                interpreter.objects.put_object(bucket, key, body)
                files[status].append({"Key": key, "Size": len(body)})
        manifest = {"DestinationBucket": bucket, "MapRunArn": run.arn, "ResultFiles": files}
        interpreter.objects.put_object(bucket, manifest_key, json.dumps(manifest, indent=2).encode())
    except Exception as exc:
        raise StatesError("States.ResultWriterFailed", f"could not write results to s3://{bucket}/{folder}/: {exc}",
                          terminal=True) from exc
    return {"MapRunArn": run.arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}


def result_record(outcome: ChildOutcome, run: MapRun) -> dict[str, Any]:
    """One child execution in a ResultWriter file, in the shape Step Functions writes (NONE transformation)."""
    record: dict[str, Any] = {"Input": json.dumps(outcome.input, separators=(",", ":")),
                              "InputDetails": {"Included": True}, "Status": outcome.status}
    if outcome.status == "PENDING":
        return record
    record.update(
        ExecutionArn=f"{run.child_execution_prefix}:{outcome.name}",
        Name=outcome.name,
        OutputDetails={"Included": True},
        RedriveCount=0,
        StartDate=_timestamp(outcome.started),
        StateMachineArn=run.child_machine_arn,
        StopDate=_timestamp(outcome.stopped),
    )
    if outcome.status == "SUCCEEDED":
        record.update(Output=json.dumps(outcome.output, separators=(",", ":")), RedriveStatus="NOT_REDRIVABLE",
                      RedriveStatusReason="Execution is SUCCEEDED and cannot be redriven")
    else:
        record.update(Error=outcome.error, Cause=outcome.cause, RedriveStatus="REDRIVABLE_BY_MAP_RUN")
    return dict(sorted(record.items()))


def _timestamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _given(state: Mapping[str, Any], field_name: str) -> bool:
    return field_name in state or f"{field_name}Path" in state


def _count(state: Mapping[str, Any], field_name: str, effective: Any, *, default: int) -> int:
    value = _number(state, field_name, effective, default=default)
    if value != int(value):
        raise StatesError("States.Runtime", f"{field_name} must be a whole number, got {value}", terminal=True)
    return int(value)


def _number(state: Mapping[str, Any], field_name: str, effective: Any, *, default: float,
            maximum: float | None = None) -> float:
    if f"{field_name}Path" in state:
        value = state_path(effective, state[f"{field_name}Path"])
        where = f"{field_name}Path {state[f'{field_name}Path']!r}"
    else:
        value, where = state.get(field_name, default), field_name
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (
            maximum is not None and value > maximum):
        bound = f" at most {maximum:g}" if maximum is not None else ""
        raise StatesError("States.Runtime", f"{where} must be a non-negative number{bound}, got {value!r}",
                          terminal=True)
    return value
