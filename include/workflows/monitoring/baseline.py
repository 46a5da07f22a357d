"""The drift baseline traffic is compared with."""

from __future__ import annotations

from include.builders.monitoring import CONSTRAINTS_FILE, STATISTICS_FILE
from include.registry import ModelRegistry
from include.run_keys import RUN_KEY_PROPERTY
from include.settings import Settings
from include.storage import ObjectStore
from include.workflows.training import baseline_uri as model_baseline_uri


class NoBaselineError(LookupError):
    """There is no approved model with a drift baseline to compare traffic against."""


def baseline_for_current_model(settings: Settings, registry: ModelRegistry, store: ObjectStore) -> str:
    """The drift baseline folder of the newest approved model version."""
    record = registry.latest_approved()
    group = settings.registry.model_package_group
    if record is None:
        raise NoBaselineError(f"no approved model version in model package group {group!r}: run scones_train "
                              "(and approve its version) before monitoring")
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
