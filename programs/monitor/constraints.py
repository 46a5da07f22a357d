"""Model Monitor's suggested ``constraints.json`` for a baseline."""

from __future__ import annotations

from typing import Any

from feature_statistics import common_counts
from features import STRING, UNKNOWN

DEFAULT_COMPARISON_THRESHOLD = 0.1
MAX_DOMAIN_VALUES = 20


def monitoring_config(comparison_threshold: float, categorical_comparison_threshold: float) -> dict[str, Any]:
    """The ``monitoring_config`` block the checks read."""
    return {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 1.0,
        "domain_content_threshold": 1.0,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": comparison_threshold,
            "comparison_method": "Robust",
            "categorical_comparison_threshold": categorical_comparison_threshold,
            "categorical_drift_method": "LInfinity",
        },
    }


def _feature_constraint(feature: dict[str, Any]) -> dict[str, Any]:
    present, missing = common_counts(feature)
    total = present + missing
    constraint: dict[str, Any] = {
        "name": feature["name"],
        "inferred_type": feature["inferred_type"],
        "completeness": present / total if total else 1.0,
    }
    if feature["inferred_type"] == STRING:
        buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
        if len(buckets) <= MAX_DOMAIN_VALUES:
            constraint["string_constraints"] = {"domains": sorted(str(b["value"]) for b in buckets)}
    elif feature["inferred_type"] != UNKNOWN:
        constraint["num_constraints"] = {"is_non_negative": bool(feature["numerical_statistics"]["min"] >= 0)}
    return constraint


def suggest_constraints(
    statistics: dict[str, Any],
    comparison_threshold: float = DEFAULT_COMPARISON_THRESHOLD,
    categorical_comparison_threshold: float | None = None,
) -> dict[str, Any]:
    """Constraints that the baseline itself satisfies, with drift thresholds for later windows."""
    categorical = comparison_threshold if categorical_comparison_threshold is None else categorical_comparison_threshold
    return {
        "version": 0.0,
        "features": [_feature_constraint(feature) for feature in statistics["features"]],
        "monitoring_config": monitoring_config(comparison_threshold, categorical),
    }
