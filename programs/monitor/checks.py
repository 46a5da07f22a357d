"""Evaluate a window's statistics against baseline constraints and statistics.

Checks follow Model Monitor's constraint_violations.json: ``data_type_check``,
``completeness_check``, ``categorical_values_check``, ``missing_column_check``,
``extra_column_check`` and ``baseline_drift_check``. Numerical drift is the L-infinity distance
between the two empirical CDFs (recovered from the KLL sketches); categorical drift is the
L-infinity distance between the category share vectors. With the ``Robust`` comparison method a
distance must also exceed what chance gives at 99% confidence for the two sample sizes (the
two-sample Kolmogorov-Smirnov critical value for numbers, a two-proportion bound for category
shares), family-wise over the features compared (Bonferroni), so neither a handful of requests
nor the number of features compared can raise drift on noise alone.

Two more checks report as ``baseline_drift_check`` too, so the same ignore/alert/retrain mapping
applies: a KS test with a p-value on each of the shift-test features (the predicted probability
and the continuous image and confidence features), Bonferroni-corrected across them; and the
label-free estimated accuracy against a floor (feature ``estimated_accuracy``). A feature's
violation names every test that fired. Every check's test, threshold and result is kept in
:attr:`Evaluation.checks` for the summary and the report.
"""

from __future__ import annotations

from typing import Any

from drift_checks import (
    CHANCE_ALPHA,
    ESTIMATE_TEST,
    KS_TEST,
    LINF_TEST,
    check_drift,
    check_estimated_accuracy,
    is_robust,
    ks_critical_value,
    share_critical_value,
)
from evaluation import CheckConfig, Evaluation, WindowNotes
from feature_statistics import category_shares, common_counts, features_by_name
from features import ESTIMATE_FEATURE, FEATURE_NAMES, FRACTIONAL, IMAGE_FEATURES, INTEGRAL, SHIFT_TEST_FEATURES, UNKNOWN

__all__ = ["CHANCE_ALPHA", "ESTIMATE_TEST", "KS_TEST", "LINF_TEST", "CheckConfig", "Evaluation", "WindowNotes",
           "evaluate", "ks_critical_value", "share_critical_value"]

COMPLETENESS_TOLERANCE = 1e-9


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


def evaluate(
    current: dict[str, Any],
    constraints: dict[str, Any],
    baseline: dict[str, Any] | None,
    notes: WindowNotes,
    config: CheckConfig | None = None,
) -> Evaluation:
    """All violations of ``constraints`` (and drift from ``baseline``) by the ``current`` statistics."""
    config = config or CheckConfig()
    evaluation = Evaluation()
    monitoring = constraints.get("monitoring_config", {})
    if monitoring.get("evaluate_constraints", "Enabled") != "Enabled" or current["dataset"]["item_count"] == 0:
        return evaluation
    observed = features_by_name(current)
    expected = features_by_name(constraints)
    reference = features_by_name(baseline) if baseline else {}
    distribution = monitoring.get("distribution_constraints", {})
    compare = baseline is not None and distribution.get("perform_comparison", "Enabled") == "Enabled"
    family = sum(1 for name in SHIFT_TEST_FEATURES if name in expected and name in reference and name in observed)
    compared = sum(1 for name in expected if name in reference and name in observed and name != ESTIMATE_FEATURE)
    for name, constraint in expected.items():
        feature = observed.get(name)
        if feature is None:
            evaluation.add(name, "missing_column_check", f"Column {name} in the baseline is missing from the data.")
            continue
        _check_feature(evaluation, constraint, feature, monitoring, notes)
        if compare and name in reference and name != ESTIMATE_FEATURE:
            check_drift(evaluation, constraint, feature, reference[name], distribution, notes, config, family,
                         compared)
    for name in observed.keys() - expected.keys():
        if name in FEATURE_NAMES:  # derived by a newer analyzer than the baseline's: nothing to compare with
            evaluation.unchecked[name] = "not in the baseline (made by an older analyzer): re-baseline to check it"
        else:
            evaluation.add(name, "extra_column_check", f"Column {name} is not in the baseline constraints.")
    if compare and ESTIMATE_FEATURE in expected:
        check_estimated_accuracy(evaluation, current, baseline, is_robust(distribution), config)
    return evaluation
