"""Combinations of settings that can never work, refused when the settings load, naming both settings.

Each check reads two or more settings that are valid alone; together they would fail later, on AWS, at
a cost (a Model Monitor schedule on an endpoint it can't watch, a Spot job SageMaker refuses, a tuning
job that errors on its ranges).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from include import blue_green

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


def _guardrails_need_an_instance_endpoint(settings: Settings) -> str | None:
    deploy = settings.deploy
    if deploy.serverless and deploy.traffic_routing != "ALL_AT_ONCE":
        return (f"{named('deploy.traffic_routing')} = {deploy.traffic_routing!r} needs instances, but "
                f"{named('deploy.serverless')} is on: serverless endpoints take no blue/green traffic shifting; "
                "use ALL_AT_ONCE or a real-time endpoint")
    if deploy.serverless and deploy.autoscaling:
        return (f"{named('deploy.autoscaling')} scales instances, but {named('deploy.serverless')} is on: turn one "
                "of them off")
    return None


def _traffic_steps_within_sagemakers_bounds(settings: Settings) -> str | None:
    deploy = settings.deploy
    if deploy.traffic_routing == "LINEAR" and deploy.traffic_step_percent < blue_green.LINEAR_MIN_PERCENT:
        return (f"{named('deploy.traffic_step_percent')} = {deploy.traffic_step_percent} is below "
                f"{blue_green.LINEAR_MIN_PERCENT}: SageMaker's linear steps are {blue_green.LINEAR_MIN_PERCENT}-"
                f"{blue_green.LINEAR_MAX_PERCENT}% of the new fleet ({named('deploy.traffic_routing')} = 'LINEAR')")
    return None


def _shifting_needs_two_instances_and_alarms(settings: Settings) -> str | None:
    deploy = settings.deploy
    if deploy.traffic_routing == "ALL_AT_ONCE":
        return None
    if not deploy.rollback_alarms:
        return (f"{named('deploy.traffic_routing')} = {deploy.traffic_routing!r} bakes each step against the "
                f"rollback alarms, but {named('deploy.rollback_alarms')} is empty: nothing could roll it back")
    fleet, setting = ((deploy.autoscaling_min_instances, "deploy.autoscaling_min_instances") if deploy.autoscaling
                      else (deploy.initial_instance_count, "deploy.initial_instance_count"))
    if fleet < 2:
        return (f"{named('deploy.traffic_routing')} = {deploy.traffic_routing!r} turns part of the new fleet on at a "
                f"time, but {named(setting)} = {fleet}: a one-instance fleet has no part smaller than half of it; "
                "give it two or more instances, or use ALL_AT_ONCE")
    return None


def _update_fits_its_time_limits(settings: Settings) -> str | None:
    deploy = settings.deploy
    needed = blue_green.update_time_limit_seconds(deploy)
    plan = (f"{named('deploy.traffic_routing')} = {deploy.traffic_routing!r} with "
            f"{named('deploy.traffic_step_percent')} = {deploy.traffic_step_percent}, "
            f"{named('deploy.bake_minutes')} = {deploy.bake_minutes} and "
            f"{named('deploy.termination_wait_minutes')} = {deploy.termination_wait_minutes}")
    if needed > blue_green.EXECUTION_TIMEOUT_MAX_SECONDS:
        return (f"{plan} takes up to {needed / 60:.0f} minutes, beyond SageMaker's "
                f"{blue_green.EXECUTION_TIMEOUT_MAX_SECONDS / 3600:.0f} hours for an update: bake less or take "
                "bigger steps")
    if settings.dags.deployment_timeout_minutes * 60 < needed:
        return (f"{plan} takes up to {needed / 60:.0f} minutes, but {named('dags.deployment_timeout_minutes')} = "
                f"{settings.dags.deployment_timeout_minutes} would stop the deployment task first: raise it")
    return None


def _autoscaling_range(settings: Settings) -> str | None:
    deploy = settings.deploy
    if deploy.autoscaling and deploy.autoscaling_min_instances > deploy.autoscaling_max_instances:
        return (f"{named('deploy.autoscaling_min_instances')} = {deploy.autoscaling_min_instances} exceeds "
                f"{named('deploy.autoscaling_max_instances')} = {deploy.autoscaling_max_instances}")
    return None


def _review_photos_outlive_the_review_window(settings: Settings) -> str | None:
    if settings.retention.review_days <= settings.review.window_days:
        return (f"{named('retention.review_days')} = {settings.retention.review_days} does not exceed "
                f"{named('review.window_days')} = {settings.review.window_days}: queued photos would be deleted while "
                "reviewers may still label them; keep them longer than the window")
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


def _embedding_test_can_fire(settings: Settings) -> str | None:
    monitor = settings.monitor
    if not monitor.embedding_drift:
        return None
    if monitor.mmd_alpha * (monitor.mmd_permutations + 1) <= 1:
        return (f"{named('monitor.mmd_alpha')} = {monitor.mmd_alpha} is at or below the smallest p-value "
                f"{named('monitor.mmd_permutations')} = {monitor.mmd_permutations} permutations can give "
                f"(1 / {monitor.mmd_permutations + 1}): the embedding check could never fire; raise the permutations "
                "or the alpha")
    if monitor.mmd_min_records > monitor.mmd_window_records:
        return (f"{named('monitor.mmd_min_records')} = {monitor.mmd_min_records} is above "
                f"{named('monitor.mmd_window_records')} = {monitor.mmd_window_records}: no window could be tested")
    return None


CHECKS: tuple[Callable[[Settings], str | None], ...] = (
    _model_monitor_needs_a_real_time_endpoint,
    _spot_wait_covers_the_runtime,
    _grid_tunes_categorical_ranges_only,
    _parallel_trials_within_the_budget,
    _not_a_vehicle_stays_out_of_ingest,
    _guardrails_need_an_instance_endpoint,
    _traffic_steps_within_sagemakers_bounds,
    _shifting_needs_two_instances_and_alarms,
    _update_fits_its_time_limits,
    _autoscaling_range,
    _review_photos_outlive_the_review_window,
    _photos_fit_the_endpoint_payload,
    _embedding_test_can_fire,
)


def consistency_problems(settings: Settings) -> list[str]:
    """Every impossible combination in ``settings``, each naming the settings involved."""
    return [problem for check in CHECKS if (problem := check(settings))]
