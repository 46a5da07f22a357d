"""Build the training job request from settings and a run's params, and read its result back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from include.builders.training import training_job_request, upload_training_source
from include.settings import Settings
from include.storage import ObjectStore
from include.workflows.training import models_uri

PARAM_TO_HYPERPARAMETER = {"epochs": "epochs", "learning_rate": "learning-rate", "batch_size": "batch-size",
                           "dropout": "dropout", "width": "width"}


def hyperparameters_for(settings: Settings, params: Mapping[str, Any]) -> dict[str, Any]:
    """Settings' hyperparameters, overridden by the run's typed params."""
    values = settings.training.hyperparameters()
    for param, name in PARAM_TO_HYPERPARAMETER.items():
        if params.get(param) is not None:
            values[name] = params[param]
    return values


def build_training_request(settings: Settings, store: ObjectStore, *, run_key: str, job_name: str,
                           partition: str, params: Mapping[str, Any]) -> dict:
    return training_job_request(
        settings, run_key=run_key, job_name=job_name, partition_uri=partition,
        source_uri=upload_training_source(settings, store),
        hyperparameters=hyperparameters_for(settings, params),
        output_uri=models_uri(settings, run_key) + "training",
    )


def decoded_hyperparameters(encoded: Mapping[str, str]) -> dict[str, Any]:
    """SageMaker's JSON-encoded hyperparameters, decoded, without the toolkit's own entries."""
    decoded = {}
    for name, value in encoded.items():
        if name.startswith("sagemaker_") or name.startswith("_"):
            continue
        try:
            decoded[name] = json.loads(value)
        except (TypeError, json.JSONDecodeError):
            decoded[name] = value
    return decoded


def describe_candidate(training_result: dict, partition: str) -> dict:
    description = training_result["Training"]
    return {
        "model_url": description["ModelArtifacts"]["S3ModelArtifacts"],
        "training_job_name": description["TrainingJobName"],
        "hyperparameters": decoded_hyperparameters(description.get("HyperParameters", {})),
        "partition": partition,
        "metrics": {m["MetricName"]: m["Value"] for m in description.get("FinalMetricDataList", [])},
    }
