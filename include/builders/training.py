"""The CreateTrainingJob request for the classifier, in SageMaker script mode, and its source upload."""

from __future__ import annotations

import json
from typing import Any

from include.builders.common import framework_image_uri, stopping_condition, tags
from include.code_bundle import PROGRAM_DIRS, source_digest, source_tarball
from include.settings import Settings
from include.storage import ObjectStore

ENTRY_POINT = "train.py"
SOURCE_ARCHIVE = "sourcedir.tar.gz"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
CHANNELS = ("train", "validation")
WARM_START_CHANNEL = "warmstart"
IMAGE_CONTENT_TYPE = "application/x-image"
MODEL_CONTENT_TYPE = "application/x-gzip"
CONTAINER_LOG_LEVEL = 20
METRIC_DEFINITIONS_FILE = PROGRAM_DIRS["model"] / "metric_definitions.json"


def metric_definitions() -> list[dict[str, str]]:
    """The training log's metric regexes, shared by SageMaker and the local runtime."""
    return json.loads(METRIC_DEFINITIONS_FILE.read_text())


def encode_hyperparameters(values: dict[str, Any]) -> dict[str, str]:
    """Every value JSON-encoded into a string, as the SageMaker Python SDK sends script-mode hyperparameters."""
    return {str(name): json.dumps(value) for name, value in values.items()}


def script_mode_hyperparameters(settings: Settings, hyperparameters: dict[str, Any], source_uri: str) -> dict[str, str]:
    """The program's hyperparameters plus the ``sagemaker_*`` entries the framework container reads."""
    return encode_hyperparameters({
        **hyperparameters,
        "sagemaker_program": ENTRY_POINT,
        "sagemaker_submit_directory": source_uri,
        "sagemaker_region": settings.region,
        "sagemaker_container_log_level": CONTAINER_LOG_LEVEL,
    })


def image_channel(name: str, partition_uri: str) -> dict:
    """A File-mode channel reading the partition's ``<name>/`` split folder."""
    return {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix",
            "S3Uri": f"{partition_uri.rstrip('/')}/{name}/",
            "S3DataDistributionType": "FullyReplicated",
        }},
        "ContentType": IMAGE_CONTENT_TYPE,
        "InputMode": "File",
    }


def warm_start_channel(model_data_url: str) -> dict:
    """A File-mode channel holding the serving model's ``model.tar.gz``, which the training starts from."""
    return {
        "ChannelName": WARM_START_CHANNEL,
        "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix",
            "S3Uri": model_data_url,
            "S3DataDistributionType": "FullyReplicated",
        }},
        "ContentType": MODEL_CONTENT_TYPE,
        "InputMode": "File",
    }


def training_resources(settings: Settings) -> dict:
    return {
        "InstanceCount": 1,
        "InstanceType": settings.instances.training_type,
        "VolumeSizeInGB": settings.instances.training_volume_gb,
    }


def training_stopping_condition(settings: Settings) -> dict[str, int]:
    """MaxRuntimeInSeconds, plus MaxWaitTimeInSeconds for managed Spot training."""
    condition = stopping_condition(settings)
    if settings.instances.spot_training:
        condition["MaxWaitTimeInSeconds"] = max(settings.instances.max_wait_seconds, condition["MaxRuntimeInSeconds"])
    return condition


def checkpoint_uri(settings: Settings, job_name: str) -> str:
    """Where Spot checkpoints of a job (and its retries, which share the base name) are kept."""
    return settings.s3_uri(settings.prefixes.jobs, "training", job_name, "checkpoints") + "/"


def spot_fields(settings: Settings, job_name: str) -> dict:
    """EnableManagedSpotTraining and CheckpointConfig when Spot training is on, else nothing."""
    if not settings.instances.spot_training:
        return {}
    return {
        "EnableManagedSpotTraining": True,
        "CheckpointConfig": {"S3Uri": checkpoint_uri(settings, job_name), "LocalPath": CHECKPOINT_LOCAL_PATH},
    }


def training_job_request(
    settings: Settings,
    *,
    run_key: str,
    job_name: str,
    partition_uri: str,
    source_uri: str,
    hyperparameters: dict[str, Any],
    output_uri: str,
    warm_start_model_url: str | None = None,
) -> dict:
    """CreateTrainingJob request running ``programs/model/train.py`` on a dataset partition.

    With ``warm_start_model_url`` (the serving model's ``model.tar.gz``) the job starts from that model's weights.
    """
    channels = [image_channel(name, partition_uri) for name in CHANNELS]
    if warm_start_model_url:
        channels.append(warm_start_channel(warm_start_model_url))
    return {
        "TrainingJobName": job_name,
        "RoleArn": settings.sagemaker_role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": framework_image_uri(settings, "training"),
            "TrainingInputMode": "File",
            "MetricDefinitions": metric_definitions(),
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "HyperParameters": script_mode_hyperparameters(settings, hyperparameters, source_uri),
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "ResourceConfig": training_resources(settings),
        "StoppingCondition": training_stopping_condition(settings),
        **spot_fields(settings, job_name),
        "Tags": tags(settings, "training", run_key),
    }


def upload_training_source(settings: Settings, store: ObjectStore) -> str:
    """Upload ``programs/model`` as ``sourcedir.tar.gz`` once per content version; returns its URI."""
    directory = PROGRAM_DIRS["model"]
    uri = settings.s3_uri(settings.prefixes.code, "model", source_digest(directory)[:16], SOURCE_ARCHIVE)
    if not store.exists(uri):
        store.put_bytes(uri, source_tarball(directory))
    return uri
