"""The deployed model as a fact: the registered version the endpoint serves, read from the endpoint.

The newest approved version is not necessarily what serves traffic: a blue/green update rolled back on
its alarms leaves the endpoint on the version before. So the monitor's baseline, the quality gate's
champion and the "nothing changed" check all start from the endpoint (``ServedModels`` in
``include/runtime/capabilities.py``) and then read that version from the registry.
"""

from __future__ import annotations

import logging

from include.registry import MODEL_PACKAGE_TAG, ModelRegistry
from include.runtime.capabilities import ServedModels
from include.settings import Settings

LOG = logging.getLogger(__name__)


class NoModelDeployedError(LookupError):
    """The endpoint does not exist yet, or serves nothing: no model has been deployed."""


class UntrackedServedModelError(LookupError):
    """The endpoint serves a model without the model package tag, so its registered version is unknown."""


def serving_version(settings: Settings, served_models: ServedModels, registry: ModelRegistry) -> dict:
    """The DescribeModelPackage record of the version the endpoint serves now."""
    endpoint = settings.deploy.endpoint_name
    served = served_models.served_model(endpoint)
    if served is None:
        raise NoModelDeployedError(f"endpoint {endpoint!r} serves no model yet: train, approve and deploy one "
                                   "(scones_train, then scones_deploy)")
    if not served.model_package_arn:
        raise UntrackedServedModelError(
            f"endpoint {endpoint!r} serves model {served.model_name} (endpoint config {served.endpoint_config_name}), "
            f"which has no {MODEL_PACKAGE_TAG!r} tag, so its registered version is unknown: deploy the version "
            "you mean to serve with scones_deploy (model_package_arn) so the deployment is tagged")
    LOG.info("endpoint %s serves %s (config %s, model %s)", endpoint, served.model_package_arn,
             served.endpoint_config_name, served.model_name)
    return registry.describe(served.model_package_arn)


def serving_version_or_none(settings: Settings, served_models: ServedModels, registry: ModelRegistry) -> dict | None:
    """As :func:`serving_version`, but ``None`` before the first deployment."""
    try:
        return serving_version(settings, served_models, registry)
    except NoModelDeployedError:
        return None
