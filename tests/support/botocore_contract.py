"""Validate request dicts against botocore's service model, including the constraints its validator skips.

botocore's ParamValidator checks types and required members but not max lengths, patterns
or enums; those are read from the shape metadata here.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import regex
from botocore.validate import ParamValidator

_session = botocore.session.get_session()
_UTF16_SUPPLEMENTARY_RANGE = "\\uD800\\uDC00-\\uDBFF\\uDFFF"
"""Some models (Application Auto Scaling's XML strings) write the supplementary planes as UTF-16 surrogate pairs,
as Java regexes do; Python's regex module reads code points."""


def _python_pattern(pattern: str) -> str:
    return pattern.replace(_UTF16_SUPPLEMENTARY_RANGE, "\\U00010000-\\U0010FFFF")


def operation_model(service: str, operation: str):
    return _session.get_service_model(service).operation_model(operation)


def constraint_errors(shape: Any, value: Any, path: str) -> list[str]:
    errors: list[str] = []
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure" and isinstance(value, dict):
        for name, member_value in value.items():
            if name in shape.members:
                errors += constraint_errors(shape.members[name], member_value, f"{path}.{name}")
    elif kind == "list" and isinstance(value, list):
        errors += _length_errors(meta, len(value), path)
        for index, item in enumerate(value):
            errors += constraint_errors(shape.member, item, f"{path}[{index}]")
    elif kind == "map" and isinstance(value, dict):
        errors += _length_errors(meta, len(value), path)
        for key, item in value.items():
            errors += constraint_errors(shape.key, key, f"{path}<key {key}>")
            errors += constraint_errors(shape.value, item, f"{path}[{key}]")
    elif kind == "string" and isinstance(value, str):
        errors += _length_errors(meta, len(value), path)
        pattern = meta.get("pattern")
        if pattern and not regex.fullmatch(_python_pattern(pattern), value, flags=regex.DOTALL):
            errors.append(f"{path}: {value!r} does not match pattern {pattern}")
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} not in enum {shape.enum}")
    elif kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if "min" in meta and value < meta["min"]:
            errors.append(f"{path}: {value} < min {meta['min']}")
        if "max" in meta and value > meta["max"]:
            errors.append(f"{path}: {value} > max {meta['max']}")
    return errors


def _length_errors(meta: dict, length: int, path: str) -> list[str]:
    errors = []
    if "min" in meta and length < meta["min"]:
        errors.append(f"{path}: length {length} < min {meta['min']}")
    if "max" in meta and length > meta["max"]:
        errors.append(f"{path}: length {length} > max {meta['max']}")
    return errors


def request_errors(service: str, operation: str, params: dict) -> list[str]:
    """Every way ``params`` breaks the operation's input shape (empty when valid)."""
    model = operation_model(service, operation)
    report = ParamValidator().validate(params, model.input_shape)
    errors = [report.generate_report()] if report.has_errors() else []
    return errors + constraint_errors(model.input_shape, params, operation)


def assert_valid_request(service: str, operation: str, params: dict) -> None:
    errors = request_errors(service, operation, params)
    assert not errors, f"{service}.{operation} request invalid:\n" + "\n".join(errors)
