"""The ``aws`` runtime: the Amazon provider's own operators, made idempotent by run."""

from __future__ import annotations

import math
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import SageMakerProcessingOperator

from include.runtime.aws_jobs import RunScopedJobMixin, job_operator_arguments
from include.settings import Settings


class RunScopedProcessingOperator(RunScopedJobMixin, SageMakerProcessingOperator):
    """``SageMakerProcessingOperator`` that reuses its run's finished job instead of starting another."""

    name_field = "ProcessingJobName"
    status_field = "ProcessingJobStatus"
    result_key = "Processing"
    trigger_job_type = "Processing"
    describe_method = "describe_processing_job"


def processing_operator(task_id: str, config: Any, settings: Settings, **kwargs: Any) -> RunScopedProcessingOperator:
    return RunScopedProcessingOperator(
        task_id=task_id,
        config=config,
        # The provider's default (60 polls) would give up on a job long before its MaxRuntimeInSeconds.
        max_attempts=math.ceil(settings.instances.max_runtime_seconds / settings.poll_interval_seconds) + 10,
        action_if_job_exists="fail",
        **job_operator_arguments(settings),
        **kwargs,
    )
