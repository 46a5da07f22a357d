"""The analyzer's building blocks: sketch, image and prediction features, drift significance."""

from __future__ import annotations

import io

import numpy as np
from checks import WindowNotes, evaluate, ks_critical_value
from constraints import suggest_constraints
from feature_statistics import DatasetProfile
from features import image_features, prediction_features
from PIL import Image
from sketch import KllSketch, WeightedSample, linf_distance


def png(color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def sketch_of(values: np.ndarray) -> WeightedSample:
    sketch = KllSketch()
    for value in values:
        sketch.add(float(value))
    return WeightedSample.from_levels(sketch.levels())


def test_sketch_keeps_total_weight_equal_to_the_count() -> None:
    assert sketch_of(np.random.default_rng(0).random(50_000)).total == 50_000


def test_sketch_memory_stays_bounded() -> None:
    assert len(sketch_of(np.random.default_rng(0).random(100_000))) < 8_000


def test_sketch_median_is_accurate() -> None:
    sample = sketch_of(np.random.default_rng(1).random(100_000))
    assert abs(sample.cdf(np.array([0.5]))[0] - 0.5) < 0.01


def test_linf_distance_of_identical_samples_is_zero() -> None:
    sample = WeightedSample(np.arange(10.0), np.ones(10))
    assert linf_distance(sample, sample) == 0.0


def test_linf_distance_of_disjoint_samples_is_one() -> None:
    low, high = WeightedSample(np.arange(10.0), np.ones(10)), WeightedSample(np.arange(10.0) + 100, np.ones(10))
    assert linf_distance(low, high) == 1.0


def test_grey_image_has_zero_saturation_and_its_brightness() -> None:
    features = image_features(png((128, 128, 128)))
    assert features is not None
    assert features["saturation"] == 0.0
    assert abs(features["brightness"] - 128 / 255) < 1e-3


def test_image_size_is_the_original_size() -> None:
    features = image_features(png((255, 0, 0), size=(300, 200)))
    assert features is not None
    assert (features["width"], features["height"], features["saturation"]) == (300, 200, 1.0)


def test_non_image_bytes_are_not_features() -> None:
    assert image_features(b"GIF89a broken") is None


def test_confidence_below_threshold_is_low_confidence() -> None:
    assert prediction_features("[0.08, 0.92]", 0.93) == {
        "predicted_class": "motorcycle",
        "confidence": 0.92,
        "motorcycle_probability": 0.92,
        "estimated_accuracy": 0.92,
        "low_confidence": 1,
    }


def test_output_with_wrong_class_count_is_unreadable() -> None:
    assert prediction_features("[0.2, 0.3, 0.5]", 0.93) is None


def test_ks_critical_value_shrinks_with_more_data() -> None:
    assert ks_critical_value(10_000, 10_000) < ks_critical_value(20, 20)


def _statistics(brightness_values: list[float]) -> dict:
    profile = DatasetProfile()
    for value in brightness_values:
        profile.add({"brightness": value, "predicted_class": "bicycle", "decode_failure": 0})
    return profile.to_json()


def _drifted(found: list[dict]) -> set[str]:
    return {v["feature_name"] for v in found if v["constraint_check_type"] == "baseline_drift_check"}


def test_robust_method_ignores_a_large_distance_on_a_few_records() -> None:
    baseline = _statistics([0.5] * 1000)
    current = _statistics([0.5] * 8 + [0.9] * 4)
    assert _drifted(evaluate(current, suggest_constraints(baseline), baseline, WindowNotes()).violations) == set()


def test_simple_method_flags_the_same_distance() -> None:
    baseline = _statistics([0.5] * 1000)
    current = _statistics([0.5] * 8 + [0.9] * 4)
    constraints = suggest_constraints(baseline)
    constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] = "Simple"
    assert _drifted(evaluate(current, constraints, baseline, WindowNotes()).violations) == {"brightness"}


def test_type_mismatch_is_a_data_type_violation() -> None:
    baseline = _statistics([0.5] * 50)
    constraints = suggest_constraints(baseline)
    next(f for f in constraints["features"] if f["name"] == "brightness")["inferred_type"] = "String"
    found = evaluate(_statistics([0.5] * 50), constraints, None, WindowNotes()).violations
    assert [(v["feature_name"], v["constraint_check_type"]) for v in found] == [("brightness", "data_type_check")]
