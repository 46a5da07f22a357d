"""train.py as a SageMaker script-mode training job: outputs, metric lines, channel errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import train
from model_artifacts import SERVING_MODULES, load_model, weights_sha256
from model_test_support import MODEL_SOURCE, TOOLKIT_ARGUMENTS, TrainingRun, run_program, training_environment


def metric_definitions() -> list[dict[str, str]]:
    return json.loads((MODEL_SOURCE / "metric_definitions.json").read_text())


def test_job_writes_model_config_and_serving_code(trained_job: TrainingRun) -> None:
    assert (trained_job.model_dir / "model.pt").is_file()
    assert json.loads((trained_job.model_dir / "model_config.json").read_text())["classes"] == [
        "bicycle",
        "motorcycle",
    ]
    assert sorted(path.name for path in (trained_job.model_dir / "code").iterdir()) == sorted(SERVING_MODULES)


def test_model_file_loads_with_weights_only(trained_job: TrainingRun) -> None:
    saved = torch.load(trained_job.model_dir / "model.pt", weights_only=True)
    assert saved["config"]["architecture"] == "vehicle_net"
    assert all(isinstance(tensor, torch.Tensor) for tensor in saved["state_dict"].values())


def test_each_epoch_prints_one_progress_line_a_person_can_follow(trained_job: TrainingRun) -> None:
    from devtools.training_progress import readable_progress

    lines = [line for line in trained_job.result.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    progress = [readable_progress(line) for line in lines]
    readable = r"epoch \d/3, loss \d+\.\d{3}, validation accuracy [01]\.\d{3}"
    assert all(re.fullmatch(readable, line) for line in progress), progress


def test_every_metric_definition_matches_once_per_epoch(trained_job: TrainingRun) -> None:
    for definition in metric_definitions():
        values = re.findall(definition["Regex"], trained_job.result.stdout)
        assert len(values) == 3, (definition["Name"], values)
        assert all(float(value) >= 0.0 for value in values)


def test_metric_definitions_respect_sagemaker_limits() -> None:
    for definition in metric_definitions():
        assert 1 <= len(definition["Name"]) <= 255 and re.fullmatch(".+", definition["Name"])
        assert 1 <= len(definition["Regex"]) <= 500


def test_summary_reports_best_epoch_history_and_throughput(trained_job: TrainingRun) -> None:
    summary = json.loads((trained_job.output_data_dir / "training_summary.json").read_text())
    accuracies = [row["validation_accuracy"] for row in summary["history"]]
    assert summary["best_validation_accuracy"] == max(accuracies)
    assert summary["hyperparameters"]["batch-size"] == 16
    assert summary["training_images_per_second"] > 0
    assert summary["peak_rss_megabytes"] > 0


def test_the_same_job_run_twice_gives_the_same_weights_digest(trained_job: TrainingRun, tmp_path: Path) -> None:
    """Same data, code, hyperparameters, seed and thread count: the same weights, and the summary says which."""
    again = run_program("train.py", TOOLKIT_ARGUMENTS, training_environment(trained_job.partition, tmp_path))
    assert again.returncode == 0, again.stderr
    first = json.loads((trained_job.output_data_dir / "training_summary.json").read_text())
    second = json.loads((tmp_path / "output" / "data" / "training_summary.json").read_text())
    assert second["weights_sha256"] == first["weights_sha256"]
    assert second["history"][-1]["validation_loss"] == first["history"][-1]["validation_loss"]
    network, _ = load_model(tmp_path / "model")
    assert weights_sha256(network.state_dict()) == first["weights_sha256"]
    assert first["seed"] == second["seed"] == 42


def test_missing_channel_fails_the_job_with_a_named_error(tiny_partition: Path, tmp_path: Path) -> None:
    environment = training_environment(tiny_partition, tmp_path, SM_CHANNEL_TRAIN=str(tmp_path / "absent"))
    result = run_program("train.py", ["--epochs", "1"], environment)
    assert result.returncode != 0
    assert f"ChannelError: channel 'train' at {tmp_path / 'absent'} does not exist" in result.stderr
    assert "ChannelError" in (tmp_path / "output" / "failure").read_text()


def test_empty_class_folder_fails_with_a_named_error(
    tiny_partition: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    empty_validation = tmp_path / "validation"
    (empty_validation / "bicycle").mkdir(parents=True)
    (empty_validation / "motorcycle").mkdir()
    for name, value in training_environment(tiny_partition, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", str(empty_validation))
    assert train.main(["--epochs", "1"]) == 1
    assert f"channel 'validation' at {empty_validation} has no images in bicycle/" in capsys.readouterr().err


def test_corrupt_png_fails_with_the_file_named(
    tiny_partition: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    validation = tmp_path / "validation"
    for class_name in ("bicycle", "motorcycle"):
        (validation / class_name).mkdir(parents=True)
        source = sorted((tiny_partition / "validation" / class_name).glob("*.png"))[0]
        (validation / class_name / source.name).write_bytes(source.read_bytes())
    corrupt = validation / "motorcycle" / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    for name, value in training_environment(tiny_partition, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", str(validation))
    assert train.main(["--epochs", "1"]) == 1
    assert f"ChannelError: channel 'validation' has an unreadable image {corrupt}" in capsys.readouterr().err
