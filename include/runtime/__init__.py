"""The runtime seam: DAGs ask for "a processing job", "a training job", ... and get the runtime's operator.

``aws`` returns the Amazon provider's operator fed with the request config; ``local``
returns an operator that executes the same request config on this machine. Nothing above
this module knows which runtime it is in. Every job-starting task runs in the SageMaker pool.
"""

from __future__ import annotations

from typing import Any

from include.runtime.stores import object_store
from include.settings import get_settings

__all__ = [
    "endpoint_deployment",
    "model_registry",
    "object_store",
    "processing_job",
    "state_machine_executions",
    "training_job",
    "tuning_job",
]


def _is_aws() -> bool:
    return get_settings().runtime == "aws"


def _in_job_pool(kwargs: dict[str, Any]) -> dict[str, Any]:
    kwargs.setdefault("pool", get_settings().sagemaker_pool)
    return kwargs


def processing_job(*, task_id: str, config: Any, **kwargs: Any) -> Any:
    """Runs a CreateProcessingJob request (a dict or an XComArg of one); returns ``{"Processing": ...}``."""
    settings = get_settings()
    _in_job_pool(kwargs)
    if _is_aws():
        from include.runtime.aws import processing_operator

        return processing_operator(task_id, config, settings, **kwargs)
    from include.runtime.local.operators import LocalProcessingOperator

    return LocalProcessingOperator(task_id=task_id, config=config, **kwargs)


def training_job(*, task_id: str, config: Any, **kwargs: Any) -> Any:
    """Runs a CreateTrainingJob request; returns ``{"Training": <DescribeTrainingJob>}``."""
    settings = get_settings()
    _in_job_pool(kwargs)
    if _is_aws():
        from include.runtime.aws_training import training_operator

        return training_operator(task_id, config, settings, **kwargs)
    from include.runtime.local.training_operators import LocalTrainingOperator

    return LocalTrainingOperator(task_id=task_id, config=config, **kwargs)


def tuning_job(*, task_id: str, config: Any, **kwargs: Any) -> Any:
    """Runs a CreateHyperParameterTuningJob request; returns ``{"Tuning": <DescribeHyperParameterTuningJob>}``."""
    settings = get_settings()
    _in_job_pool(kwargs)
    if _is_aws():
        from include.runtime.aws_training import tuning_operator

        return tuning_operator(task_id, config, settings, **kwargs)
    from include.runtime.local.training_operators import LocalTuningOperator

    return LocalTuningOperator(task_id=task_id, config=config, **kwargs)


def endpoint_deployment(*, task_id: str, config: Any, **kwargs: Any) -> Any:
    """Deploys ``{"Model", "EndpointConfig", "Endpoint"}`` requests and verifies the endpoint serves them."""
    settings = get_settings()
    if _is_aws():
        from include.runtime.aws_serving import endpoint_operator

        return endpoint_operator(task_id, config, settings, **kwargs)
    from include.runtime.local.serving_operators import LocalEndpointOperator

    return LocalEndpointOperator(task_id=task_id, config=config, **kwargs)


def state_machine_executions(*, task_id: str, executions: Any, **kwargs: Any) -> Any:
    """One mapped task per ``{"name", "input"}`` in ``executions``; each returns
    ``{"name", "executionArn", "status", "output", "error", "cause"}``."""
    settings = get_settings()
    if _is_aws():
        from include.runtime.aws_serving import state_machine_execution_operator

        return state_machine_execution_operator(task_id, executions, settings, **kwargs)
    from include.runtime.local.serving_operators import LocalStateMachineExecutionOperator

    return LocalStateMachineExecutionOperator.partial(task_id=task_id, **kwargs).expand_kwargs(executions)


def model_registry() -> Any:
    """The model registry: SageMaker Model Registry in ``aws``, a registry under the data root in ``local``."""
    from include.registry import registry_for

    return registry_for(get_settings())
