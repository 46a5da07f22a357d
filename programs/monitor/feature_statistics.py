"""Per-feature accumulators and Model Monitor's ``statistics.json`` (read and write).

Rows are buffered and added a column at a time; profiles of shards of a window merge into the
profile of the whole window.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
from features import FEATURES, STRING, UNKNOWN, FeatureSpec, Row
from sketch import KllSketch, WeightedSample

HISTOGRAM_BUCKETS = 10
ROW_BUFFER = 1024


class NumericAccumulator:
    """Count, moments, extremes and a KLL sketch of one numerical feature."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self.present = 0
        self.missing = 0
        self.total = 0.0
        self.total_squares = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.sketch = KllSketch()

    def add(self, value: float | int | str | None) -> None:
        self.add_column([value])

    def add_column(self, values: list[float | int | str | None]) -> None:
        """Add one feature's values of a batch of rows (``None`` or text counts as missing)."""
        column = np.array([None if isinstance(v, str) else v for v in values], dtype=np.float64)
        present = column[~np.isnan(column)]
        self.missing += len(column) - len(present)
        if not len(present):
            return
        self.present += len(present)
        self.total += float(present.sum())
        self.total_squares += float(present @ present)
        self.minimum = min(self.minimum, float(present.min()))
        self.maximum = max(self.maximum, float(present.max()))
        self.sketch.add_many(present)

    def merge(self, other: NumericAccumulator) -> None:
        self.present += other.present
        self.missing += other.missing
        self.total += other.total
        self.total_squares += other.total_squares
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.sketch.merge(other.sketch)

    def to_json(self) -> dict[str, Any]:
        common = {"num_present": self.present, "num_missing": self.missing}
        if self.present == 0:
            return {
                "name": self.spec.name,
                "inferred_type": UNKNOWN,
                "numerical_statistics": {"common": common},
            }
        mean = self.total / self.present
        variance = max(self.total_squares / self.present - mean * mean, 0.0)
        sketch = self.sketch.to_json()
        sample = WeightedSample.from_levels(sketch["data"])
        buckets = sample.histogram(self.minimum, self.maximum, HISTOGRAM_BUCKETS)
        return {
            "name": self.spec.name,
            "inferred_type": self.spec.inferred_type,
            "numerical_statistics": {
                "common": common,
                "mean": mean,
                "sum": self.total,
                "std_dev": math.sqrt(variance),
                "min": self.minimum,
                "max": self.maximum,
                "distribution": {
                    "kll": {
                        "buckets": [
                            {"lower_bound": low, "upper_bound": high, "count": count} for low, high, count in buckets
                        ],
                        "sketch": sketch,
                    }
                },
            },
        }


class StringAccumulator:
    """Counts of one categorical feature."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self.counts: Counter[str] = Counter()
        self.missing = 0

    def add(self, value: float | int | str | None) -> None:
        self.add_column([value])

    def add_column(self, values: list[float | int | str | None]) -> None:
        present = [str(value) for value in values if value is not None]
        self.missing += len(values) - len(present)
        self.counts.update(present)

    def merge(self, other: StringAccumulator) -> None:
        self.counts.update(other.counts)
        self.missing += other.missing

    def to_json(self) -> dict[str, Any]:
        present = sum(self.counts.values())
        buckets = [{"value": value, "count": count} for value, count in sorted(self.counts.items())]
        return {
            "name": self.spec.name,
            "inferred_type": self.spec.inferred_type if present else UNKNOWN,
            "string_statistics": {
                "common": {"num_present": present, "num_missing": self.missing},
                "distinct_count": float(len(self.counts)),
                "distribution": {"categorical": {"buckets": buckets}},
            },
        }


class DatasetProfile:
    """Streams feature rows into Model Monitor statistics."""

    def __init__(self) -> None:
        self.item_count = 0
        self.accumulators = {
            spec.name: StringAccumulator(spec) if spec.inferred_type == STRING else NumericAccumulator(spec)
            for spec in FEATURES
        }
        self._rows: list[Row] = []

    def add(self, row: Row) -> None:
        self.item_count += 1
        self._rows.append(row)
        if len(self._rows) >= ROW_BUFFER:
            self._flush()

    def _flush(self) -> None:
        rows, self._rows = self._rows, []
        if rows:
            for name, accumulator in self.accumulators.items():
                accumulator.add_column([row.get(name) for row in rows])

    def merge(self, other: DatasetProfile) -> None:
        """Fold the profile of other rows (another shard of the window) into this one."""
        self._flush()
        other._flush()
        self.item_count += other.item_count
        for name, accumulator in self.accumulators.items():
            accumulator.merge(other.accumulators[name])  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """The ``statistics.json`` document."""
        self._flush()
        return {
            "version": 0.0,
            "dataset": {"item_count": self.item_count},
            "features": [accumulator.to_json() for accumulator in self.accumulators.values()],
        }


def features_by_name(statistics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A statistics or constraints document's features keyed by name."""
    return {feature["name"]: feature for feature in statistics.get("features", [])}


def common_counts(feature: dict[str, Any]) -> tuple[int, int]:
    """``(num_present, num_missing)`` of a statistics feature."""
    block = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
    common = block.get("common", {})
    return int(common.get("num_present", 0)), int(common.get("num_missing", 0))


def numeric_sample(feature: dict[str, Any]) -> WeightedSample | None:
    """The feature's distribution from its KLL sketch, else from its histogram buckets."""
    kll = feature.get("numerical_statistics", {}).get("distribution", {}).get("kll", {})
    levels = kll.get("sketch", {}).get("data")
    if levels and any(levels):
        return WeightedSample.from_levels(levels)
    buckets = kll.get("buckets") or []
    if not buckets:
        return None
    values = np.array([(b["lower_bound"] + b["upper_bound"]) / 2 for b in buckets], dtype=np.float64)
    weights = np.array([b["count"] for b in buckets], dtype=np.float64)
    return WeightedSample(values, weights)


def category_shares(feature: dict[str, Any]) -> dict[str, float]:
    """Share of each category value among the present values."""
    buckets = feature.get("string_statistics", {}).get("distribution", {}).get("categorical", {})
    counts = {str(b["value"]): float(b["count"]) for b in buckets.get("buckets", [])}
    total = sum(counts.values())
    return {value: count / total for value, count in counts.items()} if total else {}
