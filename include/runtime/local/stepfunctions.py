"""Run a Step Functions definition on this machine against Python Lambda handlers.

Only what the inference state machine uses is interpreted: ``Task`` (Lambda ARN resources),
``Pass``, ``Choice``, ``Succeed`` and ``Fail``, with ``InputPath``, ``Parameters``,
``ResultSelector``, ``ResultPath``, ``OutputPath``, ``Retry`` (with ``MaxDelaySeconds`` and
``JitterStrategy``) and ``Catch``. Anything else is
refused up front with :class:`UnsupportedStateError`, so a definition that runs here uses nothing
this interpreter would silently get wrong.

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
from typing import Any

from include.runtime.local.stepfunctions_paths import (
    PathError,
    get_path,
    render_template,
    set_result,
)
from include.runtime.local.stepfunctions_validation import UnsupportedStateError, validate_definition

__all__ = [
    "ExecutionResult",
    "PlaceholderError",
    "TaskFailure",
    "UnknownResourceError",
    "UnsupportedStateError",
    "load_definition",
    "run_execution",
    "substitute_placeholders",
]

Handler = Callable[[Any, Any], Any]
PAYLOAD_LIMIT_BYTES = 256 * 1024
MAX_TRANSITIONS = 25_000
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
    """A Task's Resource maps to no handler."""


class TaskFailure(Exception):
    """Raised by a handler to report a Step Functions error by name (e.g. ``Lambda.ServiceException``)."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class _StatesError(Exception):
    """An error raised inside a state, as Step Functions names it."""

    def __init__(self, error: str, cause: str, *, terminal: bool = False) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.terminal = terminal


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
) -> ExecutionResult:
    """Execute ``definition`` on ``input``; Task resources are looked up in ``resources``."""
    validate_definition(definition)
    handlers = {state_name: _resolve_handler(state_name, state["Resource"], resources)
                for state_name, state in definition["States"].items() if state["Type"] == "Task"}
    execution = name or str(uuid.uuid4())
    result = ExecutionResult(status="RUNNING")
    data = _json_copy(input)
    state_name = definition["StartAt"]
    try:
        for _ in range(MAX_TRANSITIONS):
            result.history.append(state_name)
            state = definition["States"][state_name]
            kind = state["Type"]
            if kind == "Succeed":
                return _finish(result, "SUCCEEDED", output=_passed_through(state, data))
            if kind == "Fail":
                return _finish(result, "FAILED", error=_fail_field(state, data, "Error"),
                               cause=_fail_field(state, data, "Cause"))
            if kind == "Choice":
                state_name = _choose(state, _apply_path(data, state.get("InputPath", "$")))
                data = _passed_through(state, data)
                continue
            if kind == "Pass":
                data = _run_pass(state, data)
            else:
                data, next_state = _run_task(state_name, state, data, handlers[state_name], execution, sleep)
                if next_state:
                    state_name = next_state
                    continue
            if state.get("End"):
                return _finish(result, "SUCCEEDED", output=data)
            state_name = state["Next"]
        raise _StatesError("States.Runtime", f"more than {MAX_TRANSITIONS} state transitions", terminal=True)
    except _StatesError as exc:
        return _finish(result, "FAILED", error=exc.error, cause=exc.cause)


def _finish(result: ExecutionResult, status: str, **fields: Any) -> ExecutionResult:
    result.status = status
    for key, value in fields.items():
        setattr(result, key, value)
    return result


def _resolve_handler(state_name: str, resource: str, resources: Mapping[str, Handler]) -> Handler:
    placeholder = _PLACEHOLDER.fullmatch(resource)
    for key in (resource, placeholder.group(1) if placeholder else None):
        if key is not None and key in resources:
            return resources[key]
    raise UnknownResourceError(
        f"state {state_name!r}: no handler for Resource {resource!r}; add it to resources"
    )


def _run_pass(state: Mapping[str, Any], data: Any) -> Any:
    effective = _apply_path(data, state.get("InputPath", "$"))
    if "Parameters" in state:
        effective = _render(state["Parameters"], effective)
    result = state.get("Result", effective)
    return _output(state, data, result)


def _run_task(
    state_name: str, state: Mapping[str, Any], data: Any, handler: Handler, execution: str,
    sleep: Callable[[float], None],
) -> tuple[Any, str | None]:
    """``(output, catcher's Next or None)``."""
    effective = _apply_path(data, state.get("InputPath", "$"))
    if "Parameters" in state:
        effective = _render(state["Parameters"], effective)
    attempts: dict[int, int] = {}
    while True:
        try:
            result = _invoke(handler, effective, state_name, execution)
            if "ResultSelector" in state:
                result = _render(state["ResultSelector"], result)
            return _output(state, data, result), None
        except _StatesError as exc:
            if exc.terminal:
                raise
            delay = _retry_delay(state.get("Retry", []), exc.error, attempts)
            if delay is not None:
                sleep(delay)
                continue
            for catcher in state.get("Catch", []):
                if _matches(catcher["ErrorEquals"], exc.error):
                    error_output = {"Error": exc.error, "Cause": exc.cause}
                    return _set(data, error_output, catcher.get("ResultPath", "$")), catcher["Next"]
            raise


def _invoke(handler: Handler, payload: Any, state_name: str, execution: str) -> Any:
    context = SimpleNamespace(
        function_name=state_name, aws_request_id=str(uuid.uuid4()), execution_name=execution,
        get_remaining_time_in_millis=lambda: 900_000,
    )
    try:
        result = handler(_json_copy(payload), context)
    except TaskFailure as exc:
        raise _StatesError(exc.error, exc.cause) from exc
    except Exception as exc:
        cause = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__}, separators=(",", ":"))
        raise _StatesError(type(exc).__name__, cause) from exc
    encoded = json.dumps(result)
    if len(encoded.encode("utf-8")) > PAYLOAD_LIMIT_BYTES:
        raise _StatesError(
            "States.DataLimitExceeded",
            f"The state/task {state_name!r} returned a result with a size exceeding the maximum "
            "number of bytes service limit.",
            terminal=True,
        )
    return json.loads(encoded)


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
            raise _StatesError("States.Runtime", str(exc), terminal=True) from exc
        if _CHOICE_TESTS[operator](value, rule[operator]):
            return rule["Next"]
    if "Default" not in state:
        raise _StatesError("States.NoChoiceMatched", "No Choice rule matched and no Default is set",
                           terminal=True)
    return state["Default"]


