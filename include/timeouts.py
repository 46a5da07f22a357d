"""How long tasks may run: the ``execution_timeout`` backstops, from the ``[dags]`` and ``[instances]`` settings.

A task that starts a job may run as long as the job is allowed to (its request's limits) plus a margin, so a
deferred SageMaker job is never cut short; every other task gets ``dags.task_timeout_minutes``.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Literal

from include.settings import Settings

JobKind = Literal["processing", "training", "tuning"]


def task_timeout(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.dags.task_timeout_minutes)


def job_time_limit(settings: Settings, kind: JobKind) -> timedelta:
    """How long a job may take by its own request: MaxRuntimeInSeconds (Spot: the wait), every tuning wave."""
    instances = settings.instances
    seconds = instances.max_runtime_seconds
    if kind in ("training", "tuning") and instances.spot_training:
        seconds = max(seconds, instances.max_wait_seconds)
    if kind == "tuning":
        seconds *= math.ceil(settings.tuning.max_jobs / settings.tuning.max_parallel_jobs)
    return timedelta(seconds=seconds)


def job_timeout(settings: Settings, kind: JobKind) -> timedelta:
    """A job task's ``execution_timeout``: the job's own limit plus ``dags.job_timeout_margin_minutes``."""
    return job_time_limit(settings, kind) + timedelta(minutes=settings.dags.job_timeout_margin_minutes)


def deployment_timeout(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.dags.deployment_timeout_minutes)
