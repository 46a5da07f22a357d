"""The ``aws`` runtime's training and tuning tasks: the provider's operators, made idempotent by run."""

from __future__ import annotations

import math
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator, SageMakerTuningOperator

from include.runtime.aws_jobs import RunScopedJobMixin, job_operator_arguments
from include.settings import Settings

_WAIT_MARGIN_ATTEMPTS = 10


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
        print_log=False,
        max_attempts=training_wait_attempts(settings),
        action_if_job_exists="fail",
        **job_operator_arguments(settings),
        **kwargs,
    )


def tuning_operator(task_id: str, config: Any, settings: Settings, **kwargs: Any) -> RunScopedTuningOperator:
    return RunScopedTuningOperator(
        task_id=task_id,
        config=config,
        wait_max_attempts=tuning_wait_attempts(settings),
        **job_operator_arguments(settings),
        **kwargs,
    )
