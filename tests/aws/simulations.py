"""Behaviour of a real account that moto does not have, added to a run through the recorder."""

from __future__ import annotations

import threading
from typing import Any

from tests.aws.recorder import RequestRecorder


def job_running_at_first_look(recorder: RequestRecorder, *, create: str, describe: str,
                              name_field: str, status_field: str) -> None:
    """moto finishes SageMaker jobs at once; a real job is still ``InProgress`` when first described.

    The first synchronous (botocore) describe of a job after its create reports ``InProgress``,
    so a deferrable operator defers and the provider's trigger (aiobotocore) polls moto, which
    then reports the job's real status.
    """
    just_created: set[str] = set()
    lock = threading.Lock()

    def remember(params: dict[str, Any], transport: str) -> None:
        with lock:
            just_created.add(params[name_field])

    def still_running(params: dict[str, Any], parsed: dict[str, Any], transport: str) -> None:
        with lock:
            first_look = transport == "botocore" and params.get(name_field) in just_created
            if first_look:
                just_created.discard(params[name_field])
        if first_look:
            parsed[status_field] = "InProgress"

    recorder.observe("sagemaker", create, remember)
    recorder.amend("sagemaker", describe, still_running)


def processing_job_running_at_first_look(recorder: RequestRecorder) -> None:
    job_running_at_first_look(recorder, create="CreateProcessingJob", describe="DescribeProcessingJob",
                              name_field="ProcessingJobName", status_field="ProcessingJobStatus")
