"""Analyze mode against a baseline: no violations on like traffic, drift violations on drifted traffic."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import checks_by_feature, read, run, validate, violations
from .traffic import Profile, traffic, write_capture

WINDOW_SIZE = 300


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("baseline")
    source = write_capture(root / "validation", traffic(600, seed=11))
    run(root, "--mode", "baseline", "--dataset-source", str(source), "--output-path", str(root / "out"))
    return root / "out"


def analyze(tmp_path: Path, baseline: Path, profile: Profile, *extra: str) -> Path:
    source = write_capture(tmp_path / "capture", traffic(WINDOW_SIZE, profile, seed=23))
    output = tmp_path / "result"
    code = run(
        tmp_path,
        "--dataset-source",
        str(source),
        "--output-path",
        str(output),
        "--baseline-statistics",
        str(baseline / "statistics.json"),
        "--baseline-constraints",
        str(baseline / "constraints.json"),
        *extra,
    )
    assert code == 0
    return output


def test_like_traffic_has_no_violations(tmp_path: Path, baseline: Path) -> None:
    assert violations(analyze(tmp_path, baseline, Profile())) == []


def test_like_traffic_writes_a_completed_message(tmp_path: Path, baseline: Path) -> None:
    analyze(tmp_path, baseline, Profile())
    assert (tmp_path / "message").read_text() == "Completed: Job completed successfully with no violations."


def test_window_statistics_follow_the_statistics_schema(tmp_path: Path, baseline: Path) -> None:
    validate(read(analyze(tmp_path, baseline, Profile(brightness=(20, 60))) / "statistics.json"), "statistics")


def test_violations_follow_the_violations_schema(tmp_path: Path, baseline: Path) -> None:
    validate(
        read(analyze(tmp_path, baseline, Profile(brightness=(20, 60))) / "constraint_violations.json"),
        "constraint_violations",
    )


def test_darker_images_drift_on_brightness(tmp_path: Path, baseline: Path) -> None:
    drifted = checks_by_feature(analyze(tmp_path, baseline, Profile(brightness=(20, 60))), "baseline_drift_check")
    assert "brightness" in drifted
    assert "predicted_class" not in drifted


def test_drift_description_is_in_model_monitor_style(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile(brightness=(20, 60)))
    brightness = next(v for v in violations(output) if v["feature_name"] == "brightness")
    assert brightness["description"].startswith("Baseline drift distance: ")
    assert "exceeds threshold: 0.1" in brightness["description"]


def test_shifted_class_shares_drift_on_the_prediction_only(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile(motorcycle_share=0.85))
    assert checks_by_feature(output, "baseline_drift_check") == {"predicted_class", "motorcycle_probability"}


def test_lower_confidences_drift_on_low_confidence_share(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile(low_confidence_share=0.4))
    assert {"low_confidence", "confidence"} <= checks_by_feature(output, "baseline_drift_check")


def test_low_confidence_description_gives_both_shares(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile(low_confidence_share=0.4))
    low = next(v for v in violations(output) if v["feature_name"] == "low_confidence")
    assert "confidence below 0.93" in low["description"]


def test_violations_write_a_completed_with_violations_message(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile(motorcycle_share=0.85))
    count = len(violations(output))
    expected = f"CompletedWithViolations: Job completed successfully with {count} violations."
    assert (tmp_path / "message").read_text() == expected


def test_cli_threshold_applies_when_only_baseline_statistics_are_given(tmp_path: Path, baseline: Path) -> None:
    source = write_capture(tmp_path / "capture", traffic(WINDOW_SIZE, Profile(motorcycle_share=0.85), seed=23))
    output = tmp_path / "result"
    run(
        tmp_path,
        "--dataset-source",
        str(source),
        "--output-path",
        str(output),
        "--baseline-statistics",
        str(baseline / "statistics.json"),
        "--categorical-comparison-threshold",
        "0.5",
    )
    assert "predicted_class" not in checks_by_feature(output, "baseline_drift_check")


def test_class_share_swing_of_a_small_window_is_within_chance():
    from checks import share_critical_value

    # 24 requests against a 104-image baseline: a 0.21 swing in class share is noise at 99%.
    assert share_critical_value({"bicycle": 0.45, "motorcycle": 0.55}, 104, 24) > 0.21


def test_class_share_swing_of_a_large_window_is_drift():
    from checks import share_critical_value

    assert share_critical_value({"bicycle": 0.45, "motorcycle": 0.55}, 1000, 2000) < 0.1
