"""The ``aws`` runtime's jobs: the provider's Processing, Training and Tuning operators, made idempotent by run.

A job name can never be reused (brief, rule 4), so attempt N of a task may start only ``<base>-tN``;
first it looks at the names earlier attempts used, reuses a completed job, or defers on one still
running. A job that ends ``Failed`` raises :class:`~include.runtime.capabilities.JobFailedError` with
SageMaker's ``FailureReason`` (the provider's trigger reports only the status), so the retry policy can
tell an ``AlgorithmError`` from a lack of capacity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerProcessingOperator,
    SageMakerTrainingOperator,
    SageMakerTuningOperator,
    serialize,
)
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from botocore.exceptions import ClientError

from include.runtime.capabilities import JobFailedError
from include.runtime.job_reuse import choose_job, rebuild_requested
from include.settings import Settings


def describe_or_none(describe: Callable[[str], dict], name: str) -> dict | None:
    """The job's description, or None when SageMaker has no job of that name."""
    try:
        return describe(name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            return None
        raise


def job_operator_arguments(settings: Settings) -> dict[str, Any]:
    """What every run-scoped SageMaker job operator is given: connection, region, deferred waiting."""
    return {
        "aws_conn_id": settings.aws_conn_id,
        "region_name": settings.region,
        "wait_for_completion": True,
        "check_interval": settings.poll_interval_seconds,
        "deferrable": True,
    }


class RunScopedJobMixin:
    """Mixed into a provider job operator: reuse, wait for, or start this run's job."""

    name_field: ClassVar[str]
    status_field: ClassVar[str]
    result_key: ClassVar[str]
    trigger_job_type: ClassVar[str]
    describe_method: ClassVar[str]

    def wait_attempts(self) -> int:
        return self.max_attempts  # type: ignore[attr-defined]

    def execute(self, context: Any) -> dict:
        describe = getattr(self.hook, self.describe_method)  # type: ignore[attr-defined]
        rebuild = rebuild_requested(context)
        choice = choose_job(
            self.config[self.name_field],  # type: ignore[attr-defined]
            context["ti"].try_number,
            lambda name: describe_or_none(describe, name),
            lambda description: description[self.status_field],
            rebuild=rebuild,
        )
        log = self.log  # type: ignore[attr-defined]
        if rebuild:
            log.info("The run asks to rebuild: starting job %s instead of reusing this run's.", choice.name)
        if choice.action == "reuse":
            log.info("Reusing completed job %s of this run.", choice.name)
            return {self.result_key: serialize(choice.description)}
        if choice.action == "wait":
            log.info("Waiting for job %s, started by an earlier attempt.", choice.name)
            self.defer(  # type: ignore[attr-defined]
                trigger=SageMakerTrigger(
                    job_name=choice.name, job_type=self.trigger_job_type,
                    waiter_delay=self.check_interval,  # type: ignore[attr-defined]
                    waiter_max_attempts=self.wait_attempts(),
                    aws_conn_id=self.aws_conn_id,  # type: ignore[attr-defined]
                ),
                method_name="execute_complete",
            )
        self.config[self.name_field] = choice.name  # type: ignore[attr-defined]
        return super().execute(context)  # type: ignore[misc]

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        validated = validate_execute_complete_event(event)
        if validated.get("status") != "success":
            name = validated.get("job_name") or self.config[self.name_field]  # type: ignore[attr-defined]
            description = describe_or_none(getattr(self.hook, self.describe_method), name) or {}  # type: ignore[attr-defined]
            status = description.get(self.status_field, "unknown")
            reason = description.get("FailureReason") or validated.get("message", "")
            raise JobFailedError(f"SageMaker job {name} ended {status}: {reason}", job_name=name,
                                 failure_reason=reason)
        return super().execute_complete(context, event)  # type: ignore[misc]


class RunScopedProcessingOperator(RunScopedJobMixin, SageMakerProcessingOperator):
    """``SageMakerProcessingOperator`` that reuses its run's finished job instead of starting another."""

    name_field = "ProcessingJobName"
    status_field = "ProcessingJobStatus"
    result_key = "Processing"
    trigger_job_type = "Processing"
    describe_method = "describe_processing_job"


class RunScopedTrainingOperator(RunScopedJobMixin, SageMakerTrainingOperator):
    """``SageMakerTrainingOperator`` that reuses its run's finished training job instead of starting another."""

    name_field = "TrainingJobName"
    status_field = "TrainingJobStatus"
    result_key = "Training"
    trigger_job_type = "Training"
    describe_method = "describe_training_job"


class RunScopedTuningOperator(RunScopedJobMixin, SageMakerTuningOperator):
    """``SageMakerTuningOperator`` that reuses its run's finished tuning job instead of starting another."""

    name_field = "HyperParameterTuningJobName"
    status_field = "HyperParameterTuningJobStatus"
    result_key = "Tuning"
    trigger_job_type = "tuning"
    describe_method = "describe_tuning_job"

    def __init__(self, *, wait_max_attempts: int = 480, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wait_max_attempts = wait_max_attempts

    def wait_attempts(self) -> int:
        return self.wait_max_attempts


_WAIT_MARGIN_ATTEMPTS = 10


def processing_wait_attempts(settings: Settings) -> int:
    """Polls that cover a Processing job's MaxRuntimeInSeconds (the provider's default of 60 gives up early)."""
    return math.ceil(settings.instances.max_runtime_seconds / settings.poll_interval_seconds) + _WAIT_MARGIN_ATTEMPTS


def training_wait_attempts(settings: Settings) -> int:
    """Polls that cover a training job's whole allowed time (Spot waits included)."""
    instances = settings.instances
    limit = max(instances.max_runtime_seconds, instances.max_wait_seconds if instances.spot_training else 0)
    return math.ceil(limit / settings.poll_interval_seconds) + _WAIT_MARGIN_ATTEMPTS


def tuning_wait_attempts(settings: Settings) -> int:
    """Polls that cover every wave of a tuning job's training jobs."""
    waves = math.ceil(settings.tuning.max_jobs / settings.tuning.max_parallel_jobs)
    return waves * training_wait_attempts(settings)


class AwsJobs:
    """:class:`~include.runtime.capabilities.JobOperators` for SageMaker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def processing_job(self, *, task_id: str, config: Any, **kwargs: Any) -> RunScopedProcessingOperator:
        return RunScopedProcessingOperator(
            task_id=task_id, config=config, max_attempts=processing_wait_attempts(self.settings),
            action_if_job_exists="fail", **job_operator_arguments(self.settings), **kwargs,
        )

    def training_job(self, *, task_id: str, config: Any, **kwargs: Any) -> RunScopedTrainingOperator:
        return RunScopedTrainingOperator(
            task_id=task_id, config=config, print_log=False, max_attempts=training_wait_attempts(self.settings),
            action_if_job_exists="fail", **job_operator_arguments(self.settings), **kwargs,
        )

    def tuning_job(self, *, task_id: str, config: Any, **kwargs: Any) -> RunScopedTuningOperator:
        return RunScopedTuningOperator(
            task_id=task_id, config=config, wait_max_attempts=tuning_wait_attempts(self.settings),
            **job_operator_arguments(self.settings), **kwargs,
        )
