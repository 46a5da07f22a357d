"""How long tasks may run: the ``execution_timeout`` backstops, from the ``[dags]`` and ``[instances]`` settings.

A task that starts a job may run as long as the job is allowed to (its request's limits) plus a margin, so a
deferred SageMaker job is never cut short; every other task gets ``dags.task_timeout_minutes``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from include.settings import Settings

JobKind = Literal["processing", "training", "tuning"]
SAGEMAKER_DEFAULT_MAX_RUNTIME_SECONDS = 86400
"""What SageMaker allows a job whose request gives no ``MaxRuntimeInSeconds``."""


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


def _stopping_limit(request: Mapping[str, Any]) -> int:
    """A Processing or training request's MaxRuntimeInSeconds; with managed Spot, its MaxWaitTimeInSeconds if longer."""
    condition = request.get("StoppingCondition") or {}
    seconds = int(condition.get("MaxRuntimeInSeconds", SAGEMAKER_DEFAULT_MAX_RUNTIME_SECONDS))
    if request.get("EnableManagedSpotTraining"):
        seconds = max(seconds, int(condition.get("MaxWaitTimeInSeconds", seconds)))
    return seconds


def request_time_limit(request: Mapping[str, Any], kind: JobKind) -> timedelta:
    """How long the job a Create*Job request starts may take by that request's own limits.

    Processing and training: its stopping condition. Tuning: ``ResourceLimits.MaxRuntimeInSeconds`` when the
    request sets one, else every wave of trials (``MaxNumberOfTrainingJobs`` / ``MaxParallelTrainingJobs``)
    at the trial definition's own limit.
    """
    if kind != "tuning":
        return timedelta(seconds=_stopping_limit(request))
    limits = request["HyperParameterTuningJobConfig"]["ResourceLimits"]
    if "MaxRuntimeInSeconds" in limits:
        return timedelta(seconds=int(limits["MaxRuntimeInSeconds"]))
    waves = math.ceil(int(limits["MaxNumberOfTrainingJobs"]) / int(limits["MaxParallelTrainingJobs"]))
    definitions = [request.get("TrainingJobDefinition"), *request.get("TrainingJobDefinitions", [])]
    trial = max(_stopping_limit(definition) for definition in definitions if definition)
    return timedelta(seconds=waves * trial)


def job_timeout(settings: Settings, kind: JobKind) -> timedelta:
    """A job task's ``execution_timeout``: the job's own limit plus ``dags.job_timeout_margin_minutes``."""
    return job_time_limit(settings, kind) + timedelta(minutes=settings.dags.job_timeout_margin_minutes)


def deployment_timeout(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.dags.deployment_timeout_minutes)
