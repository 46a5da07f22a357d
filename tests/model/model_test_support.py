"""Helpers shared by the model tests: where the programs live, their SM_* environment, running them."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MODEL_SOURCE = Path(__file__).resolve().parents[2] / "programs" / "model"
TINY_SPLITS = {"train": 40, "validation": 12, "test": 12}
TOOLKIT_ARGUMENTS = ["--epochs", "3", "--batch-size", '"16"', "--learning-rate", "0.003", "--augment", "true"]


@dataclass(frozen=True)
class TrainingRun:
    """A finished train.py subprocess and the folders it used."""

    result: subprocess.CompletedProcess
    model_dir: Path
    output_data_dir: Path
    partition: Path


def training_environment(partition: Path, work: Path, **overrides: str) -> dict[str, str]:
    """The SM_* environment of a training job reading a partition's train/ and validation/."""
    environment = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(partition / "train"),
        "SM_CHANNEL_VALIDATION": str(partition / "validation"),
        "SM_MODEL_DIR": str(work / "model"),
        "SM_OUTPUT_DATA_DIR": str(work / "output" / "data"),
        "SM_OUTPUT_DIR": str(work / "output"),
        "SM_NUM_CPUS": "1",
        "TORCH_HOME": str(work / "torch-home"),
        "PYTHONPATH": "",
    }
    environment.update(overrides)
    return environment


def run_program(program: str, arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    """Run one of the programs/model programs as a container would."""
    return subprocess.run(
        [sys.executable, str(MODEL_SOURCE / program), *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
