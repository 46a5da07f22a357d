"""Request fragments every SageMaker request shares: images, tags, limits, resources."""

from __future__ import annotations

from include.settings import Settings

# AWS Deep Learning Containers registry accounts; every other commercial region uses the default.
_DLC_ACCOUNT_DEFAULT = "763104351884"
_DLC_ACCOUNTS = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-southeast-3": "907027046896",
    "eu-south-1": "692866216735",
    "il-central-1": "780543022126",
    "me-south-1": "217643126080",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
}

PROCESSING_ROOT = "/opt/ml/processing"


def framework_image_uri(settings: Settings, scope: str) -> str:
    """The script-mode framework image for ``scope`` ("training" or "inference") in the region.

    Called when a task runs, never at parse time; ``images.<scope>_uri`` pins an exact image.
    """
    override = {"training": settings.images.training_uri, "inference": settings.images.inference_uri}[scope]
    if override:
        return override
    region = settings.region
    account = _DLC_ACCOUNTS.get(region, _DLC_ACCOUNT_DEFAULT)
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    images = settings.images
    return (
        f"{account}.dkr.ecr.{region}.{domain}/{images.framework}-{scope}:"
        f"{images.framework_version}-cpu-{images.py_version}"
    )


def processing_image_uri(settings: Settings) -> str:
    """Processing programs run on the framework's training image (it has numpy, Pillow, torch)."""
    return settings.images.processing_uri or framework_image_uri(settings, "training")


def tags(settings: Settings, workflow: str, run_key: str) -> list[dict[str, str]]:
    return [
        {"Key": "project", "Value": "scones-mlops"},
        {"Key": "owner", "Value": settings.owner},
        {"Key": "scones:workflow", "Value": workflow},
        {"Key": "scones:run-key", "Value": run_key},
    ]


def stopping_condition(settings: Settings) -> dict[str, int]:
    return {"MaxRuntimeInSeconds": settings.instances.max_runtime_seconds}


def processing_resources(settings: Settings) -> dict:
    return {
        "ClusterConfig": {
            "InstanceCount": 1,
            "InstanceType": settings.instances.processing_type,
            "VolumeSizeInGB": settings.instances.processing_volume_gb,
        }
    }


def s3_input(name: str, s3_uri: str, local_path: str) -> dict:
    """A ProcessingInput that copies an S3 prefix into the container before the job starts."""
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": s3_uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def s3_output(name: str, s3_uri: str, local_path: str) -> dict:
    """A ProcessingOutput uploaded only when the job succeeds."""
    return {
        "OutputName": name,
        "S3Output": {"S3Uri": s3_uri, "LocalPath": local_path, "S3UploadMode": "EndOfJob"},
    }


def processing_request(settings: Settings, *, job_name: str, run_key: str, workflow: str, image_uri: str,
                       entrypoint: list[str], arguments: list[str], inputs: list[dict], outputs: list[dict],
                       environment: dict[str, str] | None = None) -> dict:
    """A CreateProcessingJob request running ``entrypoint arguments`` with the project's resources and tags."""
    return {
        "ProcessingJobName": job_name,
        "RoleArn": settings.sagemaker_role_arn,
        "AppSpecification": {"ImageUri": image_uri, "ContainerEntrypoint": entrypoint,
                             "ContainerArguments": arguments},
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {"Outputs": outputs},
        "ProcessingResources": processing_resources(settings),
        "StoppingCondition": stopping_condition(settings),
        "Environment": {"PYTHONUNBUFFERED": "1", **(environment or {})},
        "Tags": tags(settings, workflow, run_key),
    }
