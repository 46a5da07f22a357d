"""The runtime seam: DAGs ask for "a processing job" and get the runtime's operator.

``aws`` returns the Amazon provider's operator fed with the request config; ``local``
returns an operator that executes the same request config on this machine. Nothing above
this module knows which runtime it is in.
"""

from __future__ import annotations

from typing import Any

from include.runtime.stores import object_store
from include.settings import get_settings

__all__ = ["object_store", "processing_job"]


def processing_job(*, task_id: str, config: Any, **kwargs: Any) -> Any:
    """A task that runs a CreateProcessingJob request (a dict or an XComArg of one)."""
    settings = get_settings()
    kwargs.setdefault("pool", settings.sagemaker_pool)
    if settings.runtime == "aws":
        from include.runtime.aws import processing_operator

        return processing_operator(task_id, config, settings, **kwargs)
    from include.runtime.local.operators import LocalProcessingOperator

    return LocalProcessingOperator(task_id=task_id, config=config, **kwargs)