def _fail_field(state: Mapping[str, Any], data: Any, field_name: str) -> str | None:
    if f"{field_name}Path" in state:
        value = _apply_path(data, state[f"{field_name}Path"])
        return value if isinstance(value, str) else json.dumps(value)
    return state.get(field_name)


def _passed_through(state: Mapping[str, Any], data: Any) -> Any:
    return _apply_path(_apply_path(data, state.get("InputPath", "$")), state.get("OutputPath", "$"))


def _output(state: Mapping[str, Any], state_input: Any, result: Any) -> Any:
    combined = _set(state_input, result, state.get("ResultPath", "$"))
    return _apply_path(combined, state.get("OutputPath", "$"))


def _apply_path(data: Any, path: str | None) -> Any:
    if path is None:
        return {}
    try:
        return get_path(data, path)
    except PathError as exc:
        raise _StatesError("States.Runtime", str(exc), terminal=True) from exc


def _set(state_input: Any, result: Any, result_path: str | None) -> Any:
    try:
        return set_result(state_input, result, result_path)
    except PathError as exc:
        raise _StatesError("States.Runtime", str(exc), terminal=True) from exc


def _render(template: Any, data: Any) -> Any:
    try:
        return render_template(template, data)
    except PathError as exc:
        raise _StatesError("States.Runtime", str(exc), terminal=True) from exc


def _json_copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

