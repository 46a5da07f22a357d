"""The drift baseline traffic is compared with: the baseline of the model version the endpoint serves."""

from __future__ import annotations

import logging

from include.builders.monitoring import CONSTRAINTS_FILE, EMBEDDINGS_FILE, STATISTICS_FILE, EmbeddingInputs
from include.deployed_model import serving_version
from include.registry import ModelRegistry, model_data_url
from include.run_keys import RUN_KEY_PROPERTY
from include.runtime.capabilities import ServedModels
from include.settings import Settings
from include.storage import ObjectStore
from include.workflows.training import baseline_uri as model_baseline_uri

LOG = logging.getLogger(__name__)


class NoBaselineError(LookupError):
    """The serving model version has no drift baseline to compare traffic against."""


def baseline_for_serving_model(settings: Settings, served_models: ServedModels, registry: ModelRegistry,
                               store: ObjectStore) -> str:
    """The drift baseline folder of the version the endpoint serves (after a rollback: the version rolled back to).

    Raises :class:`~include.deployed_model.NoModelDeployedError` before the first deployment.
    """
    record = serving_version(settings, served_models, registry)
    key = record.get("CustomerMetadataProperties", {}).get(RUN_KEY_PROPERTY)
    if not key:
        raise NoBaselineError(f"model version {record['ModelPackageArn']} has no {RUN_KEY_PROPERTY!r} metadata: "
                              "register models through scones_train so their baseline can be found")
    uri = model_baseline_uri(settings, key)
    missing = [name for name in (STATISTICS_FILE, CONSTRAINTS_FILE) if not store.exists(uri + name)]
    if missing:
        raise NoBaselineError(f"the baseline of model version {record['ModelPackageVersion']} at {uri} lacks "
                              f"{', '.join(missing)}: clear the promote.baseline task of the run that trained "
                              f"{key!r}")
    return uri


def embedding_inputs(settings: Settings, served_models: ServedModels, registry: ModelRegistry, store: ObjectStore,
                     baseline_uri: str) -> EmbeddingInputs | None:
    """The serving model and its baseline's embeddings for the embedding drift check, or ``None`` (logged why):
    ``monitor.embedding_drift`` off, a baseline made without embeddings, or a deployment since ``baseline_uri``
    was chosen (the model must be the one the baseline embedded)."""
    if not settings.monitor.embedding_drift:
        return None
    record = serving_version(settings, served_models, registry)
    key = record.get("CustomerMetadataProperties", {}).get(RUN_KEY_PROPERTY)
    if not key or model_baseline_uri(settings, key) != baseline_uri:
        LOG.warning("the serving model changed since the baseline %s was chosen: no embedding drift check this "
                    "window", baseline_uri)
        return None
    embeddings = baseline_uri + EMBEDDINGS_FILE
    if not store.exists(embeddings):
        LOG.warning("the baseline %s has no %s (made before embedding drift was on): no embedding drift check; "
                    "clear the promote.baseline task of the run that trained %r to add it", baseline_uri,
                    EMBEDDINGS_FILE, key)
        return None
    return EmbeddingInputs(model_data_url(record), embeddings)
