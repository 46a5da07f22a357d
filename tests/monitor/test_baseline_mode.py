"""Baseline mode: statistics.json and suggested constraints.json in Model Monitor's schemas."""

from __future__ import annotations

from pathlib import Path

from .helpers import read, run, validate
from .traffic import Profile, traffic, write_capture


def _baseline(tmp_path: Path, *extra: str) -> Path:
    source = write_capture(tmp_path / "validation", traffic(120, seed=1))
    output = tmp_path / "baseline"
    assert (
        run(tmp_path, "--mode", "baseline", "--dataset-source", str(source), "--output-path", str(output), *extra) == 0
    )
    return output


def test_baseline_statistics_follow_the_statistics_schema(tmp_path: Path) -> None:
    statistics = read(_baseline(tmp_path) / "statistics.json")
    validate(statistics, "statistics")
    assert statistics["dataset"]["item_count"] == 120


def test_baseline_constraints_follow_the_constraints_schema(tmp_path: Path) -> None:
    validate(read(_baseline(tmp_path) / "constraints.json"), "constraints")


def test_baseline_constraints_carry_the_given_comparison_threshold(tmp_path: Path) -> None:
    constraints = read(_baseline(tmp_path, "--comparison-threshold", "0.25") / "constraints.json")
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_threshold"] == 0.25


def test_baseline_constraints_list_the_observed_classes_as_domain(tmp_path: Path) -> None:
    constraints = read(_baseline(tmp_path) / "constraints.json")
    predicted = next(f for f in constraints["features"] if f["name"] == "predicted_class")
    assert predicted["string_constraints"]["domains"] == ["bicycle", "motorcycle"]


def test_numerical_features_have_ten_buckets_summing_to_present_count(tmp_path: Path) -> None:
    statistics = read(_baseline(tmp_path) / "statistics.json")
    brightness = next(f for f in statistics["features"] if f["name"] == "brightness")
    buckets = brightness["numerical_statistics"]["distribution"]["kll"]["buckets"]
    assert len(buckets) == 10
    assert sum(b["count"] for b in buckets) == brightness["numerical_statistics"]["common"]["num_present"]


def test_low_confidence_mean_is_the_share_below_the_threshold(tmp_path: Path) -> None:
    source = write_capture(tmp_path / "validation", traffic(100, Profile(low_confidence_share=0.0), seed=2))
    output = tmp_path / "baseline"
    run(
        tmp_path,
        "--mode",
        "baseline",
        "--dataset-source",
        str(source),
        "--output-path",
        str(output),
        "--confidence-threshold",
        "0.97",
    )
    statistics = read(output / "statistics.json")
    confidence = next(f for f in statistics["features"] if f["name"] == "confidence")
    low = next(f for f in statistics["features"] if f["name"] == "low_confidence")
    assert 0.2 < low["numerical_statistics"]["mean"] < 0.8
    assert confidence["numerical_statistics"]["min"] < 0.97 <= confidence["numerical_statistics"]["max"]


def test_baseline_without_records_fails_with_a_named_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    code = run(
        tmp_path,
        "--mode",
        "baseline",
        "--dataset-source",
        str(tmp_path / "empty"),
        "--output-path",
        str(tmp_path / "out"),
    )
    assert code == 1
    assert "no capture records" in capsys.readouterr().err
