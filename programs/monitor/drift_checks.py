"""The drift checks of one feature against the baseline, and the estimated accuracy against its floor.

Each reports as ``baseline_drift_check``. The distance check: the L-infinity distance between the
window's and the baseline's distributions (CDFs from the KLL sketches; category shares for the
predicted class) above the threshold and, with the ``Robust`` method, beyond chance at 99%
family-wise over the features compared. The KS test (for the shift-test features): its p-value
below the Bonferroni-corrected level. One violation per feature names every test that fired.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from accuracy_estimate import estimate_accuracy
from evaluation import CheckConfig, Evaluation, WindowNotes
from feature_statistics import category_shares, common_counts, features_by_name, numeric_sample
from features import ESTIMATE_FEATURE, IMAGE_FEATURES, SHIFT_TEST_FEATURES, STRING
from shift_tests import bonferroni_level, ks_p_value
from sketch import linf_distance

KS_COEFFICIENT_99 = 1.628
Z_99 = 2.576
CHANCE_ALPHA = 0.01
Z_99_ONE_SIDED = 2.326
LINF_TEST = "L-infinity distance"
KS_TEST = "KS test"
ESTIMATE_TEST = "estimated accuracy"


def ks_critical_value(baseline_count: int, current_count: int, alpha: float = CHANCE_ALPHA) -> float:
    """Two-sample KS critical distance at level ``alpha`` (99% confidence by default)."""
    if baseline_count <= 0 or current_count <= 0:
        return math.inf
    coefficient = KS_COEFFICIENT_99 if alpha == CHANCE_ALPHA else math.sqrt(-math.log(alpha / 2) / 2)
    return coefficient * math.sqrt((baseline_count + current_count) / (baseline_count * current_count))


def share_critical_value(baseline_shares: dict[str, float], baseline_count: int, current_count: int,
                         alpha: float = CHANCE_ALPHA) -> float:
    """Largest share difference two samples of these sizes show by chance, at level ``alpha`` (99% by default).

    A two-proportion z bound at the widest baseline share; with 24 requests a 0.2 swing in class
    share is noise, with thousands it is drift.
    """
    if baseline_count <= 0 or current_count <= 0:
        return math.inf
    spread = max(p * (1 - p) for p in baseline_shares.values())
    z = Z_99 if alpha == CHANCE_ALPHA else NormalDist().inv_cdf(1 - alpha / 2)
    return z * math.sqrt(spread * (1 / baseline_count + 1 / current_count))


def _drift_detail(name: str, baseline: dict[str, Any], feature: dict[str, Any], notes: WindowNotes) -> str:
    if name == "low_confidence" and notes.confidence_threshold is not None:
        before = baseline.get("numerical_statistics", {}).get("mean", 0.0)
        after = feature.get("numerical_statistics", {}).get("mean", 0.0)
        return (
            f" (share of predictions with confidence below {notes.confidence_threshold}: "
            f"baseline {before:.3f}, current {after:.3f})"
        )
    if feature.get("inferred_type") == STRING:
        before = ", ".join(f"{k} {v:.3f}" for k, v in sorted(category_shares(baseline).items()))
        after = ", ".join(f"{k} {v:.3f}" for k, v in sorted(category_shares(feature).items()))
        return f" (shares: baseline {before}; current {after})"
    return ""


def _threshold(constraint: dict[str, Any], distribution: dict[str, Any], key: str) -> float:
    overrides = constraint.get("monitoringConfigOverrides") or {}
    return float(overrides.get(key, distribution.get(key, 0.1)))


def is_robust(distribution: dict[str, Any]) -> bool:
    return distribution.get("comparison_method", "Robust") == "Robust"


@dataclass(frozen=True)
class _DriftTests:
    """What one feature's drift tests found; ``None`` fields were not run."""

    distance: float
    threshold: float
    chance_bound: float | None
    distance_fired: bool
    p_value: float | None = None
    level: float | None = None

    @property
    def ks_fired(self) -> bool:
        return self.p_value is not None and self.level is not None and self.p_value < self.level


def _distance_test(
    constraint: dict[str, Any], feature: dict[str, Any], baseline: dict[str, Any], distribution: dict[str, Any],
    chance_alpha: float,
) -> _DriftTests | None:
    name = constraint["name"]
    robust = is_robust(distribution)
    if feature.get("inferred_type") == STRING:
        before, after = category_shares(baseline), category_shares(feature)
        if not before or not after:
            return None
        if distribution.get("categorical_drift_method", "LInfinity") != "LInfinity":
            print(
                f"categorical_drift_method {distribution['categorical_drift_method']!r} is not supported for "
                f"{name}: using LInfinity",
                file=sys.stderr,
            )
        distance = max(abs(before.get(k, 0.0) - after.get(k, 0.0)) for k in set(before) | set(after))
        threshold = _threshold(constraint, distribution, "categorical_comparison_threshold")
        bound = share_critical_value(before, common_counts(baseline)[0], common_counts(feature)[0], chance_alpha)
    else:
        before_sample, after_sample = numeric_sample(baseline), numeric_sample(feature)
        if before_sample is None or after_sample is None:
            return None
        distance = linf_distance(before_sample, after_sample)
        threshold = _threshold(constraint, distribution, "comparison_threshold")
        bound = ks_critical_value(common_counts(baseline)[0], common_counts(feature)[0], chance_alpha)
    fired = distance > threshold and (not robust or distance > bound)
    return _DriftTests(distance, threshold, bound if robust else None, fired)


