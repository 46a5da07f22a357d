"""Up-front check that a definition uses only what the local interpreter implements.

Every state of every ``ItemProcessor`` is checked too, and every Task's Lambda function is found (a
function ARN as the ``Resource``, or the static ``FunctionName`` of ``arn:aws:states:::lambda:invoke``),
so an execution never stops half-way on something this interpreter does not know.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from include.runtime.local.stepfunctions_paths import PathError, parse_path

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
S3_PUT_OBJECT = "arn:aws:states:::s3:putObject"
TOP_LEVEL_FIELDS = {"Comment", "StartAt", "States", "Version"}
COMMON_FIELDS = {"Type", "Comment"}
FLOW_FIELDS = {"Next", "End"}
STATE_FIELDS: dict[str, set[str]] = {
    "Task": COMMON_FIELDS | FLOW_FIELDS | {
        "Resource", "InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath", "Retry", "Catch",
    },
    "Map": COMMON_FIELDS | FLOW_FIELDS | {
        "InputPath", "ItemsPath", "ItemReader", "ItemProcessor", "Label", "MaxConcurrency", "MaxConcurrencyPath",
        "ToleratedFailurePercentage", "ToleratedFailurePercentagePath", "ToleratedFailureCount",
        "ToleratedFailureCountPath", "ResultWriter", "ResultSelector", "ResultPath", "OutputPath", "Retry", "Catch",
    },
    "Pass": COMMON_FIELDS | FLOW_FIELDS | {"InputPath", "Parameters", "Result", "ResultPath", "OutputPath"},
    "Choice": COMMON_FIELDS | {"Choices", "Default", "InputPath", "OutputPath"},
    "Succeed": COMMON_FIELDS | {"InputPath", "OutputPath"},
    "Fail": COMMON_FIELDS | {"Error", "Cause", "ErrorPath", "CausePath"},
}
RETRY_FIELDS = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy"}
CATCH_FIELDS = {"ErrorEquals", "ResultPath", "Next"}
CHOICE_OPERATORS = {
    "StringEquals", "NumericEquals", "NumericLessThan", "NumericGreaterThanEquals", "BooleanEquals",
}
PATH_FIELDS = ("InputPath", "ItemsPath", "ResultPath", "OutputPath", "ErrorPath", "CausePath", "MaxConcurrencyPath",
               "ToleratedFailurePercentagePath", "ToleratedFailureCountPath")
LAMBDA_INVOKE_PARAMETERS = {"FunctionName", "Payload", "Payload.$"}
PROCESSOR_FIELDS = {"ProcessorConfig", "StartAt", "States", "Comment"}
PROCESSOR_CONFIG_FIELDS = {"Mode", "ExecutionType"}
ITEM_READER_FIELDS = {"Resource", "ReaderConfig", "Parameters"}
RESULT_WRITER_FIELDS = {"Resource", "Parameters"}


class UnsupportedStateError(ValueError):
    """The definition uses a state type or field the local interpreter does not implement."""


def validate_definition(definition: Mapping[str, Any]) -> None:
    """Raise :class:`UnsupportedStateError` naming the first unsupported state and field."""
    _only(set(definition), TOP_LEVEL_FIELDS, "the definition")
    _check_machine(definition, "the definition")


def task_states(machine: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(state name, Lambda function)`` of every Task, inside ``ItemProcessor``s too."""
    for name, state in machine["States"].items():
        if state["Type"] == "Task":
            yield name, lambda_function(state)
        elif state["Type"] == "Map":
            yield from task_states(state["ItemProcessor"])


def lambda_function(state: Mapping[str, Any]) -> str:
    """The Lambda function a Task calls: its Resource, or the FunctionName lambda:invoke passes."""
    if state["Resource"] == LAMBDA_INVOKE:
        return state["Parameters"]["FunctionName"]
    return state["Resource"]


