"""Fixtures for the model programs: programs/model on sys.path, a tiny drawn partition, one trained job."""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import pytest
import torch

TESTS_FOLDER = Path(__file__).resolve().parent
MODEL_SOURCE = TESTS_FOLDER.parents[1] / "programs" / "model"
for folder in (MODEL_SOURCE, TESTS_FOLDER):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from drawn_vehicles import write_partition  # noqa: E402
from model_test_support import TINY_SPLITS, TOOLKIT_ARGUMENTS, TrainingRun, run_program, training_environment  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_partition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_partition(tmp_path_factory.mktemp("partition"), TINY_SPLITS, seed=1)


@pytest.fixture(scope="session")
def trained_job(tiny_partition: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainingRun:
    work = tmp_path_factory.mktemp("training-job")
    result = run_program("train.py", TOOLKIT_ARGUMENTS, training_environment(tiny_partition, work))
    assert result.returncode == 0, result.stderr
    return TrainingRun(result, work / "model", work / "output" / "data", tiny_partition)


@pytest.fixture(scope="session")
def model_archive(trained_job: TrainingRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained model directory packed as SageMaker packs it: model.tar.gz in its own folder."""
    folder = tmp_path_factory.mktemp("model-artifact")
    with tarfile.open(folder / "model.tar.gz", "w:gz") as archive:
        for path in sorted(trained_job.model_dir.rglob("*")):
            archive.add(path, arcname=path.relative_to(trained_job.model_dir).as_posix(), recursive=False)
    return folder
