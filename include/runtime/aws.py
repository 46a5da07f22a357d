"""The ``aws`` runtime: the Amazon provider's own operators, made idempotent by run."""

from __future__ import annotations

import math
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import SageMakerProcessingOperator, serialize
from botocore.exceptions import ClientError

from include.runtime.job_reuse import choose_job
from include.settings import Settings


class RunScopedProcessingOperator(SageMakerProcessingOperator):
    """``SageMakerProcessingOperator`` that reuses its run's finished job instead of starting another.

    The request's ``ProcessingJobName`` is the run's base name; attempt N may start only
    ``<base>-tN`` after looking at the names earlier attempts used.
    """

    def _describe_or_none(self, name: str) -> dict | None:
        try:
            return self.hook.describe_processing_job(name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ValidationException":
                return None
            raise

    def execute(self, context: Any) -> dict:
        choice = choose_job(
            self.config["ProcessingJobName"],
            context["ti"].try_number,
            self._describe_or_none,
            lambda description: description["ProcessingJobStatus"],
        )
        if choice.action == "reuse":
            self.log.info("Reusing completed processing job %s of this run.", choice.name)
            return {"Processing": serialize(choice.description)}
        if choice.action == "wait":
            self.log.info("Waiting for processing job %s, started by an earlier attempt.", choice.name)
            self.hook.get_conn().get_waiter("processing_job_completed_or_stopped").wait(
                ProcessingJobName=choice.name,
                WaiterConfig={"Delay": self.check_interval, "MaxAttempts": self.max_attempts},
            )
            description = self.hook.describe_processing_job(choice.name)
            if description["ProcessingJobStatus"] != "Completed":
                raise RuntimeError(f"processing job {choice.name} ended {description['ProcessingJobStatus']}: "
                                   f"{description.get('FailureReason', '')}")
            return {"Processing": serialize(description)}
        self.config["ProcessingJobName"] = choice.name
        return super().execute(context)


def processing_operator(task_id: str, config: Any, settings: Settings, **kwargs: Any) -> RunScopedProcessingOperator:
    return RunScopedProcessingOperator(
        task_id=task_id,
        config=config,
        aws_conn_id=settings.aws_conn_id,
        region_name=settings.region,
        wait_for_completion=True,
        check_interval=settings.poll_interval_seconds,
        # The provider's default (60 polls) would give up on a job long before its MaxRuntimeInSeconds.
        max_attempts=math.ceil(settings.instances.max_runtime_seconds / settings.poll_interval_seconds) + 10,
        action_if_job_exists="fail",
        deferrable=True,
        **kwargs,
    )
