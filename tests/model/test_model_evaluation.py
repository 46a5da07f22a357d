"""evaluate.py as a SageMaker Processing program: reports, champion scoring, Data Capture lines."""

from __future__ import annotations

import base64
import json
import re
import tarfile
import uuid
from pathlib import Path

import evaluate
import pytest
from model_archive import unpack_archive
from model_artifacts import ModelArtifactError
from model_test_support import TrainingRun, run_program, training_environment


@pytest.fixture(scope="module")
def evaluation_run(trained_job: TrainingRun, model_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("evaluation")
    arguments = [
        "--model-dir", str(model_archive),
        "--test-dir", str(trained_job.partition / "test"),
        "--champion-dir", str(model_archive),
        "--output-dir", str(output / "evaluation"),
        "--capture-dir", str(trained_job.partition / "validation"),
        "--capture-output", str(output / "capture" / "baseline.jsonl"),
    ]  # fmt: skip
    result = run_program("evaluate.py", arguments, training_environment(trained_job.partition, output))
    assert result.returncode == 0, result.stderr
    return output


def test_confusion_matrix_agrees_with_accuracy(evaluation_run: Path) -> None:
    report = json.loads((evaluation_run / "evaluation" / "evaluation.json").read_text())
    matrix = report["confusion_matrix"]["matrix"]
    total = sum(map(sum, matrix))
    assert total == report["metrics"]["n"] == 24
    assert report["metrics"]["accuracy"] == pytest.approx((matrix[0][0] + matrix[1][1]) / total)


def test_champion_is_scored_on_the_same_test_split(evaluation_run: Path) -> None:
    report = json.loads((evaluation_run / "evaluation" / "evaluation.json").read_text())
    assert report["champion"] == report["metrics"]


def test_the_report_names_the_weights_it_scored_by_the_digest_training_reported(
    evaluation_run: Path, trained_job: TrainingRun
) -> None:
    report = json.loads((evaluation_run / "evaluation" / "evaluation.json").read_text())
    summary = json.loads((trained_job.output_data_dir / "training_summary.json").read_text())
    assert report["model"]["weights_sha256"] == summary["weights_sha256"]


def test_model_quality_statistics_are_written(evaluation_run: Path) -> None:
    statistics = json.loads((evaluation_run / "evaluation" / "model_quality.json").read_text())
    assert statistics["dataset"]["item_count"] == 24
    assert set(statistics["binary_classification_metrics"]["accuracy"]) == {"value", "standard_deviation"}


def test_capture_lines_are_data_capture_records(evaluation_run: Path, trained_job: TrainingRun) -> None:
    lines = (evaluation_run / "capture" / "baseline.jsonl").read_text().splitlines()
    validation = trained_job.partition / "validation"
    first_image = sorted((validation / "bicycle").glob("*.png"))[0]
    record = json.loads(lines[0])
    assert len(lines) == 24
    assert record["eventVersion"] == "0"
    assert record["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert base64.b64decode(record["captureData"]["endpointInput"]["data"]) == first_image.read_bytes()
    assert record["captureData"]["endpointOutput"]["observedContentType"] == "application/json"
    assert sum(json.loads(record["captureData"]["endpointOutput"]["data"])) == pytest.approx(1.0, abs=1e-6)
    expected_id = str(uuid.uuid5(uuid.NAMESPACE_URL, first_image.relative_to(validation).as_posix()))
    assert record["eventMetadata"] == {"eventId": expected_id, "inferenceTime": "2000-01-01T00:00:00Z"}


def test_absent_champion_is_reported_as_null(trained_job: TrainingRun, model_archive: Path, tmp_path: Path) -> None:
    (tmp_path / "champion").mkdir()
    arguments = [
        "--model-dir", str(model_archive),
        "--test-dir", str(trained_job.partition / "test"),
        "--champion-dir", str(tmp_path / "champion"),
        "--output-dir", str(tmp_path / "evaluation"),
    ]  # fmt: skip
    assert evaluate.main(arguments) == 0
    assert json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())["champion"] is None


def test_corrupt_model_archive_is_a_named_error(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"not a tarball")
    with pytest.raises(ModelArtifactError, match=r"is not a readable tar\.gz"):
        unpack_archive(archive, tmp_path / "unpacked")


def test_archive_member_escaping_the_destination_is_refused(tmp_path: Path) -> None:
    (tmp_path / "evil.txt").write_text("x")
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "evil.txt", arcname="../evil.txt")
    with pytest.raises(ModelArtifactError, match=re.escape("unsafe member '../evil.txt'")):
        unpack_archive(archive, tmp_path / "unpacked")
