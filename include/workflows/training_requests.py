"""Build the training job request from settings and a run's params, and read its result back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from include.builders.training import WARM_START_CHANNEL, training_job_request, upload_training_source
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
                           partition: str, params: Mapping[str, Any], warm_start_model_url: str | None = None) -> dict:
    """The training job; with ``warm_start_model_url`` (the serving model, when ``training.warm_start`` is on) it
    starts from that model's weights."""
    return training_job_request(
        settings, run_key=run_key, job_name=job_name, partition_uri=partition,
        source_uri=upload_training_source(settings, store),
        hyperparameters=hyperparameters_for(settings, params),
        output_uri=models_uri(settings, run_key) + "training",
        warm_start_model_url=warm_start_model_url,
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


def warm_start_of(input_data_config: list[dict]) -> str | None:
    """The ``model.tar.gz`` a training job started from (its warm-start channel), or ``None`` from scratch."""
    for channel in input_data_config:
        if channel.get("ChannelName") == WARM_START_CHANNEL:
            return channel["DataSource"]["S3DataSource"]["S3Uri"]
    return None


def describe_candidate(training_result: dict, partition: str) -> dict:
    description = training_result["Training"]
    return {
        "model_url": description["ModelArtifacts"]["S3ModelArtifacts"],
        "training_job_name": description["TrainingJobName"],
        "hyperparameters": decoded_hyperparameters(description.get("HyperParameters", {})),
        "warm_start_model_url": warm_start_of(description.get("InputDataConfig", [])),
        "partition": partition,
        "metrics": {m["MetricName"]: m["Value"] for m in description.get("FinalMetricDataList", [])},
    }


def build_tuning_request(settings: Settings, store: ObjectStore, *, run_key: str, partition: str) -> dict:
    """The tuning request: the training request is its template, the search space comes from settings."""
    from include.builders.tuning import tuning_job_name, tuning_job_request

    template = build_training_request(settings, store, run_key=run_key, job_name="template", partition=partition,
                                      params={"epochs": settings.tuning.epochs})
    return tuning_job_request(settings, run_key=run_key, tuning_job_name=tuning_job_name(run_key),
                              training_request_template=template)


def describe_best_candidate(tuning_result: dict, partition: str) -> dict:
    """The tuning job's best training job as a promotion candidate (its artifact path is SageMaker's layout)."""
    description = tuning_result["Tuning"]
    best = description["BestTrainingJob"]
    output_path = description["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    static = description["TrainingJobDefinition"].get("StaticHyperParameters", {})
    return {
        "model_url": f"{output_path}/{best['TrainingJobName']}/output/model.tar.gz",
        "training_job_name": best["TrainingJobName"],
        "hyperparameters": decoded_hyperparameters({**static, **best.get("TunedHyperParameters", {})}),
        "warm_start_model_url": warm_start_of(description["TrainingJobDefinition"].get("InputDataConfig", [])),
        "partition": partition,
        "metrics": {best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"]:
                    best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]},
    }
