"""The ingest Processing job request: the archive and labelled photos in, a partition out."""

from __future__ import annotations

from include.builders.common import (
    PROCESSING_ROOT,
    processing_image_uri,
    processing_resources,
    s3_input,
    s3_output,
    stopping_condition,
    tags,
)
from include.settings import Settings

CODE_DIR = f"{PROCESSING_ROOT}/code"
ARCHIVE_DIR = f"{PROCESSING_ROOT}/input/cifar"
LABELLED_DIR = f"{PROCESSING_ROOT}/input/labelled"
PARTITION_DIR = f"{PROCESSING_ROOT}/output/partition"


def ingest_processing_request(
    settings: Settings,
    *,
    run_key: str,
    job_name: str,
    code_uri: str,
    archive_uri: str,
    archive_md5: str,
    staging_uri: str,
    include_labelled: bool,
) -> dict:
    """CreateProcessingJob request for the ingest program (``include/data/ingest.py``)."""
    inputs = [s3_input("code", code_uri, CODE_DIR), s3_input("cifar", archive_uri, ARCHIVE_DIR)]
    if include_labelled:
        # SageMaker fails an input whose prefix is empty, so the prefix is added only when it has photos.
        labelled_uri = settings.s3_uri(settings.prefixes.incoming_labelled) + "/"
        inputs.append(s3_input("labelled", labelled_uri, LABELLED_DIR))
    ingest = settings.ingest
    return {
        "ProcessingJobName": job_name,
        "RoleArn": settings.sagemaker_role_arn,
        "AppSpecification": {
            "ImageUri": processing_image_uri(settings),
            "ContainerEntrypoint": ["python3", f"{CODE_DIR}/ingest.py"],
            "ContainerArguments": [
                "--archive-dir", ARCHIVE_DIR,
                "--archive-md5", archive_md5,
                "--labelled-dir", LABELLED_DIR,
                "--output-dir", PARTITION_DIR,
                "--run-key", run_key,
                "--seed", str(ingest.seed),
                "--validation-fraction", str(ingest.validation_fraction),
                "--max-image-pixels", str(ingest.max_image_pixels),
                "--max-image-bytes", str(ingest.max_image_bytes),
            ],
        },
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {"Outputs": [s3_output("partition", staging_uri, PARTITION_DIR)]},
        "ProcessingResources": processing_resources(settings),
        "StoppingCondition": stopping_condition(settings),
        "Environment": {"PYTHONUNBUFFERED": "1"},
        "Tags": tags(settings, "ingest", run_key),
    }
