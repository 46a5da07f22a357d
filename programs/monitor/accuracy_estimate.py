"""A label-free estimate of the model's accuracy on a window of traffic.

Three estimators, all from the statistics alone (no labels, no extra reads):

- ``confidence``: the mean calibrated top-class probability, i.e. the mean of the per-record
  ``estimated_accuracy`` feature (average confidence; what confidence-based performance estimation
  such as NannyML's CBPE does for a calibrated binary classifier);
- ``atc``: Average Thresholded Confidence (Garg et al., ICLR 2022): the share of the window whose
  confidence exceeds the threshold that the baseline exceeds as often as the baseline is right
  (its accuracy taken, label-free, as its mean calibrated confidence);
- ``capped``: ``confidence``, but when the inputs themselves drifted (a KS test on an image
  feature fired) no more than the class shares allow: if the true class mix is the baseline's
  (its mean predicted motorcycle probability), a window predicting a share ``s`` of motorcycles
  is wrong on at least ``|s - share|`` of its requests. A model that is confidently wrong on
  unfamiliar photos (night) keeps its confidence but cannot hide the swing in what it predicts.

The benchmark measures all three against true accuracy across the drift kinds; :data:`METHOD` is
the one the analyzer reports.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from feature_statistics import common_counts, numeric_sample
from features import ESTIMATE_FEATURE

METHODS = ("confidence", "atc", "capped")
METHOD = "capped"
DEFAULT_MIN_ESTIMATED_ACCURACY = 0.8


@dataclass(frozen=True)
class AccuracyEstimate:
    value: float
    standard_error: float
    method: str
    records: int
    baseline: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mean_and_spread(feature: dict[str, Any]) -> tuple[float, float, int] | None:
    numbers = feature.get("numerical_statistics", {})
    present = common_counts(feature)[0]
    if not present or "mean" not in numbers:
        return None
    return float(numbers["mean"]), float(numbers.get("std_dev", 0.0)), present


def _atc_threshold(baseline: dict[str, Any]) -> float | None:
    """The confidence that the baseline exceeds as often as it is (estimated to be) right."""
    described = _mean_and_spread(baseline[ESTIMATE_FEATURE]) if ESTIMATE_FEATURE in baseline else None
    sample = numeric_sample(baseline["confidence"]) if "confidence" in baseline else None
    if described is None or sample is None or not sample.total:
        return None
    share_right = described[0]
    cumulative = np.cumsum(sample.weights) / sample.total
    index = int(np.searchsorted(cumulative, 1 - share_right, side="left"))
    return float(sample.values[min(index, len(sample.values) - 1)])


def _atc(current: dict[str, dict[str, Any]], baseline: dict[str, dict[str, Any]]) -> AccuracyEstimate | None:
    threshold = _atc_threshold(baseline)
    sample = numeric_sample(current["confidence"]) if "confidence" in current else None
    if threshold is None or sample is None or not sample.total:
        return None
    share = float(1 - sample.cdf(np.array([np.nextafter(threshold, 0)]))[0])
    records = common_counts(current["confidence"])[0]
    return AccuracyEstimate(share, math.sqrt(share * (1 - share) / max(records, 1)), "atc", records,
                            _mean_and_spread(baseline[ESTIMATE_FEATURE])[0])  # type: ignore[index]


def _average_confidence(current: dict[str, dict[str, Any]],
                        baseline: dict[str, dict[str, Any]] | None) -> AccuracyEstimate | None:
    described = _mean_and_spread(current[ESTIMATE_FEATURE]) if ESTIMATE_FEATURE in current else None
    if described is None:
        return None
    mean, spread, records = described
    reference = _mean_and_spread(baseline[ESTIMATE_FEATURE]) if baseline and ESTIMATE_FEATURE in baseline else None
    return AccuracyEstimate(mean, spread / math.sqrt(records), "confidence", records,
                            None if reference is None else reference[0])


def _motorcycle_share(feature: dict[str, Any]) -> tuple[float, int] | None:
    buckets = feature.get("string_statistics", {}).get("distribution", {}).get("categorical", {}).get("buckets", [])
    counts = {str(b["value"]): float(b["count"]) for b in buckets}
    total = sum(counts.values())
    return (counts.get("motorcycle", 0.0) / total, int(total)) if total else None


def _capped(current: dict[str, dict[str, Any]], baseline: dict[str, dict[str, Any]] | None,
            input_drift: bool) -> AccuracyEstimate | None:
    estimate = _average_confidence(current, baseline)
    if estimate is None or not input_drift or not baseline:
        return None if estimate is None else AccuracyEstimate(**{**estimate.as_dict(), "method": "capped"})
    prior = _mean_and_spread(baseline["motorcycle_probability"]) if "motorcycle_probability" in baseline else None
    predicted = _motorcycle_share(current["predicted_class"]) if "predicted_class" in current else None
    if prior is None or predicted is None:
        return AccuracyEstimate(**{**estimate.as_dict(), "method": "capped"})
    share, records = predicted
    bound = 1 - abs(share - prior[0])
    if bound >= estimate.value:
        return AccuracyEstimate(**{**estimate.as_dict(), "method": "capped"})
    spread = math.sqrt(share * (1 - share) / max(records, 1))
    return AccuracyEstimate(bound, spread, "capped", estimate.records, estimate.baseline)


def estimate_accuracy(current: dict[str, dict[str, Any]], baseline: dict[str, dict[str, Any]] | None,
                      method: str = METHOD, input_drift: bool = False) -> AccuracyEstimate | None:
    """The window's estimated accuracy (features keyed by name); ``None`` without predictions.

    ``input_drift`` says whether a shift test on the image features fired (``capped`` uses it).
    """
    if method == "atc":
        return _atc(current, baseline) if baseline else None
    if method == "capped":
        return _capped(current, baseline, input_drift)
    return _average_confidence(current, baseline)
