"""Shared pieces of the serving-flow tests: a registry record, a trained model archive, photos."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

from PIL import Image

from include.settings import PROJECT_ROOT
from tests.model.drawn_vehicles import draw_vehicle, png_bytes, write_partition

__all__ = ["draw_vehicle", "free_port", "model_version_record", "noise_png", "png_bytes", "train_model_archive"]

PACKAGE_GROUP_ARN = "arn:aws:sagemaker:us-east-1:111122223333:model-package/scones-vehicle-classifier"
TRAIN_PROGRAM = PROJECT_ROOT / "programs" / "model" / "train.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def model_version_record(model_data_url: str, version: int = 3) -> dict:
    """A DescribeModelPackage-shaped record, as the registry returns it."""
    return {
        "ModelPackageArn": f"{PACKAGE_GROUP_ARN}/{version}",
        "ModelPackageVersion": version,
        "ModelApprovalStatus": "Approved",
        "InferenceSpecification": {"Containers": [{
            "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312",
            "ModelDataUrl": model_data_url,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
        }]},
    }


def train_model_archive(folder: Path) -> Path:
    """Train programs/model/train.py for one epoch on 10 drawn photos per class; pack model.tar.gz as SageMaker does."""
    partition = write_partition(folder / "partition", {"train": 10, "validation": 4, "test": 1}, seed=5)
    work = folder / "job"
    environment = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(partition / "train"), "SM_CHANNEL_VALIDATION": str(partition / "validation"),
        "SM_MODEL_DIR": str(work / "model"), "SM_OUTPUT_DATA_DIR": str(work / "output" / "data"),
        "SM_OUTPUT_DIR": str(work / "output"), "SM_NUM_CPUS": "1", "TORCH_HOME": str(work / "torch-home"),
        "PYTHONPATH": "",
    }
    result = subprocess.run(
        [sys.executable, str(TRAIN_PROGRAM), "--epochs", "1", "--batch-size", "8", "--augment", "false"],
        env=environment, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as packed:
        for path in sorted((work / "model").rglob("*")):
            packed.add(path, arcname=path.relative_to(work / "model").as_posix(), recursive=False)
    return archive


def noise_png(target_bytes: int) -> bytes:
    """An incompressible PNG of at least ``target_bytes`` (random pixels)."""
    side = int((target_bytes / 3) ** 0.5) + 8
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
