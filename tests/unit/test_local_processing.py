"""The local runtime runs a CreateProcessingJob request under SageMaker's Processing contract."""

import sys
from pathlib import Path

import pytest

from include.runtime.local.job_records import LocalJobRegistry
from include.runtime.local.processing import ProcessingJobError, run_processing_job
from include.runtime.local.store import LocalObjectStore

PROGRAM = """
import os, sys, pathlib
src = pathlib.Path(sys.argv[1]); out = pathlib.Path(sys.argv[2])
print("cwd-independent input:", sorted(p.name for p in src.iterdir()))
print("env path:", os.environ["MODEL_PATH"])
if (src / "fail").exists():
    print("about to fail"); sys.exit(3)
if (src / "hang").exists():
    import time; time.sleep(60)
(out / "result.txt").write_text((src / "data.txt").read_text().upper())
"""


def _request(name: str, max_runtime: int = 60) -> dict:
    return {
        "ProcessingJobName": name,
        "RoleArn": "arn:aws:iam::111122223333:role/r",
        "AppSpecification": {
            "ImageUri": "image",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/code/program.py"],
            "ContainerArguments": ["/opt/ml/processing/input/data", "/opt/ml/processing/output/result"],
        },
        "Environment": {"MODEL_PATH": "/opt/ml/processing/model"},
        "ProcessingInputs": [
            {"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/", "LocalPath": "/opt/ml/processing/code",
                                              "S3DataType": "S3Prefix", "S3InputMode": "File"}},
            {"InputName": "data", "S3Input": {"S3Uri": "s3://b/in/", "LocalPath": "/opt/ml/processing/input/data",
                                              "S3DataType": "S3Prefix", "S3InputMode": "File"}},
        ],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "result", "S3Output": {
            "S3Uri": "s3://b/out/", "LocalPath": "/opt/ml/processing/output/result", "S3UploadMode": "EndOfJob"}}]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 1}},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    store = LocalObjectStore(tmp_path / "data")
    store.put_bytes("s3://b/code/program.py", PROGRAM.encode())
    store.put_bytes("s3://b/in/data.txt", b"courier")
    return store


def test_inputs_in_program_runs_outputs_uploaded(store: LocalObjectStore, tmp_path: Path):
    lines: list[str] = []
    registry = LocalJobRegistry(tmp_path / "work", "processing")
    description = run_processing_job(_request("job-ok"), store=store, registry=registry, log=lines.append)
    assert store.get_bytes("s3://b/out/result.txt") == b"COURIER"
    assert description["ProcessingJobStatus"] == "Completed"
    assert registry.describe("job-ok")["ProcessingJobStatus"] == "Completed"
    assert f"env path: {tmp_path / 'work' / 'processing' / 'job-ok'}/opt/ml/processing/model" in lines
    assert sys.executable in " ".join(lines)


def test_failed_program_uploads_nothing_and_records_failure(store: LocalObjectStore, tmp_path: Path):
    store.put_bytes("s3://b/in/fail", b"")
    registry = LocalJobRegistry(tmp_path / "work", "processing")
    with pytest.raises(ProcessingJobError, match=r"exit code 3: .*about to fail"):
        run_processing_job(_request("job-bad"), store=store, registry=registry, log=lambda _: None)
    assert store.list("s3://b/out/") == []
    assert registry.describe("job-bad")["ProcessingJobStatus"] == "Failed"


def test_program_over_max_runtime_is_stopped(store: LocalObjectStore, tmp_path: Path):
    store.put_bytes("s3://b/in/hang", b"")
    registry = LocalJobRegistry(tmp_path / "work", "processing")
    with pytest.raises(ProcessingJobError, match="MaxRuntimeExceeded"):
        run_processing_job(_request("job-slow", max_runtime=2), store=store, registry=registry,
                           log=lambda _: None)