def _check_machine(machine: Mapping[str, Any], where: str) -> None:
    states = machine.get("States")
    if not isinstance(states, Mapping) or machine.get("StartAt") not in states:
        raise UnsupportedStateError(f"{where} needs States and a StartAt naming one of them")
    for name, state in states.items():
        kind = state.get("Type")
        if kind not in STATE_FIELDS:
            raise UnsupportedStateError(
                f"state {name!r}: Type {kind!r} is not supported locally (supported: {sorted(STATE_FIELDS)})"
            )
        here = f"state {name!r} ({kind})"
        _only(set(state), STATE_FIELDS[kind], here)
        _check_paths(state, here)
        for retrier in state.get("Retry", []):
            _only(set(retrier), RETRY_FIELDS, f"{here} Retry")
            if retrier.get("JitterStrategy", "NONE") not in ("NONE", "FULL"):
                raise UnsupportedStateError(f"{here} Retry: JitterStrategy must be NONE or FULL")
        for catcher in state.get("Catch", []):
            _only(set(catcher), CATCH_FIELDS, f"{here} Catch")
            _check_path(catcher.get("ResultPath"), f"{here} Catch.ResultPath")
            _check_target(states, catcher.get("Next"), f"{here} Catch.Next")
        if kind in ("Task", "Pass", "Map"):
            if bool(state.get("End")) == ("Next" in state):
                raise UnsupportedStateError(f"{here}: set exactly one of Next and End")
            if "Next" in state:
                _check_target(states, state["Next"], f"{here} Next")
        if kind == "Choice":
            _check_choice(states, state, here)
        if kind == "Task":
            _check_resource(state, here)
        if kind == "Map":
            _check_map(state, here)


def _check_resource(state: Mapping[str, Any], where: str) -> None:
    resource = state.get("Resource")
    if not isinstance(resource, str):
        raise UnsupportedStateError(f"{where}: Resource must be a string")
    if resource.startswith("arn:aws:states:::"):
        if resource != LAMBDA_INVOKE:
            raise UnsupportedStateError(
                f"{where}: Resource {resource!r} is not supported locally: use a Lambda function ARN or "
                f"{LAMBDA_INVOKE!r}"
            )
        parameters = state.get("Parameters")
        if not isinstance(parameters, Mapping) or not isinstance(parameters.get("FunctionName"), str):
            raise UnsupportedStateError(
                f"{where}: {LAMBDA_INVOKE} needs Parameters with a static FunctionName (FunctionName.$ is not "
                "supported locally)"
            )
        _only(set(parameters), LAMBDA_INVOKE_PARAMETERS, f"{where} Parameters of {LAMBDA_INVOKE}")
    elif not (resource.startswith("arn:aws:lambda:") or resource.startswith("${")):
        raise UnsupportedStateError(
            f"{where}: Resource {resource!r} is not supported locally: use a Lambda function ARN or {LAMBDA_INVOKE!r}"
        )


def _check_map(state: Mapping[str, Any], where: str) -> None:
    processor = state.get("ItemProcessor")
    if not isinstance(processor, Mapping):
        raise UnsupportedStateError(f"{where}: needs an ItemProcessor (Iterator is not supported locally)")
    _only(set(processor), PROCESSOR_FIELDS, f"{where} ItemProcessor")
    config = processor.get("ProcessorConfig", {})
    _only(set(config), PROCESSOR_CONFIG_FIELDS, f"{where} ProcessorConfig")
    mode = config.get("Mode", "INLINE")
    if mode not in ("INLINE", "DISTRIBUTED"):
        raise UnsupportedStateError(f"{where}: ProcessorConfig.Mode {mode!r} is neither INLINE nor DISTRIBUTED")
    if config.get("ExecutionType", "STANDARD") not in ("STANDARD", "EXPRESS"):
        raise UnsupportedStateError(f"{where}: ProcessorConfig.ExecutionType must be STANDARD or EXPRESS")
    distributed_only = [f for f in ("ItemReader", "ResultWriter", "ToleratedFailurePercentage",
                                    "ToleratedFailurePercentagePath", "ToleratedFailureCount",
                                    "ToleratedFailureCountPath", "Label") if f in state]
    if mode == "INLINE" and distributed_only:
        raise UnsupportedStateError(f"{where}: {distributed_only[0]} needs ProcessorConfig.Mode DISTRIBUTED")
    for plain, path in (("MaxConcurrency", "MaxConcurrencyPath"),
                        ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
                        ("ToleratedFailureCount", "ToleratedFailureCountPath")):
        if plain in state and path in state:
            raise UnsupportedStateError(f"{where}: set {plain} or {path}, not both")
    if "ItemReader" in state:
        _check_s3_integration(state["ItemReader"], ITEM_READER_FIELDS, S3_GET_OBJECT, ("Bucket", "Key"),
                              f"{where} ItemReader")
        reader_config = state["ItemReader"].get("ReaderConfig", {})
        _only(set(reader_config), {"InputType"}, f"{where} ItemReader.ReaderConfig")
        if reader_config.get("InputType") != "JSON":
            raise UnsupportedStateError(
                f"{where} ItemReader: InputType {reader_config.get('InputType')!r} is not supported locally: "
                "use a JSON array (ReaderConfig.InputType JSON)"
            )
    if "ResultWriter" in state:
        _check_s3_integration(state["ResultWriter"], RESULT_WRITER_FIELDS, S3_PUT_OBJECT, ("Bucket", "Prefix"),
                              f"{where} ResultWriter")
    _check_machine(processor, f"{where} ItemProcessor")


