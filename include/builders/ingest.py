"""The ingest Processing job request: the archive and labelled photos in, a partition out."""

from __future__ import annotations

from include.builders.common import PROCESSING_ROOT, processing_image_uri, processing_request, s3_input, s3_output
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
    """CreateProcessingJob request for the ingest program (``programs/ingest/ingest.py``)."""
    inputs = [s3_input("code", code_uri, CODE_DIR), s3_input("cifar", archive_uri, ARCHIVE_DIR)]
    if include_labelled:
        # SageMaker fails an input whose prefix is empty, so the prefix is added only when it has photos.
        labelled_uri = settings.s3_uri(settings.prefixes.incoming_labelled) + "/"
        inputs.append(s3_input("labelled", labelled_uri, LABELLED_DIR))
    ingest = settings.ingest
    return processing_request(
        settings, job_name=job_name, run_key=run_key, workflow="ingest", image_uri=processing_image_uri(settings),
        entrypoint=["python3", f"{CODE_DIR}/ingest.py"],
        arguments=[
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
        inputs=inputs,
        outputs=[s3_output("partition", staging_uri, PARTITION_DIR)],
    )
