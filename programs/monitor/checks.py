"""Evaluate a window's statistics against baseline constraints and statistics.

Checks follow Model Monitor's constraint_violations.json: ``data_type_check``,
``completeness_check``, ``categorical_values_check``, ``missing_column_check``,
``extra_column_check`` and ``baseline_drift_check``. Numerical drift is the L-infinity distance
between the two empirical CDFs (recovered from the KLL sketches); categorical drift is the
L-infinity distance between the category share vectors. With the ``Robust`` comparison method a
distance must also exceed what chance gives at 99% confidence for the two sample sizes (the
two-sample Kolmogorov-Smirnov critical value for numbers, a two-proportion bound for category
shares), so a handful of requests cannot raise drift on noise alone.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

from feature_statistics import category_shares, common_counts, features_by_name, numeric_sample
from features import FRACTIONAL, IMAGE_FEATURES, INTEGRAL, STRING, UNKNOWN
from sketch import linf_distance

KS_COEFFICIENT_99 = 1.628
Z_99 = 2.576
COMPLETENESS_TOLERANCE = 1e-9


@dataclass(frozen=True)
class WindowNotes:
    """Facts about the window that explain violations."""

    malformed_records: int = 0
    decode_failures: int = 0
    confidence_threshold: float | None = None


@dataclass
class Evaluation:
    violations: list[dict[str, str]] = field(default_factory=list)
    drift_distances: dict[str, float] = field(default_factory=dict)

    def add(self, feature: str, check: str, description: str) -> None:
        self.violations.append({"feature_name": feature, "constraint_check_type": check, "description": description})


def ks_critical_value(baseline_count: int, current_count: int) -> float:
    """Two-sample KS critical distance at 99% confidence."""
    if baseline_count <= 0 or current_count <= 0:
        return math.inf
    return KS_COEFFICIENT_99 * math.sqrt((baseline_count + current_count) / (baseline_count * current_count))


def share_critical_value(baseline_shares: dict[str, float], baseline_count: int, current_count: int) -> float:
    """Largest share difference two samples of these sizes show by chance, at 99% confidence.

    A two-proportion z bound at the widest baseline share; with 24 requests a 0.2 swing in class
    share is noise, with thousands it is drift.
    """
    if baseline_count <= 0 or current_count <= 0:
        return math.inf
    spread = max(p * (1 - p) for p in baseline_shares.values())
    return Z_99 * math.sqrt(spread * (1 / baseline_count + 1 / current_count))


def _type_matches(expected: str, observed: str) -> bool:
    return observed in (expected, UNKNOWN) or (expected == FRACTIONAL and observed == INTEGRAL)


def _completeness_note(name: str, notes: WindowNotes) -> str:
    parts = []
    if notes.malformed_records:
        parts.append(f"{notes.malformed_records} malformed capture records in the window")
    if name in IMAGE_FEATURES and notes.decode_failures:
        parts.append(f"{notes.decode_failures} images could not be decoded")
    return f" ({'; '.join(parts)})" if parts else ""


def _check_feature(
    evaluation: Evaluation,
    constraint: dict[str, Any],
    feature: dict[str, Any],
    config: dict,
    notes: WindowNotes,
) -> None:
    name = constraint["name"]
    expected_type = constraint.get("inferred_type", UNKNOWN)
    observed_type = feature.get("inferred_type", UNKNOWN)
    if expected_type != UNKNOWN and not _type_matches(expected_type, observed_type):
        evaluation.add(
            name,
            "data_type_check",
            f"Data type match requirement is not met. Expected data type: {expected_type}, "
            f"Observed data type: {observed_type}.",
        )
    present, missing = common_counts(feature)
    observed = present / (present + missing) if present + missing else 1.0
    expected = float(constraint.get("completeness", 1.0))
    if observed < expected - COMPLETENESS_TOLERANCE:
        evaluation.add(
            name,
            "completeness_check",
            f"Data completeness requirement is not met. Expected: {expected:.1%}, Observed: {observed:.1%}."
            + _completeness_note(name, notes),
        )
    domains = constraint.get("string_constraints", {}).get("domains")
    if domains and present:
        shares = category_shares(feature)
        known = sum(share for value, share in shares.items() if value in domains)
        required = float(config.get("domain_content_threshold", 1.0))
        if known < required - COMPLETENESS_TOLERANCE:
            unknown = sorted(value for value in shares if value not in domains)
            evaluation.add(
                name,
                "categorical_values_check",
                f"Categorical values requirement is not met. Expected: {required:.1%} of values "
                f"in the baseline domain {sorted(domains)}, Observed: {known:.1%}; "
                f"unknown values: {unknown}.",
            )


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


def _check_drift(
    evaluation: Evaluation,
    constraint: dict[str, Any],
    feature: dict[str, Any],
    baseline: dict[str, Any],
    distribution: dict[str, Any],
    notes: WindowNotes,
) -> None:
    name = constraint["name"]
    if feature.get("inferred_type") == STRING:
        before, after = category_shares(baseline), category_shares(feature)
        if not before or not after:
            return
        if distribution.get("categorical_drift_method", "LInfinity") != "LInfinity":
            print(
                f"categorical_drift_method {distribution['categorical_drift_method']!r} is not supported for "
                f"{name}: using LInfinity",
                file=sys.stderr,
            )
        distance = max(abs(before.get(k, 0.0) - after.get(k, 0.0)) for k in set(before) | set(after))
        threshold = _threshold(constraint, distribution, "categorical_comparison_threshold")
        significant = distribution.get("comparison_method", "Robust") != "Robust" or distance > share_critical_value(
            before, common_counts(baseline)[0], common_counts(feature)[0]
        )
    else:
        before_sample, after_sample = numeric_sample(baseline), numeric_sample(feature)
        if before_sample is None or after_sample is None:
            return
        distance = linf_distance(before_sample, after_sample)
        threshold = _threshold(constraint, distribution, "comparison_threshold")
        significant = distribution.get("comparison_method", "Robust") != "Robust" or distance > ks_critical_value(
            common_counts(baseline)[0], common_counts(feature)[0]
        )
    evaluation.drift_distances[name] = distance
    if distance > threshold and significant:
        evaluation.add(
            name,
            "baseline_drift_check",
            f"Baseline drift distance: {round(distance, 4)} exceeds threshold: {threshold}"
            + _drift_detail(name, baseline, feature, notes),
        )


def evaluate(
    current: dict[str, Any],
    constraints: dict[str, Any],
    baseline: dict[str, Any] | None,
    notes: WindowNotes,
) -> Evaluation:
    """All violations of ``constraints`` (and drift from ``baseline``) by the ``current`` statistics."""
    evaluation = Evaluation()
    config = constraints.get("monitoring_config", {})
    if config.get("evaluate_constraints", "Enabled") != "Enabled" or current["dataset"]["item_count"] == 0:
        return evaluation
    observed = features_by_name(current)
    expected = features_by_name(constraints)
    reference = features_by_name(baseline) if baseline else {}
    distribution = config.get("distribution_constraints", {})
    compare = baseline is not None and distribution.get("perform_comparison", "Enabled") == "Enabled"
    for name, constraint in expected.items():
        feature = observed.get(name)
        if feature is None:
            evaluation.add(name, "missing_column_check", f"Column {name} in the baseline is missing from the data.")
            continue
        _check_feature(evaluation, constraint, feature, config, notes)
        if compare and name in reference:
            _check_drift(evaluation, constraint, feature, reference[name], distribution, notes)
    for name in observed.keys() - expected.keys():
        evaluation.add(name, "extra_column_check", f"Column {name} is not in the baseline constraints.")
    return evaluation
