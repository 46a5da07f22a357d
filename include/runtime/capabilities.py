"""What a runtime provides: one Protocol per capability, and the table that holds one runtime's implementations.

Callers above the seam hold these interfaces and never ask which runtime is behind them. Each runtime
(``include/runtime/aws/``, ``include/runtime/local/``) fills one :class:`Runtime` table, capability for
capability; ``include.runtime`` picks the table the settings name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from include.registry import ModelRegistry
from include.settings import Settings
from include.storage import ObjectStore

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator

MODEL_MONITOR = "model_monitor"
ANALYZER_JOB = "analyzer_job"
AnalysisPath = Literal["model_monitor", "analyzer_job"]


class MonitoringScheduleError(RuntimeError):
    """The Model Monitor schedule cannot analyse this interval; the message names the fix."""


class MonitoringExecutionError(RuntimeError):
    """The interval's analysis failed, was stopped, or left no result."""


class CapabilityUnavailableError(RuntimeError):
    """The runtime has no such capability (e.g. Model Monitor on this machine); the message names the setting."""


class JobFailedError(RuntimeError):
    """A SageMaker job (or its local run) ended ``Failed``; ``failure_reason`` is its ``FailureReason``.

    Both runtimes raise it, so the retry policy (``include/retry_policy.py``) can tell a deterministic failure
    (``AlgorithmError``, ``ClientError``) from a transient one (``InternalServerError``, ``CapacityError``).
    """

    def __init__(self, message: str, *, job_name: str = "", failure_reason: str = "") -> None:
        super().__init__(message)
        self.job_name = job_name
        self.failure_reason = failure_reason


class StalePlanError(ValueError):
    """A teardown plan made by another runtime's teardown."""


def refuse_foreign_plan(plan: dict[str, Any], runtime_name: str) -> None:
    if plan.get("runtime") != runtime_name:
        raise StalePlanError(f"the plan was made for runtime {plan.get('runtime')!r}, not {runtime_name!r}: "
                             "trigger the teardown again")


@runtime_checkable
class JobOperators(Protocol):
    """SageMaker jobs as Airflow tasks: each takes a Create*Job request (a dict or an XComArg of one), reuses its
    run's finished job, and returns ``{"Processing" | "Training" | "Tuning": <Describe*Job>}``."""

    def processing_job(self, *, task_id: str, config: Any, **kwargs: Any) -> BaseOperator: ...
    def training_job(self, *, task_id: str, config: Any, **kwargs: Any) -> BaseOperator: ...
    def tuning_job(self, *, task_id: str, config: Any, **kwargs: Any) -> BaseOperator: ...


@runtime_checkable
class EndpointDeployment(Protocol):
    """Deploys ``{"Model", "EndpointConfig", "Endpoint"}`` requests blue/green and verifies the endpoint serves
    the new config; the task returns ``{"Model", "EndpointConfig", "Endpoint"}`` descriptions."""

    def endpoint_deployment(self, *, task_id: str, config: Any, **kwargs: Any) -> BaseOperator: ...


@dataclass(frozen=True)
class ServedModel:
    """What an endpoint serves now, read from the endpoint itself rather than from the registry."""

    endpoint_name: str
    endpoint_config_name: str
    model_name: str
    model_package_arn: str | None
    """The registered version, from the model's ``scones:model-package-arn`` tag (None: deployed some other way)."""
    serving_since: datetime | None = None
    """When the endpoint last settled on what it serves (DescribeEndpoint's ``LastModifiedTime``)."""


@runtime_checkable
class ServedModels(Protocol):
    """The model version an endpoint serves: its description → its endpoint config → that config's model and tags.

    A rolled-back update leaves the endpoint on its old config, so this answers what really serves traffic.
    """

    def served_model(self, endpoint_name: str) -> ServedModel | None:
        """None when the endpoint does not exist or serves nothing yet (still being created, or failed)."""
        ...


@runtime_checkable
class ObjectLinks(Protocol):
    """Where a person opens a stored object in a browser: the S3 console, or the project's pages locally.

    Links written into pages and tasks (the static model-health page, the monitor's report link) use it, so
    they work where the project's own pages on the API server are not served.
    """

    def object_url(self, uri: str) -> str:
        """A browser URL for the object ``s3://bucket/key``."""
        ...


