"""The JSONPath subset Amazon States Language uses here: ``$``, ``$.a.b`` and ``$.a[0]``.

``state_path``, ``state_template`` and ``state_result`` are what states use: a path that does not resolve
fails the state with ``States.Runtime``, as in Step Functions.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from include.runtime.local.stepfunctions_errors import StatesError

_SEGMENT = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]")


class PathError(ValueError):
    """A reference path is unsupported or does not resolve against the state's data."""


def parse_path(path: str) -> list[str | int]:
    """``"$.a[0].b"`` -> ``["a", 0, "b"]``."""
    if not isinstance(path, str) or not path.startswith("$") or path.startswith("$$"):
        raise PathError(f"path {path!r} is not supported: use a reference path like $.field.sub[0]")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if not match:
            raise PathError(f"path {path!r} is not supported at {path[position:]!r}: use $.field.sub[0]")
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    return steps


def get_path(data: Any, path: str) -> Any:
    """The value ``path`` selects from ``data``."""
    value = data
    for step in parse_path(path):
        in_object = isinstance(step, str) and isinstance(value, dict) and step in value
        in_array = isinstance(step, int) and isinstance(value, list) and step < len(value)
        if in_object or in_array:
            value = value[step]
        else:
            raise PathError(f"path {path!r} does not resolve: no {step!r} in the state's data")
    return value


def set_result(state_input: Any, result: Any, result_path: str | None) -> Any:
    """Apply ``ResultPath``: ``None`` keeps the input, ``$`` replaces it, ``$.a.b`` nests the result."""
    if result_path is None:
        return state_input
    steps = parse_path(result_path)
    if not steps:
        return result
    if any(isinstance(step, int) for step in steps):
        raise PathError(f"ResultPath {result_path!r} is not supported: use field names only")
    output = copy.deepcopy(state_input)
    if not isinstance(output, dict):
        raise PathError(f"ResultPath {result_path!r} needs an object as the state's input")
    target = output
    for step in steps[:-1]:
        if not isinstance(target.get(step), dict):
            target[step] = {}
        target = target[step]
    target[steps[-1]] = result
    return output


def render_template(template: Any, data: Any) -> Any:
    """Evaluate a ``Parameters`` / ``ResultSelector`` template; ``"key.$"`` values are paths into ``data``."""
    if isinstance(template, dict):
        rendered = {}
        for key, value in template.items():
            if key.endswith(".$"):
                rendered[key[:-2]] = get_path(data, value)
            else:
                rendered[key] = render_template(value, data)
        return rendered
    if isinstance(template, list):
        return [render_template(item, data) for item in template]
    return copy.deepcopy(template)


def state_path(data: Any, path: str | None) -> Any:
    """``InputPath``/``OutputPath``-style selection: ``None`` selects ``{}``."""
    if path is None:
        return {}
    try:
        return get_path(data, path)
    except PathError as exc:
        raise StatesError("States.Runtime", str(exc), terminal=True) from exc


def state_result(state_input: Any, result: Any, result_path: str | None) -> Any:
    """Apply ``ResultPath``."""
    try:
        return set_result(state_input, result, result_path)
    except PathError as exc:
        raise StatesError("States.Runtime", str(exc), terminal=True) from exc


def state_template(template: Any, data: Any) -> Any:
    """Evaluate a ``Parameters`` / ``ResultSelector`` template."""
    try:
        return render_template(template, data)
    except PathError as exc:
        raise StatesError("States.Runtime", str(exc), terminal=True) from exc