def _check_s3_integration(block: Any, fields: set[str], resource: str, parameters: tuple[str, ...],
                          where: str) -> None:
    if not isinstance(block, Mapping):
        raise UnsupportedStateError(f"{where} must be an object")
    _only(set(block), fields, where)
    if block.get("Resource") != resource:
        raise UnsupportedStateError(f"{where}: Resource {block.get('Resource')!r} is not supported locally: "
                                    f"use {resource!r}")
    given = block.get("Parameters", {})
    names = {name.removesuffix(".$") for name in given}
    _only(names, set(parameters), f"{where} Parameters")
    missing = [name for name in parameters if name not in names and name != "Prefix"]
    if missing:
        raise UnsupportedStateError(f"{where} Parameters: {missing[0]} is missing")
    _check_template(given, f"{where} Parameters")


def _check_choice(states: Mapping[str, Any], state: Mapping[str, Any], where: str) -> None:
    for rule in state.get("Choices", []):
        operators = set(rule) - {"Variable", "Next"}
        if len(operators) != 1 or not operators <= CHOICE_OPERATORS:
            raise UnsupportedStateError(
                f"{where}: choice rule fields {sorted(operators)} are not supported; "
                f"use Variable with one of {sorted(CHOICE_OPERATORS)}"
            )
        _check_path(rule.get("Variable"), f"{where} Choices.Variable")
        _check_target(states, rule.get("Next"), f"{where} Choices.Next")
    if "Default" in state:
        _check_target(states, state["Default"], f"{where} Default")


def _check_paths(state: Mapping[str, Any], where: str) -> None:
    for field in PATH_FIELDS:
        if field in state and state[field] is not None:
            _check_path(state[field], f"{where} {field}")
    for field in ("Parameters", "ResultSelector"):
        if field in state:
            _check_template(state[field], f"{where} {field}")


def _check_template(template: Any, where: str) -> None:
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$"):
                _check_path(value, f"{where}.{key}")
            else:
                _check_template(value, f"{where}.{key}")
    elif isinstance(template, list):
        for item in template:
            _check_template(item, where)


def _check_path(path: Any, where: str) -> None:
    if path is None:
        return
    try:
        parse_path(path)
    except PathError as exc:
        raise UnsupportedStateError(f"{where}: {exc}") from None


def _check_target(states: Mapping[str, Any], target: Any, where: str) -> None:
    if target not in states:
        raise UnsupportedStateError(f"{where}: {target!r} is not a state of this definition")


def _only(fields: set[str], allowed: set[str], where: str) -> None:
    extra = sorted(fields - allowed)
    if extra:
        raise UnsupportedStateError(
            f"{where}: field {extra[0]!r} is not supported locally (supported: {sorted(allowed)})"
        )