@runtime_checkable
class StateMachineExecutions(Protocol):
    """One task that runs the inference state machine for each ``{"name", "input"}`` of ``executions`` (a list or
    an XComArg of one), one execution after another, reusing a finished execution of the same name; the task
    returns one ``{"name", "executionArn", "status", "output", "error", "cause"}`` per execution."""

    def state_machine_executions(self, *, task_id: str, executions: Any, **kwargs: Any) -> BaseOperator: ...


@runtime_checkable
class IntervalAnalysis(Protocol):
    """How an interval's captured traffic gets analysed: a Model Monitor schedule's execution, or the analyzer
    as a Processing job (built above the seam and run through :class:`JobOperators`)."""

    def choose_path(self, dag_run: Any, now: datetime) -> AnalysisPath:
        """Which path analyses this run's window."""
        ...

    def ensure_schedule(self, request: dict) -> dict:
        """Create or update the monitoring schedule: ``{"name", "action", "created_at"}``."""
        ...

    def poll_interval_execution(self, schedule: dict, start: datetime, end: datetime) -> dict | None:
        """``None`` while the interval's execution is pending, then ``{"status", "output_uri", "no_traffic"}``."""
        ...


@runtime_checkable
class Alerts(Protocol):
    """Where drift alerts and task failures go."""

    def publish(self, subject: str, message: str) -> None: ...
    def failure_callback(self) -> Callable[..., Any] | None: ...


@runtime_checkable
class Teardown(Protocol):
    """What serves traffic or costs money, and how to stop it."""

    def plan(self) -> dict[str, Any]:
        """What exists and the ``actions`` a real run takes."""
        ...

    def apply(self, plan: dict[str, Any]) -> list[str]:
        """Carry out a plan this runtime made (:class:`StalePlanError` otherwise); returns what was done."""
        ...


class RetentionNotAppliedError(ValueError):
    """The bucket does not expire objects the way the ``[retention]`` settings say."""


@runtime_checkable
class Retention(Protocol):
    """The ``[retention]`` rules (:mod:`include.retention`) applied where the objects live.

    Locally the objects they expire are listed, then deleted; on AWS the bucket's lifecycle rules delete them,
    and the plan says whether those rules are the settings' ones.
    """

    def plan(self, rules: list[Any], now: datetime) -> dict[str, Any]:
        """``{"runtime", "rules": [{"rule_id", "prefix", "days", "expired": [{"uri", "size", "last_modified"}],
        "problem"}]}``: what the rules expire at ``now`` (a dry run: nothing is deleted)."""
        ...

    def apply(self, plan: dict[str, Any]) -> list[str]:
        """Delete what the plan lists (re-checking each object), or refuse a bucket whose rules differ
        (:class:`RetentionNotAppliedError`); returns the URIs deleted."""
        ...


@dataclass(frozen=True)
class Runtime:
    """One runtime's table: for each capability, a factory taking the settings.

    Factories import their implementation when called, so reading the table (at DAG parse time) costs
    nothing beyond the capabilities a DAG file really uses.
    """

    name: Literal["aws", "local"]
    jobs: Callable[[Settings], JobOperators]
    endpoints: Callable[[Settings], EndpointDeployment]
    served_models: Callable[[Settings], ServedModels]
    executions: Callable[[Settings], StateMachineExecutions]
    interval_analysis: Callable[[Settings], IntervalAnalysis]
    registry: Callable[[Settings], ModelRegistry]
    object_store: Callable[[Settings], ObjectStore]
    object_links: Callable[[Settings], ObjectLinks]
    alerts: Callable[[Settings], Alerts]
    teardown: Callable[[Settings], Teardown]
    retention: Callable[[Settings], Retention]


def lazy(target: str) -> Callable[[Settings], Any]:
    """A factory for ``"module:attribute"`` that imports the module on first use and calls the attribute."""
    module_name, _, attribute = target.partition(":")

    def factory(settings: Settings) -> Any:
        import importlib

        return getattr(importlib.import_module(module_name), attribute)(settings)

    factory.__qualname__ = f"lazy({target})"
    return factory
