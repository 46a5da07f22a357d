"""Reuse a run's own finished job instead of starting it again (brief, rule 4).

SageMaker job names can never be reused, so attempt N of a task may only start
``<base>-t<N>``; before that it looks at every name earlier attempts may have used and
reuses a completed job, or waits for one still running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

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


def choose_job(
    base: str,
    try_number: int,
    describe: Callable[[str], dict | None],
    status_of: Callable[[dict], str],
) -> JobChoice:
    """Reuse a completed job, wait for a running one, or start this attempt's name."""
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
