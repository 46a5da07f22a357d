"""The deployment workflow's steps: choose the model version, build the endpoint config, summarise the result."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from include.builders.deploy import capture_destination, endpoint_deployment_config, lambda_capture_uri
from include.registry import ModelRegistry
from include.settings import Settings

LOG = logging.getLogger(__name__)
ARN_KEYS = ("model_package_arn", "ModelPackageArn")
RECORD_FIELDS = ("ModelPackageArn", "ModelPackageVersion", "ModelPackageGroupName", "ModelApprovalStatus",
                 "InferenceSpecification", "CustomerMetadataProperties")


class NoApprovedModelError(LookupError):
    """There is no approved model version to deploy."""


class ModelNotApprovedError(ValueError):
    """The requested model version is not approved for deployment."""


def asset_event_extras(context: Mapping[str, Any]) -> list[dict]:
    """The ``extra`` of every Asset event that triggered this run, oldest first (none for manual runs)."""
    events_by_asset = context.get("triggering_asset_events") or {}
    return [dict(event.extra or {}) for events in events_by_asset.values() for event in events]


def requested_arn(param_arn: str | None, extras: Iterable[Mapping[str, Any]]) -> str | None:
    """The model version asked for: the run's ``model_package_arn`` param, else the newest Asset event's."""
    if param_arn and param_arn.strip():
        return param_arn.strip()
    for extra in reversed(list(extras)):
        for key in ARN_KEYS:
            if extra.get(key):
                return str(extra[key])
    return None


def choose_model_version(registry: ModelRegistry, *, param_arn: str | None,
                         asset_extras: Iterable[Mapping[str, Any]]) -> dict:
    """The model version record to deploy: the requested one (which must be approved) or the latest approved."""
    arn = requested_arn(param_arn, asset_extras)
    if arn is None:
        record = registry.latest_approved()
        if record is None:
            raise NoApprovedModelError(
                "no approved model version to deploy: train and approve one (scones_train), or trigger "
                "scones_deploy with model_package_arn"
            )
    else:
        record = registry.describe(arn)
        if record.get("ModelApprovalStatus") != "Approved":
            raise ModelNotApprovedError(
                f"model version {arn} is {record.get('ModelApprovalStatus')}, not Approved: approve it in the "
                "model registry before deploying it"
            )
    LOG.info("Deploying model version %s", record["ModelPackageArn"])
    return {field: record[field] for field in RECORD_FIELDS if field in record}


def build_config(settings: Settings, *, model_version_record: dict, run_key: str) -> dict:
    return endpoint_deployment_config(settings, model_version_record=model_version_record, run_key=run_key)


def deployment_summary(settings: Settings, *, model_version_record: dict, deployment: Mapping[str, Any]) -> dict:
    """What was deployed and where its traffic is captured."""
    endpoint = deployment["Endpoint"]
    capture = lambda_capture_uri(settings) or settings.s3_uri(
        capture_destination(settings).removeprefix(f"s3://{settings.bucket}/"),
        endpoint["EndpointName"], settings.deploy.variant_name,
    )
    summary = {
        "endpoint_name": endpoint["EndpointName"],
        "endpoint_config_name": endpoint["EndpointConfigName"],
        "endpoint_status": endpoint["EndpointStatus"],
        "model_package_arn": model_version_record["ModelPackageArn"],
        "model_version": model_version_record["ModelPackageVersion"],
        "capture_uri": capture,
    }
    if endpoint.get("EndpointUrl"):
        summary["endpoint_url"] = endpoint["EndpointUrl"]
    LOG.info("Endpoint %s serves model version %s (config %s); capture files under %s",
             summary["endpoint_name"], summary["model_version"], summary["endpoint_config_name"], capture)
    return summary
