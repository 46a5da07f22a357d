"""The ``aws`` runtime's jobs: the provider's Processing, Training and Tuning operators, made idempotent by run.

A job name can never be reused (brief, rule 4), so attempt N of a task may start only ``<base>-tN``;
first it looks at the names earlier attempts used, reuses a completed job, or defers on one still
running. A job that ends ``Failed`` raises :class:`~include.runtime.capabilities.JobFailedError` with
SageMaker's ``FailureReason`` (the provider's trigger reports only the status), so the retry policy can
tell an ``AlgorithmError`` from a lack of capacity.

Every wait, the first attempt's included, is bounded by the job's own budget: the request's time limits
(:func:`include.timeouts.request_time_limit`) plus ``dags.job_timeout_margin_minutes``, the same bound as the
task's ``execution_timeout``. The provider's tuning operator defers with its trigger's default of 480 polls
(4 hours at 30 s) whatever the tuning budget, so the tuning job is started here and deferred with the bound.
"""

from __future__ import annotations

import datetime
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
from include.settings import Settings, get_settings
from include.timeouts import JobKind, request_time_limit


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


def wait_attempts(request: dict, kind: JobKind, *, poll_seconds: int, margin_seconds: int) -> int:
    """Polls that cover the job's own time limit plus the margin (never fewer than one)."""
    budget = request_time_limit(request, kind).total_seconds() + margin_seconds
    return max(1, math.ceil(budget / poll_seconds))


class RunScopedJobMixin:
    """Mixed into a provider job operator: reuse, wait for, or start this run's job."""

    name_field: ClassVar[str]
    status_field: ClassVar[str]
    result_key: ClassVar[str]
    trigger_job_type: ClassVar[str]
    describe_method: ClassVar[str]
    job_kind: ClassVar[JobKind]

    def wait_attempts(self) -> int:
        """How many polls the job's own budget (its request's limits plus ``dags.job_timeout_margin_minutes``) takes."""
        margin = get_settings().dags.job_timeout_margin_minutes * 60
        return wait_attempts(self.config, self.job_kind, poll_seconds=self.check_interval,  # type: ignore[attr-defined]
                             margin_seconds=margin)

    def start_job(self, context: Any) -> dict:
        """Create this attempt's job and defer until it ends (the provider operator's own execute)."""
        return super().execute(context)  # type: ignore[misc]

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
        self.max_attempts = self.wait_attempts()  # what the provider's Processing and Training triggers poll
        return self.start_job(context)

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
    job_kind = "processing"


class RunScopedTrainingOperator(RunScopedJobMixin, SageMakerTrainingOperator):
    """``SageMakerTrainingOperator`` that reuses its run's finished training job instead of starting another."""

    name_field = "TrainingJobName"
    status_field = "TrainingJobStatus"
    result_key = "Training"
    trigger_job_type = "Training"
    describe_method = "describe_training_job"
    job_kind = "training"


class RunScopedTuningOperator(RunScopedJobMixin, SageMakerTuningOperator):
    """``SageMakerTuningOperator`` that reuses its run's finished tuning job, and waits within its budget."""

    name_field = "HyperParameterTuningJobName"
    status_field = "HyperParameterTuningJobStatus"
    result_key = "Tuning"
    trigger_job_type = "tuning"
    describe_method = "describe_tuning_job"
    job_kind = "tuning"

    def start_job(self, context: Any) -> dict:
        """The provider's start (its ``execute``), deferred with the tuning budget's polls, not the trigger's 480."""
        self.preprocess_config()
        name = self.config[self.name_field]
        self.log.info("Creating SageMaker Hyper-Parameter Tuning Job %s", name)
        response = self.hook.create_tuning_job(self.config, wait_for_completion=False,
                                               check_interval=self.check_interval,
                                               max_ingestion_time=self.max_ingestion_time)
        if response["ResponseMetadata"]["HTTPStatusCode"] != 200:
            raise RuntimeError(f"SageMaker tuning job {name} was not created: {response}")
        attempts = self.wait_attempts()
        self.defer(
            trigger=SageMakerTrigger(job_name=name, job_type=self.trigger_job_type, waiter_delay=self.check_interval,
                                     waiter_max_attempts=attempts, aws_conn_id=self.aws_conn_id),
            method_name="execute_complete",
            timeout=datetime.timedelta(seconds=attempts * self.check_interval),
        )
        raise AssertionError("defer() always raises")  # pragma: no cover


class AwsJobs:
    """:class:`~include.runtime.capabilities.JobOperators` for SageMaker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def processing_job(self, *, task_id: str, config: Any, **kwargs: Any) -> RunScopedProcessingOperator:
        return RunScopedProcessingOperator(
            task_id=task_id, config=config, action_if_job_exists="fail", **job_operator_arguments(self.settings),
            **kwargs,
        )

    def training_job(self, *, task_id: str, config: Any, **kwargs: Any) -> RunScopedTrainingOperator:
        return RunScopedTrainingOperator(
            task_id=task_id, config=config, print_log=False, action_if_job_exists="fail",
            **job_operator_arguments(self.settings), **kwargs,
        )

    def tuning_job(self, *, task_id: str, config: Any, **kwargs: Any) -> RunScopedTuningOperator:
        return RunScopedTuningOperator(
            task_id=task_id, config=config, **job_operator_arguments(self.settings), **kwargs,
        )
