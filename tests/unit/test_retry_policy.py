"""Deterministic failures fail at once; transient ones retry with backoff; the rest get Airflow's default."""

from __future__ import annotations

import pytest
from airflow.sdk.definitions.retry_policy import RetryAction
from botocore.exceptions import ClientError

from include.retry_policy import RETRY_POLICY
from include.runtime.capabilities import JobFailedError
from include.storage import ObjectNotFoundError
from include.workflows.ingest import ArchiveChecksumError
from include.workflows.training import NoDatasetError


def action(exception: BaseException) -> RetryAction:
    return RETRY_POLICY.evaluate(exception, try_number=1, max_tries=3).action


def api_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "CreateTrainingJob")


@pytest.mark.parametrize("exception", [
    ArchiveChecksumError("CIFAR archive has md5 x, expected y"),
    NoDatasetError("no partition"),
    ObjectNotFoundError("no object at s3://b/k"),
    JobFailedError("failed", job_name="scones-train-k", failure_reason="AlgorithmError: ExecuteUserScriptError"),
    JobFailedError("failed", job_name="scones-ingest-k", failure_reason="ClientError: channel 'train' is empty"),
    api_error("ValidationException", 400),
    api_error("AccessDeniedException", 400),
], ids=lambda e: type(e).__name__)
def test_deterministic_failures_fail_at_once(exception):
    assert action(exception) == RetryAction.FAIL


@pytest.mark.parametrize("exception", [
    JobFailedError("failed", job_name="scones-train-k", failure_reason="InternalServerError: try again"),
    JobFailedError("failed", job_name="scones-train-k",
                   failure_reason="CapacityError: Unable to provision requested ML compute capacity"),
    JobFailedError("failed", job_name="scones-train-k",
                   failure_reason="AlgorithmError: S3 download failed: ThrottlingException (Rate exceeded)"),
    api_error("ThrottlingException", 400),
    api_error("ServiceUnavailable", 503),
    ConnectionResetError("connection reset by peer"),
], ids=lambda e: type(e).__name__)
def test_transient_failures_are_retried(exception):
    assert action(exception) == RetryAction.RETRY


def test_anything_else_gets_the_default_retries():
    assert action(RuntimeError("something unforeseen")) == RetryAction.DEFAULT
    assert action(JobFailedError("failed", job_name="j", failure_reason="Stopped by the user")) == RetryAction.DEFAULT
