"""Run a Step Functions definition on this machine against Python Lambda handlers.

Only what the inference state machine uses is interpreted: ``Task`` (a Lambda function ARN, or the
``arn:aws:states:::lambda:invoke`` optimized integration), ``Map`` (inline, and distributed with an S3
``ItemReader`` and ``ResultWriter``: see :mod:`include.runtime.local.stepfunctions_map`), ``Pass``,
``Choice``, ``Succeed`` and ``Fail``, with ``InputPath``, ``Parameters``, ``ResultSelector``,
``ResultPath``, ``OutputPath``, ``Retry`` (with ``MaxDelaySeconds`` and ``JitterStrategy``) and
``Catch``. Anything else is refused up front with
:class:`UnsupportedStateError`, so a definition that runs here uses nothing this interpreter would
silently get wrong.

Handler errors become Step Functions errors the way Lambda reports them: ``Error`` is the exception
class name and ``Cause`` the JSON ``{"errorMessage", "errorType"}``. Raise :class:`TaskFailure` to
report an arbitrary error name such as ``Lambda.ServiceException``.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

from include.runtime.local.stepfunctions_errors import StatesError, TaskFailure
from include.runtime.local.stepfunctions_map import run_map
from include.runtime.local.stepfunctions_paths import PathError, get_path, state_path, state_result, state_template
from include.runtime.local.stepfunctions_validation import (
    LAMBDA_INVOKE,
    UnsupportedStateError,
    task_states,
    validate_definition,
)

__all__ = [
    "ExecutionResult",
    "MapProgress",
    "ObjectAccess",
    "PlaceholderError",
    "TaskFailure",
    "UnknownResourceError",
    "UnsupportedStateError",
    "load_definition",
    "run_execution",
    "substitute_placeholders",
]

Handler = Callable[[Any, Any], Any]
MapProgress = Callable[[int, int, int], None]
"""Called as ``progress(finished, failed, total)`` while a distributed Map runs its items."""
PAYLOAD_LIMIT_BYTES = 256 * 1024
MAX_TRANSITIONS = 25_000
LOCAL_STATE_MACHINE_ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:local"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_CHOICE_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "StringEquals": lambda value, expected: isinstance(value, str) and value == expected,
    "NumericEquals": lambda value, expected: _is_number(value) and value == expected,
    "NumericLessThan": lambda value, expected: _is_number(value) and value < expected,
    "NumericGreaterThanEquals": lambda value, expected: _is_number(value) and value >= expected,
    "BooleanEquals": lambda value, expected: isinstance(value, bool) and value == expected,
}


class PlaceholderError(KeyError):
    """A ``${Name}`` placeholder in the definition has no value."""


class UnknownResourceError(LookupError):
    """A Task's Lambda function maps to no handler."""


class ObjectAccess(Protocol):
    """The S3 calls a distributed Map's ``ItemReader`` (GetObject) and ``ResultWriter`` (PutObject) make."""

    def get_object(self, bucket: str, key: str) -> bytes: ...
    def put_object(self, bucket: str, key: str, body: bytes) -> None: ...


@dataclass
class ExecutionResult:
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[str] = field(default_factory=list)


