"""The KS shift tests and the label-free accuracy estimate on small windows, through the analyzer's entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from checks import WindowNotes, evaluate
from constraints import suggest_constraints
from feature_statistics import DatasetProfile
from features import SHIFT_TEST_FEATURES
from PIL import Image
from shift_tests import DEFAULT_ALPHA

from .helpers import checks_by_feature, read, run, validate, violations
from .traffic import Profile, traffic, write_capture

SMALL_WINDOW = 50


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("baseline")
    source = write_capture(root / "validation", traffic(300, seed=11))
    run(root, "--mode", "baseline", "--dataset-source", str(source), "--output-path", str(root / "out"))
    return root / "out"


def analyze(tmp_path: Path, baseline: Path, profile: Profile, size: int = SMALL_WINDOW, *extra: str) -> Path:
    source = write_capture(tmp_path / "capture", traffic(size, profile, seed=29))
    output = tmp_path / "result"
    code = run(tmp_path, "--dataset-source", str(source), "--output-path", str(output),
               "--baseline-statistics", str(baseline / "statistics.json"),
               "--baseline-constraints", str(baseline / "constraints.json"), *extra)
    assert code == 0
    return output


def summary(output: Path) -> dict:
    return read(output / "analysis_summary.json")


def test_a_small_clean_window_passes_every_check(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile())
    assert violations(output) == []
    assert not any(check["violated"] for check in summary(output)["checks"])


def test_a_small_dark_window_fails_the_ks_test_on_brightness(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile(brightness=(20, 60)))
    brightness = next(v for v in violations(output) if v["feature_name"] == "brightness")
    assert brightness["constraint_check_type"] == "baseline_drift_check"
    assert "KS test p-value" in brightness["description"]


def test_drifted_window_files_still_follow_model_monitor_schemas(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile(brightness=(20, 60)))
    validate(read(output / "statistics.json"), "statistics")
    validate(read(output / "constraint_violations.json"), "constraint_violations")


def test_the_summary_states_each_ks_test_with_its_bonferroni_level(tmp_path: Path, baseline: Path) -> None:
    tests = [c for c in summary(analyze(tmp_path, baseline, Profile()))["checks"] if c["test"] == "KS test"]
    assert {c["feature"] for c in tests} == set(SHIFT_TEST_FEATURES)
    assert all(c["threshold"] == pytest.approx(DEFAULT_ALPHA / len(SHIFT_TEST_FEATURES)) for c in tests)


def test_the_ks_alpha_comes_from_the_run(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile(), SMALL_WINDOW, "--ks-alpha", "0.05")
    assert summary(output)["ks_alpha"] == 0.05


def test_an_unconfident_window_violates_the_estimated_accuracy_floor(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile(confidence=(0.55, 0.7), low_confidence_share=0.0))
    assert "estimated_accuracy" in checks_by_feature(output, "baseline_drift_check")
    assert summary(output)["estimated_accuracy"]["value"] < 0.7


def test_a_model_approved_below_the_floor_is_judged_against_its_own_baseline(tmp_path: Path) -> None:
    unconfident = Profile(confidence=(0.5, 0.56), low_confidence_share=0.0)
    source = write_capture(tmp_path / "validation", traffic(300, unconfident, seed=11))
    run(tmp_path, "--mode", "baseline", "--dataset-source", str(source), "--output-path", str(tmp_path / "base"))
    same = analyze(tmp_path / "same", tmp_path / "base", unconfident)
    assert "estimated_accuracy" not in checks_by_feature(same, "baseline_drift_check")
    assert summary(same)["estimated_accuracy"]["floor"] < 0.6


def test_the_floor_comes_from_the_run(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile(confidence=(0.55, 0.7), low_confidence_share=0.0), SMALL_WINDOW,
                     "--min-estimated-accuracy", "0.5")
    assert "estimated_accuracy" not in checks_by_feature(output, "baseline_drift_check")


def test_the_estimate_is_the_mean_calibrated_confidence_without_input_drift(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile(motorcycle_share=0.9))
    confidence = next(f for f in read(output / "statistics.json")["features"] if f["name"] == "confidence")
    estimate = summary(output)["estimated_accuracy"]
    assert estimate["value"] == pytest.approx(confidence["numerical_statistics"]["mean"])


def test_a_confidently_one_sided_window_of_unfamiliar_photos_is_capped_by_its_class_shares(
    tmp_path: Path, baseline: Path
) -> None:
    # dark photos, 96% predicted motorcycles, all confident: about half of them must be wrong
    output = analyze(tmp_path, baseline, Profile(brightness=(20, 60), motorcycle_share=0.96,
                                                 low_confidence_share=0.0))
    assert summary(output)["estimated_accuracy"]["value"] < 0.7
    assert "estimated_accuracy" in checks_by_feature(output, "baseline_drift_check")


def test_a_dark_window_strips_its_darkest_photos(tmp_path: Path, baseline: Path) -> None:
    output = analyze(tmp_path, baseline, Profile(brightness=(20, 60)))
    shifted = summary(output)["shifted_photos"]
    assert (shifted["feature"], shifted["side"]) in {("brightness", "low"), ("saturation", "low")}
    with Image.open(output / shifted["file"]) as strip:
        assert strip.size == (8 * 96 + 7 * 4, 96)


def test_the_ks_test_alone_raises_a_shift_too_small_for_the_distance_threshold() -> None:
    rng = np.random.default_rng(3)

    def statistics(values: np.ndarray) -> dict:
        profile = DatasetProfile()
        for value in values:
            profile.add({"brightness": float(value)})
        return profile.to_json()

    baseline = statistics(rng.uniform(0.2, 0.8, 4000))
    current = statistics(rng.uniform(0.25, 0.85, 4000))  # every quantile 0.05 higher: L-inf about 0.08
    found = evaluate(current, suggest_constraints(baseline), baseline, WindowNotes())
    brightness = next(v for v in found.violations if v["feature_name"] == "brightness")
    assert "is within threshold: 0.1, but the KS test p-value" in brightness["description"]


def test_an_older_baseline_without_the_new_features_raises_no_extra_column_check(tmp_path: Path,
                                                                                  baseline: Path) -> None:
    old = tmp_path / "old-baseline"
    old.mkdir()
    for name in ("statistics.json", "constraints.json"):
        document = read(baseline / name)
        document["features"] = [f for f in document["features"]
                                if f["name"] not in ("motorcycle_probability", "estimated_accuracy")]
        (old / name).write_text(json.dumps(document))
    output = analyze(tmp_path, old, Profile())
    assert checks_by_feature(output, "extra_column_check") == set()
    assert set(summary(output)["unchecked_features"]) == {"motorcycle_probability", "estimated_accuracy"}
