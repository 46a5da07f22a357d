"""Reuse a run's own finished job instead of starting it again (brief, rule 4).

SageMaker job names can never be reused, so attempt N of a task may only start
``<base>-t<N>``; before that it looks at every name earlier attempts may have used and
reuses a completed job, or waits for one still running. A run whose conf asks to ``rebuild``
skips that: each attempt starts a job under the first name no earlier attempt took.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from include.run_keys import SAGEMAKER_NAME_MAX

RUNNING_STATES = {"InProgress", "Stopping"}


def attempt_name(base: str, attempt: int) -> str:
    if attempt <= 1:
        return base
    suffix = f"-t{attempt}"
    return base[: SAGEMAKER_NAME_MAX - len(suffix)] + suffix


@dataclass(frozen=True)
class JobChoice:
    action: Literal["reuse", "wait", "start"]
    name: str
    description: dict | None = None


REBUILD_PARAM = "rebuild"
_MAX_NAME_PROBES = 50


def rebuild_requested(context: Mapping[str, Any]) -> bool:
    """True when the run's params (its conf) ask for new jobs rather than the run's finished ones."""
    return bool((context.get("params") or {}).get(REBUILD_PARAM))


def choose_job(
    base: str,
    try_number: int,
    describe: Callable[[str], dict | None],
    status_of: Callable[[dict], str],
    rebuild: bool = False,
) -> JobChoice:
    """Reuse a completed job, wait for a running one, or start this attempt's name (always start: ``rebuild``)."""
    if rebuild:
        first = max(try_number, 1)
        for attempt in range(first, first + _MAX_NAME_PROBES):
            if describe(attempt_name(base, attempt)) is None:
                return JobChoice("start", attempt_name(base, attempt))
        raise RuntimeError(f"job names {attempt_name(base, first)} to {attempt_name(base, attempt)} are all taken: "
                           "clear the run fewer times, or trigger a new run")
    for attempt in range(1, max(try_number, 1) + 1):
        name = attempt_name(base, attempt)
        description = describe(name)
        if description is None:
            continue
        status = status_of(description)
        if status == "Completed":
            return JobChoice("reuse", name, description)
        if status in RUNNING_STATES:
            return JobChoice("wait", name, description)
    name = attempt_name(base, max(try_number, 1))
    if describe(name) is not None:
        name = attempt_name(base, max(try_number, 1) + 1)
    return JobChoice("start", name)
