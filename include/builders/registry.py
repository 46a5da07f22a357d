"""The CreateModelPackage request that registers a trained model version."""

from __future__ import annotations

import re

from include.builders.common import framework_image_uri
from include.run_keys import RUN_KEY_PROPERTY
from include.settings import Settings

IMAGE_CONTENT_TYPES = ["image/png", "image/jpeg", "application/x-image"]


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
) -> dict:
    """CreateModelPackage: image content types (not the provider's text/csv default) and metrics attached.

    ``trained_from`` holds the digests of the data, code and hyperparameters
    (:meth:`include.workflows.lineage.TrainingInputs.as_metadata`); the run key is also a tag, which the
    registry searches by.
    """
    metadata = {
        RUN_KEY_PROPERTY: run_key,
        "scones:training-job": training_job_name,
        "scones:dataset-manifest-sha256": dataset_manifest_sha256,
        **trained_from,
        "scones:hyperparameters": metadata_value(hyperparameters),
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
