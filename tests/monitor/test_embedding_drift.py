"""Embedding drift: the serving model's penultimate-layer embeddings of the window against the baseline's (MMD)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .helpers import read, run, validate, violations
from .seeded_model import write_seeded_model
from .traffic import Profile, traffic, write_capture

BASELINE_RECORDS = 150
WINDOW_SIZE = 120
DARK = Profile(brightness=(30, 80))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_seeded_model(tmp_path_factory.mktemp("seeded-model"))


def _baseline(root: Path, model: Path, *extra: str) -> Path:
    source = write_capture(root / "validation", traffic(300, seed=11))
    output = root / "out"
    assert run(root, "--mode", "baseline", "--dataset-source", str(source), "--output-path", str(output),
               "--embedding-model", str(model), "--mmd-baseline-records", str(BASELINE_RECORDS), *extra) == 0
    return output


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, model: Path) -> Path:
    return _baseline(tmp_path_factory.mktemp("baseline"), model)


def analyze(tmp_path: Path, baseline: Path, model: Path | None, profile: Profile, count: int = WINDOW_SIZE,
            *extra: str) -> Path:
    source = write_capture(tmp_path / "capture", traffic(count, profile, seed=23))
    output = tmp_path / "result"
    embedding = ["--embedding-model", str(model), "--baseline-embeddings", str(baseline / "embeddings.npy")]
    assert run(tmp_path, "--dataset-source", str(source), "--output-path", str(output),
               "--baseline-statistics", str(baseline / "statistics.json"),
               "--baseline-constraints", str(baseline / "constraints.json"),
               *(embedding if model else []), *extra) == 0
    return output


def _embedding_violations(output: Path) -> list[dict]:
    return [v for v in violations(output) if v["feature_name"] == "embedding_mmd"]


def test_baseline_writes_a_bounded_sample_of_float32_embeddings(baseline: Path) -> None:
    embeddings = np.load(baseline / "embeddings.npy")
    assert embeddings.dtype == np.float32
    assert embeddings.shape == (BASELINE_RECORDS, 32)  # VehicleNet width 0.5: 64 * 0.5 channels before the head


def test_baseline_embeddings_are_the_same_sample_on_a_rerun(tmp_path: Path, baseline: Path, model: Path) -> None:
    again = _baseline(tmp_path, model)
    assert (again / "embeddings.npy").read_bytes() == (baseline / "embeddings.npy").read_bytes()


def test_clean_window_passes_the_embedding_test(tmp_path: Path, baseline: Path, model: Path) -> None:
    output = analyze(tmp_path, baseline, model, Profile())
    summary = read(output / "analysis_summary.json")["embedding_drift"]
    assert summary["status"] == "passed"
    assert summary["p_value"] >= summary["alpha"]
    assert _embedding_violations(output) == []


def test_drifted_window_violates_the_embedding_test(tmp_path: Path, baseline: Path, model: Path) -> None:
    output = analyze(tmp_path, baseline, model, DARK)
    [violation] = _embedding_violations(output)
    assert violation["constraint_check_type"] == "baseline_drift_check"
    assert "MMD permutation test p-value" in violation["description"]
    check = next(c for c in read(output / "analysis_summary.json")["checks"] if c["feature"] == "embedding_mmd")
    assert check["violated"] and check["value"] < check["threshold"]


def test_report_files_with_an_embedding_violation_follow_model_monitors_schemas(tmp_path: Path, baseline: Path,
                                                                               model: Path) -> None:
    output = analyze(tmp_path, baseline, model, DARK)
    validate(read(output / "constraint_violations.json"), "constraint_violations")
    validate(read(output / "statistics.json"), "statistics")
    assert (tmp_path / "message").read_text().startswith("CompletedWithViolations")


def test_a_window_below_the_minimum_is_not_enough_data_not_a_violation(tmp_path: Path, baseline: Path,
                                                                       model: Path) -> None:
    output = analyze(tmp_path, baseline, model, DARK, 12, "--mmd-min-records", "30")
    assert _embedding_violations(output) == []
    summary = read(output / "analysis_summary.json")
    assert summary["embedding_drift"]["status"] == "not enough data"
    assert "not enough data" in summary["unchecked_features"]["embedding_mmd"]


def test_the_other_checks_are_the_same_with_or_without_the_embedding_test(tmp_path: Path, baseline: Path,
                                                                        model: Path) -> None:
    with_test = analyze(tmp_path / "with", baseline, model, DARK)
    without = analyze(tmp_path / "without", baseline, None, DARK)
    assert [v for v in violations(with_test) if v["feature_name"] != "embedding_mmd"] == violations(without)
    assert read(without / "analysis_summary.json")["embedding_drift"] is None


def test_the_embedding_p_value_is_the_same_on_a_rerun(tmp_path: Path, baseline: Path, model: Path) -> None:
    first = read(analyze(tmp_path / "a", baseline, model, Profile()) / "analysis_summary.json")["embedding_drift"]
    second = read(analyze(tmp_path / "b", baseline, model, Profile()) / "analysis_summary.json")["embedding_drift"]
    assert first["p_value"] == second["p_value"] and first["mmd2"] == second["mmd2"]


def test_model_and_baseline_embeddings_come_from_s3_uris_in_the_environment(tmp_path: Path, baseline: Path,
                                                                            model: Path) -> None:
    import analyzer
    import boto3
    from moto import mock_aws

    source = write_capture(tmp_path / "capture", traffic(WINDOW_SIZE, DARK, seed=23))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="scones")
        s3.upload_file(str(model), "scones", "models/run/model.tar.gz")
        s3.upload_file(str(baseline / "embeddings.npy"), "scones", "models/run/baseline/embeddings.npy")
        environ = {"SCONES_MESSAGE_PATH": str(tmp_path / "message"), "analyzer_mode": "analyze",
                   "dataset_source": str(source), "output_path": str(tmp_path / "result"),
                   "baseline_statistics": str(baseline / "statistics.json"),
                   "baseline_constraints": str(baseline / "constraints.json"),
                   "embedding_model_uri": "s3://scones/models/run/model.tar.gz",
                   "baseline_embeddings_uri": "s3://scones/models/run/baseline/embeddings.npy"}
        assert analyzer.main([], environ) == 0
    assert len(_embedding_violations(tmp_path / "result")) == 1


def test_a_missing_baseline_embeddings_file_is_a_named_failure(tmp_path: Path, baseline: Path, model: Path) -> None:
    source = write_capture(tmp_path / "capture", traffic(40, seed=23))
    code = run(tmp_path, "--dataset-source", str(source), "--output-path", str(tmp_path / "result"),
               "--baseline-statistics", str(baseline / "statistics.json"),
               "--baseline-constraints", str(baseline / "constraints.json"),
               "--embedding-model", str(model), "--baseline-embeddings", str(tmp_path / "missing.npy"))
    assert code == 1
    assert "re-run the baseline job" in (tmp_path / "message").read_text()
