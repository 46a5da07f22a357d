"""Combinations of settings that can never work, refused when the settings load, naming both settings.

Each check reads two or more settings that are valid alone; together they would fail later, on AWS, at
a cost (a Model Monitor schedule on an endpoint it can't watch, a Spot job SageMaker refuses, a tuning
job that errors on its ranges).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from include.settings import Settings

ENV_PREFIX = "SCONES_"
REAL_TIME_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
"""InvokeEndpoint's request payload limit for real-time endpoints (botocore: ``Body`` max 6291456)."""
SERVERLESS_PAYLOAD_LIMIT_BYTES = 4 * 1024 * 1024
"""InvokeEndpoint's request payload limit for serverless endpoints."""


def named(dotted: str) -> str:
    """``'monitor.use_model_monitor' (SCONES_MONITOR__USE_MODEL_MONITOR)``."""
    return f"'{dotted}' ({ENV_PREFIX}{dotted.upper().replace('.', '__')})"


def _model_monitor_needs_a_real_time_endpoint(settings: Settings) -> str | None:
    if settings.monitor.use_model_monitor and settings.deploy.serverless:
        return (f"{named('monitor.use_model_monitor')} needs a real-time endpoint, but {named('deploy.serverless')} "
                "is on: Model Monitor can't watch serverless endpoints; turn one of them off (the analyzer job "
                "monitors serverless traffic captured by the classify Lambda)")
    return None


def _spot_wait_covers_the_runtime(settings: Settings) -> str | None:
    instances = settings.instances
    if instances.spot_training and instances.max_wait_seconds < instances.max_runtime_seconds:
        return (f"{named('instances.max_wait_seconds')} = {instances.max_wait_seconds} is below "
                f"{named('instances.max_runtime_seconds')} = {instances.max_runtime_seconds} with "
                f"{named('instances.spot_training')} on: SageMaker requires the Spot wait to cover the runtime")
    return None


def _grid_tunes_categorical_ranges_only(settings: Settings) -> str | None:
    tuning = settings.tuning
    if tuning.strategy == "Grid" and (tuning.continuous or tuning.integer):
        ranges = [r.name for r in (*tuning.continuous, *tuning.integer)]
        return (f"{named('tuning.strategy')} = 'Grid' searches categorical ranges only, but "
                f"{named('tuning.continuous')} / {named('tuning.integer')} hold {', '.join(ranges)}: list their "
                "values under tuning.categorical, or choose Bayesian, Random or Hyperband")
    return None


def _parallel_trials_within_the_budget(settings: Settings) -> str | None:
    tuning = settings.tuning
    if tuning.max_parallel_jobs > tuning.max_jobs:
        return (f"{named('tuning.max_parallel_jobs')} = {tuning.max_parallel_jobs} exceeds "
                f"{named('tuning.max_jobs')} = {tuning.max_jobs}: a tuning job never runs more trials than its budget")
    return None


def _not_a_vehicle_stays_out_of_ingest(settings: Settings) -> str | None:
    prefixes = settings.prefixes
    for reader in ("incoming_labelled", "incoming_photos", "review"):
        read = getattr(prefixes, reader)
        if f"{prefixes.not_a_vehicle}/".startswith(f"{read}/") or f"{read}/".startswith(f"{prefixes.not_a_vehicle}/"):
            return (f"{named('prefixes.not_a_vehicle')} = {prefixes.not_a_vehicle!r} overlaps "
                    f"{named('prefixes.' + reader)} = {read!r}: photos marked 'not a vehicle' need a prefix of their "
                    "own, or ingest would learn from them, inference classify them again, or the queue show them")
    return None


def _photos_fit_the_endpoint_payload(settings: Settings) -> str | None:
    serverless = settings.deploy.serverless
    limit = SERVERLESS_PAYLOAD_LIMIT_BYTES if serverless else REAL_TIME_PAYLOAD_LIMIT_BYTES
    if settings.inference.max_image_bytes > limit:
        kind = "serverless" if serverless else "real-time"
        return (f"{named('inference.max_image_bytes')} = {settings.inference.max_image_bytes} is over the {limit}-byte "
                f"InvokeEndpoint payload limit of a {kind} endpoint ({named('deploy.serverless')} = "
                f"{str(serverless).lower()}): every larger photo would fail at classify instead of being refused "
                f"up front; set it to at most {limit}")
    return None


CHECKS: tuple[Callable[[Settings], str | None], ...] = (
    _model_monitor_needs_a_real_time_endpoint,
    _spot_wait_covers_the_runtime,
    _grid_tunes_categorical_ranges_only,
    _parallel_trials_within_the_budget,
    _not_a_vehicle_stays_out_of_ingest,
    _photos_fit_the_endpoint_payload,
)


def consistency_problems(settings: Settings) -> list[str]:
    """Every impossible combination in ``settings``, each naming the settings involved."""
    return [problem for check in CHECKS if (problem := check(settings))]