def substitute_placeholders(text: str, substitutions: Mapping[str, str]) -> str:
    """Replace ``${Name}`` like CloudFormation's ``DefinitionSubstitutions``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise PlaceholderError(
                f"definition placeholder ${{{name}}} has no value: pass {name} in substitutions"
            )
        return substitutions[name]

    return _PLACEHOLDER.sub(replace, text)


def load_definition(path: str | Path, substitutions: Mapping[str, str]) -> dict[str, Any]:
    """Read an ASL file and fill its ``${...}`` placeholders."""
    return json.loads(substitute_placeholders(Path(path).read_text(encoding="utf-8"), substitutions))


def run_execution(
    definition: Mapping[str, Any],
    input: Any,
    resources: Mapping[str, Handler],
    *,
    name: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    objects: ObjectAccess | None = None,
    state_machine_arn: str = LOCAL_STATE_MACHINE_ARN,
    progress: MapProgress | None = None,
) -> ExecutionResult:
    """Execute ``definition`` on ``input``; Lambda functions are looked up in ``resources``.

    ``objects`` serves a distributed Map's S3 reads and writes; ``state_machine_arn`` names the machine
    in the ARNs of Map Runs and child executions.
    """
    validate_definition(definition)
    handlers = {function: _resolve_handler(state_name, function, resources)
                for state_name, function in task_states(definition)}
    interpreter = Interpreter(handlers, execution=name or str(uuid.uuid4()), sleep=sleep, objects=objects,
                              state_machine_arn=state_machine_arn, progress=progress)
    result = ExecutionResult(status="RUNNING")
    status, output, error, cause = interpreter.run_states(definition, input, result.history)
    result.status, result.output, result.error, result.cause = status, output, error, cause
    return result


def _resolve_handler(state_name: str, function: str, resources: Mapping[str, Handler]) -> Handler:
    placeholder = _PLACEHOLDER.fullmatch(function)
    for key in (function, placeholder.group(1) if placeholder else None):
        if key is not None and key in resources:
            return resources[key]
    raise UnknownResourceError(
        f"state {state_name!r}: no Lambda handler for function {function!r}; pass its handler in resources "
        "under that ARN (or its ${Placeholder} name)"
    )


class Interpreter:
    """Runs states: one per execution, shared by the child executions of its distributed Maps."""

    def __init__(self, handlers: Mapping[str, Handler], *, execution: str, sleep: Callable[[float], None],
                 objects: ObjectAccess | None, state_machine_arn: str, progress: MapProgress | None) -> None:
        self.handlers = handlers
        self.execution = execution
        self.sleep = sleep
        self.objects = objects
        self.state_machine_arn = state_machine_arn
        self.progress = progress

    def run_states(self, machine: Mapping[str, Any], input: Any,
                   history: list[str]) -> tuple[str, Any, str | None, str | None]:
        """Run ``machine`` (a definition or an ``ItemProcessor``): ``(status, output, error, cause)``."""
        data = _json_copy(input)
        state_name = machine["StartAt"]
        states = machine["States"]
        try:
            for _ in range(MAX_TRANSITIONS):
                history.append(state_name)
                state = states[state_name]
                kind = state["Type"]
                if kind == "Succeed":
                    return "SUCCEEDED", _passed_through(state, data), None, None
                if kind == "Fail":
                    return "FAILED", None, _fail_field(state, data, "Error"), _fail_field(state, data, "Cause")
                if kind == "Choice":
                    state_name = _choose(state, state_path(data, state.get("InputPath", "$")))
                    data = _passed_through(state, data)
                    continue
                if kind == "Pass":
                    data, next_state = _run_pass(state, data), None
                else:
                    data, next_state = self._run_with_retry(state_name, state, data, history)
                if next_state:
                    state_name = next_state
                    continue
                if state.get("End"):
                    return "SUCCEEDED", data, None, None
                state_name = state["Next"]
            raise StatesError("States.Runtime", f"more than {MAX_TRANSITIONS} state transitions", terminal=True)
        except StatesError as exc:
            return "FAILED", None, exc.error, exc.cause

    def _run_with_retry(self, state_name: str, state: Mapping[str, Any], data: Any,
                        history: list[str]) -> tuple[Any, str | None]:
        """A Task or Map state with its ``Retry`` and ``Catch``: ``(output, catcher's Next or None)``."""
        attempts: dict[int, int] = {}
        while True:
            try:
                if state["Type"] == "Map":
                    result = run_map(self, state_name, state, state_path(data, state.get("InputPath", "$")),
                                     history)
                else:
                    result = self._invoke_task(state_name, state, data)
                if "ResultSelector" in state:
                    result = state_template(state["ResultSelector"], result)
                return _output(state, data, result), None
            except StatesError as exc:
                if exc.terminal:
                    raise
                delay = _retry_delay(state.get("Retry", []), exc.error, attempts)
                if delay is not None:
                    self.sleep(delay)
                    continue
                for catcher in state.get("Catch", []):
                    if _matches(catcher["ErrorEquals"], exc.error):
                        error_output = {"Error": exc.error, "Cause": exc.cause}
                        return state_result(data, error_output, catcher.get("ResultPath", "$")), catcher["Next"]
                raise

    def _invoke_task(self, state_name: str, state: Mapping[str, Any], data: Any) -> Any:
        effective = state_path(data, state.get("InputPath", "$"))
        if "Parameters" in state:
            effective = state_template(state["Parameters"], effective)
        if state["Resource"] != LAMBDA_INVOKE:
            return self._call_handler(state["Resource"], effective, state_name)
        function = effective["FunctionName"]
        request_id = str(uuid.uuid4())
        payload = self._call_handler(function, effective.get("Payload", {}), state_name, request_id)
        return lambda_invoke_result(payload, request_id)

    def _call_handler(self, function: str, payload: Any, state_name: str, request_id: str | None = None) -> Any:
        context = SimpleNamespace(
            function_name=function.rsplit(":", 1)[-1].strip("${}"), aws_request_id=request_id or str(uuid.uuid4()),
            execution_name=self.execution, get_remaining_time_in_millis=lambda: 900_000,
        )
        try:
            result = self.handlers[function](_json_copy(payload), context)
        except TaskFailure as exc:
            raise StatesError(exc.error, exc.cause) from exc
        except Exception as exc:
            cause = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__}, separators=(",", ":"))
            raise StatesError(type(exc).__name__, cause) from exc
        encoded = json.dumps(result)
        if len(encoded.encode("utf-8")) > PAYLOAD_LIMIT_BYTES:
            raise StatesError(
                "States.DataLimitExceeded",
                f"The state/task {state_name!r} returned a result with a size exceeding the maximum "
                "number of bytes service limit.",
                terminal=True,
            )
        return json.loads(encoded)


