"""Up-front check that a definition uses only what the local interpreter implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from include.runtime.local.stepfunctions_paths import PathError, parse_path

TOP_LEVEL_FIELDS = {"Comment", "StartAt", "States", "Version"}
COMMON_FIELDS = {"Type", "Comment"}
FLOW_FIELDS = {"Next", "End"}
STATE_FIELDS: dict[str, set[str]] = {
    "Task": COMMON_FIELDS | FLOW_FIELDS | {
        "Resource", "InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath", "Retry", "Catch",
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
PATH_FIELDS = ("InputPath", "ResultPath", "OutputPath", "ErrorPath", "CausePath")


class UnsupportedStateError(ValueError):
    """The definition uses a state type or field the local interpreter does not implement."""


def validate_definition(definition: Mapping[str, Any]) -> None:
    """Raise :class:`UnsupportedStateError` naming the first unsupported state and field."""
    _only(set(definition), TOP_LEVEL_FIELDS, "the definition")
    states = definition.get("States")
    if not isinstance(states, Mapping) or definition.get("StartAt") not in states:
        raise UnsupportedStateError("the definition needs States and a StartAt naming one of them")
    for name, state in states.items():
        kind = state.get("Type")
        if kind not in STATE_FIELDS:
            raise UnsupportedStateError(
                f"state {name!r}: Type {kind!r} is not supported locally (supported: {sorted(STATE_FIELDS)})"
            )
        where = f"state {name!r} ({kind})"
        _only(set(state), STATE_FIELDS[kind], where)
        _check_paths(state, where)
        for retrier in state.get("Retry", []):
            _only(set(retrier), RETRY_FIELDS, f"{where} Retry")
            if retrier.get("JitterStrategy", "NONE") not in ("NONE", "FULL"):
                raise UnsupportedStateError(f"{where} Retry: JitterStrategy must be NONE or FULL")
        for catcher in state.get("Catch", []):
            _only(set(catcher), CATCH_FIELDS, f"{where} Catch")
            _check_path(catcher.get("ResultPath"), f"{where} Catch.ResultPath")
            _check_target(states, catcher.get("Next"), f"{where} Catch.Next")
        if kind in ("Task", "Pass"):
            if bool(state.get("End")) == ("Next" in state):
                raise UnsupportedStateError(f"{where}: set exactly one of Next and End")
            if "Next" in state:
                _check_target(states, state["Next"], f"{where} Next")
        if kind == "Choice":
            _check_choice(states, state, where)


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
