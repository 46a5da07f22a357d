"""The ``aws`` runtime's training and tuning tasks: the provider's operators, made idempotent by run."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerTrainingOperator,
    SageMakerTuningOperator,
    serialize,
)
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
from botocore.exceptions import ClientError

from include.runtime.job_reuse import choose_job
from include.settings import Settings

_WAIT_MARGIN_ATTEMPTS = 10


def _describe_or_none(describe: Callable[[str], dict], name: str) -> dict | None:
    try:
        return describe(name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            return None
        raise


class RunScopedTrainingOperator(SageMakerTrainingOperator):
    """``SageMakerTrainingOperator`` that reuses its run's finished training job instead of starting another.

    The request's ``TrainingJobName`` is the run's base name; attempt N may start only
    ``<base>-tN`` after looking at the names earlier attempts used.
    """

    def execute(self, context: Any) -> dict:
        choice = choose_job(
            self.config["TrainingJobName"],
            context["ti"].try_number,
            lambda name: _describe_or_none(self.hook.describe_training_job, name),
            lambda description: description["TrainingJobStatus"],
        )
        if choice.action == "reuse":
            self.log.info("Reusing completed training job %s of this run.", choice.name)
            return {"Training": serialize(choice.description)}
        if choice.action == "wait":
            self.log.info("Waiting for training job %s, started by an earlier attempt.", choice.name)
            self.defer(
                trigger=SageMakerTrigger(job_name=choice.name, job_type="Training", waiter_delay=self.check_interval,
                                         waiter_max_attempts=self.max_attempts, aws_conn_id=self.aws_conn_id),
                method_name="execute_complete",
            )
        self.config["TrainingJobName"] = choice.name
        return super().execute(context)


class RunScopedTuningOperator(SageMakerTuningOperator):
    """``SageMakerTuningOperator`` that reuses its run's finished tuning job instead of starting another."""

    def __init__(self, *, wait_max_attempts: int = 480, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wait_max_attempts = wait_max_attempts

    def execute(self, context: Any) -> dict:
        choice = choose_job(
            self.config["HyperParameterTuningJobName"],
            context["ti"].try_number,
            lambda name: _describe_or_none(self.hook.describe_tuning_job, name),
            lambda description: description["HyperParameterTuningJobStatus"],
        )
        if choice.action == "reuse":
            self.log.info("Reusing completed tuning job %s of this run.", choice.name)
            return {"Tuning": serialize(choice.description)}
        if choice.action == "wait":
            self.log.info("Waiting for tuning job %s, started by an earlier attempt.", choice.name)
            self.defer(
                trigger=SageMakerTrigger(job_name=choice.name, job_type="tuning", waiter_delay=self.check_interval,
                                         waiter_max_attempts=self.wait_max_attempts, aws_conn_id=self.aws_conn_id),
                method_name="execute_complete",
            )
        self.config["HyperParameterTuningJobName"] = choice.name
        return super().execute(context)


def training_wait_attempts(settings: Settings) -> int:
    """Polls that cover a training job's whole allowed time (Spot waits included)."""
    instances = settings.instances
    limit = max(instances.max_runtime_seconds, instances.max_wait_seconds if instances.spot_training else 0)
    return math.ceil(limit / settings.poll_interval_seconds) + _WAIT_MARGIN_ATTEMPTS


def tuning_wait_attempts(settings: Settings) -> int:
    """Polls that cover every wave of a tuning job's training jobs."""
    waves = math.ceil(settings.tuning.max_jobs / settings.tuning.max_parallel_jobs)
    return waves * training_wait_attempts(settings)


def training_operator(task_id: str, config: Any, settings: Settings, **kwargs: Any) -> RunScopedTrainingOperator:
    return RunScopedTrainingOperator(
        task_id=task_id,
        config=config,
        aws_conn_id=settings.aws_conn_id,
        region_name=settings.region,
        wait_for_completion=True,
        print_log=False,
        check_interval=settings.poll_interval_seconds,
        max_attempts=training_wait_attempts(settings),
        action_if_job_exists="fail",
        deferrable=True,
        **kwargs,
    )


def tuning_operator(task_id: str, config: Any, settings: Settings, **kwargs: Any) -> RunScopedTuningOperator:
    return RunScopedTuningOperator(
        task_id=task_id,
        config=config,
        aws_conn_id=settings.aws_conn_id,
        region_name=settings.region,
        wait_for_completion=True,
        check_interval=settings.poll_interval_seconds,
        wait_max_attempts=tuning_wait_attempts(settings),
        deferrable=True,
        **kwargs,
    )