def lambda_invoke_result(payload: Any, request_id: str) -> dict[str, Any]:
    """What ``arn:aws:states:::lambda:invoke`` returns: Lambda's Invoke response around the function's result."""
    headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST",
               "x-amzn-RequestId": request_id}
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {"AllHttpHeaders": {name: [value] for name, value in headers.items()},
                            "HttpHeaders": headers, "HttpStatusCode": 200},
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def _run_pass(state: Mapping[str, Any], data: Any) -> Any:
    effective = state_path(data, state.get("InputPath", "$"))
    if "Parameters" in state:
        effective = state_template(state["Parameters"], effective)
    result = state.get("Result", effective)
    return _output(state, data, result)


def _retry_delay(retriers: list[Mapping[str, Any]], error: str, attempts: dict[int, int]) -> float | None:
    for index, retrier in enumerate(retriers):
        if _matches(retrier["ErrorEquals"], error):
            done = attempts.get(index, 0)
            if done >= retrier.get("MaxAttempts", 3):
                return None
            attempts[index] = done + 1
            delay = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** done
            delay = min(delay, retrier.get("MaxDelaySeconds", delay))
            return random.uniform(0, delay) if retrier.get("JitterStrategy") == "FULL" else delay
    return None


def _matches(error_equals: list[str], error: str) -> bool:
    return "States.ALL" in error_equals or error in error_equals or (
        "States.TaskFailed" in error_equals and error != "States.Timeout"
    )


def _choose(state: Mapping[str, Any], data: Any) -> str:
    for rule in state["Choices"]:
        operator = next(key for key in rule if key in _CHOICE_TESTS)
        try:
            value = get_path(data, rule["Variable"])
        except PathError as exc:
            raise StatesError("States.Runtime", str(exc), terminal=True) from exc
        if _CHOICE_TESTS[operator](value, rule[operator]):
            return rule["Next"]
    if "Default" not in state:
        raise StatesError("States.NoChoiceMatched", "No Choice rule matched and no Default is set",
                          terminal=True)
    return state["Default"]


def _fail_field(state: Mapping[str, Any], data: Any, field_name: str) -> str | None:
    if f"{field_name}Path" in state:
        value = state_path(data, state[f"{field_name}Path"])
        return value if isinstance(value, str) else json.dumps(value)
    return state.get(field_name)


def _passed_through(state: Mapping[str, Any], data: Any) -> Any:
    return state_path(state_path(data, state.get("InputPath", "$")), state.get("OutputPath", "$"))


def _output(state: Mapping[str, Any], state_input: Any, result: Any) -> Any:
    combined = state_result(state_input, result, state.get("ResultPath", "$"))
    return state_path(combined, state.get("OutputPath", "$"))


def _json_copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
