"""The ingest job as moto cannot run it: its partition appears where the request says, when it is created."""

from __future__ import annotations

import io
import json
from typing import Any

from include.storage import S3Uri
from tests.aws.recorder import RequestRecorder
from tests.aws.simulations import processing_job_running_at_first_look

FAKE_COUNTS = {"train": {"bicycle": 2, "motorcycle": 2}, "validation": {"bicycle": 1, "motorcycle": 1},
               "test": {"bicycle": 1, "motorcycle": 1}}


def png_bytes(shade: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (shade, shade, shade)).save(buffer, format="PNG")
    return buffer.getvalue()


def fake_partition(job_name: str, run_key: str) -> dict[str, bytes]:
    """Relative key -> bytes: one PNG per counted image and a manifest with the counts."""
    files: dict[str, bytes] = {}
    for split, classes in FAKE_COUNTS.items():
        for label, count in classes.items():
            for index in range(count):
                files[f"{split}/{label}/{index:05d}.png"] = png_bytes(40 * index + len(label))
    manifest = {"run_key": run_key, "job": job_name, "counts": FAKE_COUNTS, "files": sorted(files), "quarantine": []}
    files["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return files


def install(recorder: RequestRecorder) -> None:
    """Write the fake partition to the request's ``partition`` output; report the job running at first look."""
    s3 = recorder.client("s3")

    def write_partition(params: dict[str, Any], transport: str) -> None:
        outputs = params["ProcessingOutputConfig"]["Outputs"]
        target = S3Uri.parse(next(o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == "partition"))
        arguments = params["AppSpecification"]["ContainerArguments"]
        run_key = arguments[arguments.index("--run-key") + 1]
        for relative, data in fake_partition(params["ProcessingJobName"], run_key).items():
            s3.put_object(Bucket=target.bucket, Key=target.join(relative).key, Body=data)

    recorder.observe("sagemaker", "CreateProcessingJob", write_partition)
    processing_job_running_at_first_look(recorder)
