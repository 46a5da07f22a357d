"""Run-scoped SageMaker jobs: the provider's job operators, made idempotent by run (brief, rule 4).

A job name can never be reused, so attempt N of a task may start only ``<base>-tN``; first it
looks at the names earlier attempts used, reuses a completed job, or defers on one still running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from airflow.providers.amazon.aws.operators.sagemaker import serialize
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
from botocore.exceptions import ClientError

from include.runtime.job_reuse import choose_job
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
        choice = choose_job(
            self.config[self.name_field],  # type: ignore[attr-defined]
            context["ti"].try_number,
            lambda name: describe_or_none(describe, name),
            lambda description: description[self.status_field],
        )
        log = self.log  # type: ignore[attr-defined]
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
