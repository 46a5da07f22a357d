"""The CreateModelPackage request that registers a trained model version."""

from __future__ import annotations

import re
from datetime import datetime

from include.builders.common import framework_image_uri
from include.registry import APPROVAL_STATUSES
from include.run_keys import RUN_KEY_PROPERTY
from include.settings import Settings

IMAGE_CONTENT_TYPES = ["image/png", "image/jpeg", "application/x-image"]


SEED = "scones:seed"
WEIGHTS_DIGEST = "scones:weights-sha256"
WARM_START = "scones:warm-start-from"
"""The ``model.tar.gz`` whose weights the training started from, or ``scratch``."""
APPROVAL_BY = "scones:approval-by"
APPROVAL_AT = "scones:approval-at"
APPROVAL_VIA = "scones:approval-via"
APPROVAL_DESCRIPTION_MAX = 1024
_METADATA_UNSAFE = re.compile(r"[^\w .:/=+\-@]")


class UnknownApprovalStatusError(ValueError):
    """The status is not one SageMaker's ModelApprovalStatus admits."""


def metadata_text(text: str) -> str:
    """A CustomerMetadataProperties value: only letters, digits, spaces and ``_.:/=+-@``, at most 256 characters."""
    return _METADATA_UNSAFE.sub("_", text)[:256] or "_"


def metadata_value(values: dict) -> str:
    """``name=value`` pairs: CustomerMetadataProperties admit only letters, digits, spaces and ``_.:/=+-@``."""
    text = " ".join(f"{name}={value}" for name, value in sorted(values.items()))
    return re.sub(r"[^\w .:/=+\-@]", "_", text)[:256]


def model_package_request(
    settings: Settings,
    *,
    run_key: str,
    model_data_url: str,
    evaluation_uri: str,
    metrics: dict,
    dataset_manifest_sha256: str,
    trained_from: dict[str, str],
    hyperparameters: dict,
    training_job_name: str,
    weights_sha256: str | None = None,
    warm_start_model_url: str | None = None,
) -> dict:
    """CreateModelPackage: image content types (not the provider's text/csv default) and metrics attached.

    ``trained_from`` holds the digests of the data, code and hyperparameters
    (:meth:`include.workflows.lineage.TrainingInputs.as_metadata`); with the seed and the digest of the weights
    the training gave and the weights it started from (``warm_start_model_url``, or from scratch), a retraining
    can be checked to reproduce the version. The run key is also a tag, which
    the registry searches by.
    """
    metadata = {
        RUN_KEY_PROPERTY: run_key,
        "scones:training-job": training_job_name,
        "scones:dataset-manifest-sha256": dataset_manifest_sha256,
        **trained_from,
        "scones:hyperparameters": metadata_value(hyperparameters),
        SEED: str(hyperparameters.get("seed", "unknown")),
        WEIGHTS_DIGEST: weights_sha256 or "unknown",
        WARM_START: metadata_text(warm_start_model_url) if warm_start_model_url else "scratch",
        "scones:accuracy": f"{metrics['accuracy']:.6f}",
        "scones:ece": f"{metrics['ece']:.6f}",
    }
    return {
        "ModelPackageGroupName": settings.registry.model_package_group,
        "ModelPackageDescription": f"Vehicle classifier trained by run {run_key}",
        "InferenceSpecification": {
            "Containers": [{
                "Image": framework_image_uri(settings, "inference"),
                "ModelDataUrl": model_data_url,
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
            }],
            "SupportedContentTypes": IMAGE_CONTENT_TYPES,
            "SupportedResponseMIMETypes": ["application/json"],
            "SupportedRealtimeInferenceInstanceTypes": [settings.deploy.instance_type],
        },
        "ModelApprovalStatus": settings.registry.approval_status,
        "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                         "S3Uri": evaluation_uri}}},
        "CustomerMetadataProperties": metadata,
        "Tags": [{"Key": "project", "Value": "scones-mlops"}, {"Key": RUN_KEY_PROPERTY, "Value": run_key}],
    }


def approval_update_request(record: dict, status: str, *, reviewer: str, at: datetime, via: str,
                            note: str = "") -> dict:
    """UpdateModelPackage: the new status, the reviewer's note, and who decided when and where.

    The metadata goes in whole (the record's own plus the decision), so the update reads the same whether
    the registry merges CustomerMetadataProperties or replaces them.
    """
    if status not in APPROVAL_STATUSES:
        raise UnknownApprovalStatusError(
            f"unknown approval status {status!r}: use one of {', '.join(APPROVAL_STATUSES)}")
    description = note.strip() or f"{status} by {reviewer} ({via})"
    metadata = {
        **record.get("CustomerMetadataProperties", {}),
        APPROVAL_BY: metadata_text(reviewer),
        APPROVAL_AT: metadata_text(at.isoformat()),
        APPROVAL_VIA: metadata_text(via),
    }
    return {
        "ModelPackageArn": record["ModelPackageArn"],
        "ModelApprovalStatus": status,
        "ApprovalDescription": description[:APPROVAL_DESCRIPTION_MAX],
        "CustomerMetadataProperties": metadata,
    }
