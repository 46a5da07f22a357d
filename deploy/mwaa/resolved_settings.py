"""The settings an MWAA environment runs with: every value resolved here, written as the bundle's settings file.

MWAA's workers read no ``.env`` and none of this machine's environment, so the bundle carries the settings
exactly as they load here (``include/settings.toml``, then ``.env``, then the environment), with the ``aws``
runtime, as ``dags/include/settings.toml``. Values that only make sense as examples (the sample account's
ARNs, the default bucket name) are refused, naming each setting to fill.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deploy.cloudformation.stack_parameters import EXAMPLE_BUCKET
from include.settings import Settings, env_name, load_settings

SAMPLE_ACCOUNT = "111122223333"
"""The account of the example ARNs in ``include/settings.toml``."""
LOCAL_DATA_ROOT = ".data"
"""The aws runtime never reads ``data_root``; the bundle keeps the relative default rather than this machine's path."""
HEADER = (
    "# The settings of this MWAA bundle, written by `make mwaa-bundle`: include/settings.toml, .env and the\n"
    "# environment, resolved. Change those and rebuild rather than editing this file.\n"
)


class UnresolvedSettingsError(ValueError):
    """Settings an MWAA environment cannot run with."""


def _named(dotted: str) -> str:
    return f"'{dotted}' ({env_name(dotted)})"


def _leaves(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted setting, value)`` for every setting (a section's keys one level down)."""
    leaves = []
    for name, value in values.items():
        if isinstance(value, dict) and not prefix:
            leaves += _leaves(value, f"{name}.")
        else:
            leaves.append((prefix + name, value))
    return leaves


def _mentions(value: Any, text: str) -> bool:
    return text in json.dumps(value)


def placeholder_problems(settings: Settings) -> list[str]:
    """Each setting that still holds an example value, with what to put there."""
    problems = [
        f"{_named(dotted)} = {value!r} is in the sample account {SAMPLE_ACCOUNT}: set it from the stack's "
        "SconesEnvironment output"
        for dotted, value in _leaves(settings.model_dump(mode="json")) if _mentions(value, SAMPLE_ACCOUNT)
    ]
    if settings.bucket == EXAMPLE_BUCKET:
        problems.append(f"{_named('bucket')} = {EXAMPLE_BUCKET!r} is the example bucket: set the stack's bucket "
                        "(SconesEnvironment output)")
    if settings.monitor.use_model_monitor and not settings.images.monitor_uri:
        problems.append(f"{_named('images.monitor_uri')} is empty but {_named('monitor.use_model_monitor')} is on: "
                        "push the drift analyzer image and set its URI (SconesEnvironment output)")
    return problems


def mwaa_settings(settings: Settings) -> Settings:
    """``settings`` as MWAA runs them: the aws runtime; refused while they hold example values."""
    problems = placeholder_problems(settings)
    if problems:
        raise UnresolvedSettingsError("the MWAA bundle needs real values for: " + "; ".join(problems))
    return settings.model_copy(update={"runtime": "aws"})


def _toml_value(value: Any) -> str:
    if value is None:
        return '"none"'  # the one optional kind of setting, a schedule, reads "none" as off
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return json.dumps(value, ensure_ascii=False)  # JSON's numbers and string escapes are valid TOML
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def settings_toml(settings: Settings) -> str:
    """``settings`` as a complete settings file: top-level keys, then one table per section."""
    values = settings.model_dump(mode="json")
    values["data_root"] = LOCAL_DATA_ROOT
    top = [f"{name} = {_toml_value(value)}" for name, value in values.items() if not isinstance(value, dict)]
    sections = [
        f"\n[{name}]\n" + "\n".join(f"{key} = {_toml_value(item)}" for key, item in value.items())
        for name, value in values.items() if isinstance(value, dict)
    ]
    return HEADER + "\n".join(top) + "\n" + "\n".join(sections) + "\n"


def write_settings_file(settings: Settings, target: Path) -> None:
    """Write ``settings`` to ``target`` and prove it reads back as the same settings."""
    target.write_text(settings_toml(settings))
    again = load_settings(target, environ={})
    expected, read = settings.model_dump(exclude={"data_root"}), again.model_dump(exclude={"data_root"})
    if read != expected:
        changed = sorted(k for k in expected if expected[k] != read.get(k))
        raise UnresolvedSettingsError(f"{target} does not read back as the settings it was written from: {changed}")