def _with_ks(tests: _DriftTests, feature: dict[str, Any], baseline: dict[str, Any], level: float) -> _DriftTests:
    p_value = ks_p_value(tests.distance, common_counts(baseline)[0], common_counts(feature)[0])
    return _DriftTests(tests.distance, tests.threshold, tests.chance_bound, tests.distance_fired, p_value, level)


def _drift_description(tests: _DriftTests, alpha: float, family: int) -> str:
    distance = round(tests.distance, 4)
    if tests.distance_fired:
        text = f"Baseline drift distance: {distance} exceeds threshold: {tests.threshold}"
    else:
        text = f"Baseline drift distance: {distance} is within threshold: {tests.threshold}, but"
    if tests.ks_fired:
        joiner = ";" if tests.distance_fired else ""
        text += (f"{joiner} the KS test p-value: {tests.p_value:.3g} is below the Bonferroni-corrected level: "
                 f"{tests.level:.3g} (alpha {alpha} over {family} tests)")
    return text


def _record_drift(evaluation: Evaluation, name: str, tests: _DriftTests, alpha: float, family: int,
                  compared: int) -> None:
    bound = "" if tests.chance_bound is None else (
        f" and > chance bound {tests.chance_bound:.3f} (99% over {compared} features)")
    evaluation.record(name, LINF_TEST, tests.distance, tests.threshold, f"fires when > {tests.threshold}{bound}",
                      tests.distance_fired, chance_bound=tests.chance_bound)
    if tests.p_value is not None and tests.level is not None:
        evaluation.record(name, KS_TEST, tests.p_value, tests.level,
                          f"fires when p < {tests.level:.3g} (alpha {alpha} / {family} tests)", tests.ks_fired,
                          alpha=alpha, tests=family)


def check_drift(
    evaluation: Evaluation,
    constraint: dict[str, Any],
    feature: dict[str, Any],
    baseline: dict[str, Any],
    distribution: dict[str, Any],
    notes: WindowNotes,
    config: CheckConfig,
    family: int,
    compared: int,
) -> None:
    name = constraint["name"]
    tests = _distance_test(constraint, feature, baseline, distribution, CHANCE_ALPHA / max(compared, 1))
    if tests is None:
        return
    level = bonferroni_level(config.ks_alpha, family)
    if name in SHIFT_TEST_FEATURES:
        tests = _with_ks(tests, feature, baseline, level)
        evaluation.p_values[name] = tests.p_value  # type: ignore[assignment]
    evaluation.drift_distances[name] = tests.distance
    _record_drift(evaluation, name, tests, config.ks_alpha, family, compared)
    if tests.ks_fired and name in IMAGE_FEATURES:
        evaluation.input_drift = True
    if tests.distance_fired or tests.ks_fired:
        description = _drift_description(tests, config.ks_alpha, family) + _drift_detail(name, baseline, feature, notes)
        evaluation.add(name, "baseline_drift_check", description)


def check_estimated_accuracy(
    evaluation: Evaluation, current: dict[str, Any], baseline: dict[str, Any] | None, robust: bool,
    config: CheckConfig,
) -> None:
    estimate = estimate_accuracy(features_by_name(current), features_by_name(baseline) if baseline else None,
                                 input_drift=evaluation.input_drift)
    if estimate is None:
        return
    # A model approved below the floor is judged against its own baseline: else every hour would fire.
    floor = config.min_estimated_accuracy
    if estimate.baseline is not None and estimate.baseline < floor:
        floor = round(estimate.baseline, 3)
    upper = min(1.0, estimate.value + Z_99_ONE_SIDED * estimate.standard_error)
    fired = (upper if robust else estimate.value) < floor
    evaluation.estimated_accuracy = {**estimate.as_dict(), "floor": floor, "upper_bound_99": upper}
    rule = f"fires when < {floor}" + (" with 99% confidence (upper bound below it)" if robust else "")
    evaluation.record(ESTIMATE_FEATURE, ESTIMATE_TEST, estimate.value, floor, rule, fired,
                      method=estimate.method, upper_bound_99=upper)
    if fired:
        own_floor_note = "" if floor == config.min_estimated_accuracy else " (the baseline's own estimate)"
        baseline_text = "" if estimate.baseline is None else f", baseline {estimate.baseline:.3f}"
        evaluation.add(
            ESTIMATE_FEATURE,
            "baseline_drift_check",
            f"Estimated accuracy: {estimate.value:.3f} is below the floor: {floor}{own_floor_note} "
            f"(label-free {estimate.method} estimate, 99% upper bound {upper:.3f}{baseline_text})",
        )
