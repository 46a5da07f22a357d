"""Which failures are worth a retry: the one place that names deterministic and transient errors.

A deterministic failure — a setting that can't work, a tampered archive, a file that isn't there, a
training script that raises — fails the same way every time, so it fails the task at once instead of
paying for the same job three times. A transient one — throttling, a 5xx, no capacity, a dropped
connection — is retried with the task's exponential backoff. Anything not named here gets Airflow's
default: retried up to ``dags.retries`` times.

Airflow 3.3's ``retry_policy`` (``airflow.sdk.definitions.retry_policy``) evaluates the real exception in
the worker; ``include/dag_defaults.py`` gives every task this policy.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy

from include.deployed_model import NoModelDeployedError, UntrackedServedModelError
from include.registry import ModelVersionNotFoundError
from include.runtime.capabilities import (
    CapabilityUnavailableError,
    JobFailedError,
    MonitoringScheduleError,
    StalePlanError,
)
from include.settings import SettingsError
from include.storage import DataRootEscapeError, ObjectNotFoundError

DETERMINISTIC_ERRORS: tuple[type[BaseException], ...] = (
    SettingsError,                # a setting that can't work: fix it first
    DataRootEscapeError,          # a key that leaves the data root
    ObjectNotFoundError,          # an input that isn't there (S3 is strongly consistent)
    ModelVersionNotFoundError,
    NoModelDeployedError,
    UntrackedServedModelError,
    CapabilityUnavailableError,   # e.g. Model Monitor asked of the local runtime
    MonitoringScheduleError,
    StalePlanError,
    ValueError,                   # bad input: a tampered archive (ArchiveChecksumError), an invalid request
    TypeError,
    LookupError,                  # NoDatasetError, NoApprovedModelError, NoBaselineError, a missing key
    AttributeError,
    NotImplementedError,
)
"""Exceptions that fail the same way on every try."""

DETERMINISTIC_JOB_FAILURES = ("AlgorithmError", "ClientError", "MaxRuntimeExceeded")
"""SageMaker FailureReason prefixes of jobs that would fail again: the program raised, the request is invalid,
the job ran out of its allowed time (another try would too)."""

TRANSIENT_MARKERS = ("InternalServerError", "InternalFailure", "CapacityError", "InsufficientInstanceCapacity",
                     "ResourceLimitExceeded", "ThrottlingException", "Throttling", "SlowDown", "RequestTimeout",
                     "ServiceUnavailable", "TooManyRequests", "Connection reset", "ConnectionResetError",
                     "EndpointConnectionError", "timed out")
"""Words of a failure that says "try again later", even inside an ``AlgorithmError`` (a script whose download
was throttled)."""

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)

DETERMINISTIC_API_CODES = frozenset({"ValidationException", "ValidationError", "AccessDenied",
                                     "AccessDeniedException", "UnauthorizedOperation", "InvalidParameterValue",
                                     "NoSuchBucket", "ResourceNotFound", "ResourceNotFoundException"})
TRANSIENT_API_CODES = frozenset({"ThrottlingException", "Throttling", "SlowDown", "RequestLimitExceeded",
                                 "TooManyRequestsException", "ServiceUnavailable", "InternalFailure",
                                 "InternalServerError", "RequestTimeout", "ProvisionedThroughputExceededException"})


def _api_error(exception: BaseException) -> tuple[str, int] | None:
    """The error code and HTTP status of an AWS API error (``exception.response``), else ``None``."""
    response = getattr(exception, "response", None)
    if not isinstance(response, dict) or "Error" not in response:
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return str(response["Error"].get("Code", "")), int(status)


def classify(exception: BaseException) -> tuple[str, str]:
    """``("deterministic" | "transient" | "unknown", why)`` for a task's exception."""
    name = type(exception).__name__
    if isinstance(exception, JobFailedError):
        reason = exception.failure_reason or str(exception)
        if any(marker in reason for marker in TRANSIENT_MARKERS):
            return "transient", f"job {exception.job_name} failed for a transient reason: {reason[:200]}"
        if reason.startswith(DETERMINISTIC_JOB_FAILURES):
            return "deterministic", f"job {exception.job_name} would fail again: {reason[:200]}"
        return "unknown", f"job {exception.job_name} failed: {reason[:200]}"
    api_error = _api_error(exception)
    if api_error is not None:
        code, status = api_error
        if code in TRANSIENT_API_CODES or status == 429 or status >= 500:
            return "transient", f"AWS answered {code} (HTTP {status})"
        if code in DETERMINISTIC_API_CODES:
            return "deterministic", f"AWS refused the request: {code} (HTTP {status})"
        return "unknown", f"AWS answered {code} (HTTP {status})"
    if isinstance(exception, TRANSIENT_ERRORS):
        return "transient", f"{name}: a network hiccup"
    if isinstance(exception, DETERMINISTIC_ERRORS):
        return "deterministic", f"{name} fails the same way on every try"
    return "unknown", name


class SconesRetryPolicy(RetryPolicy):
    """Fail deterministic errors at once, retry transient ones with the task's backoff, default otherwise."""

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int,
                 context: Any = None) -> RetryDecision:
        kind, why = classify(exception)
        if kind == "deterministic":
            return RetryDecision.fail(reason=f"not retried: {why}")
        if kind == "transient":
            return RetryDecision.retry(reason=f"retried with backoff: {why}")
        return RetryDecision.default()

    def serialize(self) -> dict[str, Any]:
        return {"__type": type(self).__name__}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> SconesRetryPolicy:
        return cls()


RETRY_POLICY = SconesRetryPolicy()
