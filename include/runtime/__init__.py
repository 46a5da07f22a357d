"""The runtime seam: DAGs and workflow steps ask for a capability and get the configured runtime's implementation.

``aws`` answers with the Amazon provider's operators and AWS clients, ``local`` with the same request
configs executed on this machine (see :mod:`include.runtime.capabilities` for the interfaces). This module
is the only place that maps ``settings.runtime`` to an implementation; nothing above it knows which
runtime it is in. Every job-starting task runs in the SageMaker pool.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from include.runtime.capabilities import (
    Alerts,
    IntervalAnalysis,
    ObjectLinks,
    Retention,
    Runtime,
    ServedModels,
    Teardown,
)
from include.settings import Settings, get_settings
from include.timeouts import JobKind, deployment_timeout, job_timeout

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator

    from include.registry import ModelRegistry
    from include.storage import ObjectStore

__all__ = [
    "alerts",
    "current",
    "endpoint_deployment",
    "interval_analysis",
    "model_registry",
    "object_links",
    "object_store",
    "processing_job",
    "retention",
    "served_models",
    "state_machine_executions",
    "teardown",
    "training_job",
    "tuning_job",
]

TABLES = {"aws": "include.runtime.aws", "local": "include.runtime.local"}
"""Where each runtime's table lives (its module's ``RUNTIME``)."""


def current(settings: Settings | None = None) -> Runtime:
    """The table of the runtime the settings name."""
    settings = settings or get_settings()
    return importlib.import_module(TABLES[settings.runtime]).RUNTIME


def _job_task(settings: Settings, kind: JobKind, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A job task runs in the SageMaker pool, and may take as long as its job is allowed to (plus a margin)."""
    kwargs.setdefault("pool", settings.sagemaker_pool)
    kwargs.setdefault("execution_timeout", job_timeout(settings, kind))
    return kwargs


def processing_job(*, task_id: str, config: Any, **kwargs: Any) -> BaseOperator:
    """Runs a CreateProcessingJob request (a dict or an XComArg of one); returns ``{"Processing": ...}``."""
    settings = get_settings()
    return current(settings).jobs(settings).processing_job(task_id=task_id, config=config,
                                                           **_job_task(settings, "processing", kwargs))


def training_job(*, task_id: str, config: Any, **kwargs: Any) -> BaseOperator:
    """Runs a CreateTrainingJob request; returns ``{"Training": <DescribeTrainingJob>}``."""
    settings = get_settings()
    return current(settings).jobs(settings).training_job(task_id=task_id, config=config,
                                                         **_job_task(settings, "training", kwargs))


def tuning_job(*, task_id: str, config: Any, **kwargs: Any) -> BaseOperator:
    """Runs a CreateHyperParameterTuningJob request; returns ``{"Tuning": <DescribeHyperParameterTuningJob>}``."""
    settings = get_settings()
    return current(settings).jobs(settings).tuning_job(task_id=task_id, config=config,
                                                       **_job_task(settings, "tuning", kwargs))


def endpoint_deployment(*, task_id: str, config: Any, **kwargs: Any) -> BaseOperator:
    """Deploys ``{"Model", "EndpointConfig", "Endpoint"}`` requests and verifies the endpoint serves them."""
    settings = get_settings()
    kwargs.setdefault("execution_timeout", deployment_timeout(settings))
    return current(settings).endpoints(settings).endpoint_deployment(task_id=task_id, config=config, **kwargs)


def state_machine_executions(*, task_id: str, executions: Any, **kwargs: Any) -> BaseOperator:
    """One task running the inference state machine for each ``{"name", "input"}`` in ``executions``, in turn."""
    settings = get_settings()
    return current(settings).executions(settings).state_machine_executions(task_id=task_id, executions=executions,
                                                                           **kwargs)


def served_models(settings: Settings | None = None) -> ServedModels:
    """Which model version an endpoint serves now (SageMaker's endpoint, or the local endpoint's records)."""
    settings = settings or get_settings()
    return current(settings).served_models(settings)


def object_store(settings: Settings | None = None) -> ObjectStore:
    """S3, or S3 on disk under ``data_root``."""
    settings = settings or get_settings()
    return current(settings).object_store(settings)


def object_links(settings: Settings | None = None) -> ObjectLinks:
    """Browser URLs for stored objects: the S3 console, or the project's pages on the local API server."""
    settings = settings or get_settings()
    return current(settings).object_links(settings)


def model_registry(settings: Settings | None = None) -> ModelRegistry:
    """SageMaker Model Registry, or the same records under the data root."""
    settings = settings or get_settings()
    return current(settings).registry(settings)


def interval_analysis(settings: Settings | None = None) -> IntervalAnalysis:
    """How an interval's captured traffic is analysed (Model Monitor schedule or analyzer job)."""
    settings = settings or get_settings()
    return current(settings).interval_analysis(settings)


def alerts(settings: Settings | None = None) -> Alerts:
    """Where drift alerts and task failures go."""
    settings = settings or get_settings()
    return current(settings).alerts(settings)


def teardown(settings: Settings | None = None) -> Teardown:
    """What serves traffic or costs money in this runtime, and how to stop it."""
    settings = settings or get_settings()
    return current(settings).teardown(settings)


def retention(settings: Settings | None = None) -> Retention:
    """The ``[retention]`` rules applied: deletion under the data root, or the bucket's lifecycle rules checked."""
    settings = settings or get_settings()
    return current(settings).retention(settings)
