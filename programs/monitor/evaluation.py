"""What evaluating a window produces and what it needs besides the constraints: the notes on the window,
the run's check settings, and the evaluation (violations, and every test's result beside its threshold)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accuracy_estimate import DEFAULT_MIN_ESTIMATED_ACCURACY
from shift_tests import DEFAULT_ALPHA


@dataclass(frozen=True)
class WindowNotes:
    """Facts about the window that explain violations."""

    malformed_records: int = 0
    decode_failures: int = 0
    confidence_threshold: float | None = None


@dataclass(frozen=True)
class CheckConfig:
    """The run's settings for the checks that constraints.json has no field for."""

    ks_alpha: float = DEFAULT_ALPHA
    min_estimated_accuracy: float = DEFAULT_MIN_ESTIMATED_ACCURACY


@dataclass
class Evaluation:
    violations: list[dict[str, str]] = field(default_factory=list)
    drift_distances: dict[str, float] = field(default_factory=dict)
    p_values: dict[str, float] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    estimated_accuracy: dict[str, Any] | None = None
    unchecked: dict[str, str] = field(default_factory=dict)
    input_drift: bool = False

    def add(self, feature: str, check: str, description: str) -> None:
        self.violations.append({"feature_name": feature, "constraint_check_type": check, "description": description})

    def record(self, feature: str, test: str, value: float, threshold: float, rule: str, violated: bool,
               **detail: Any) -> None:
        """Keep one test's result beside its threshold, violated or not."""
        self.checks.append({"feature": feature, "check": "baseline_drift_check", "test": test,
                            "value": value, "threshold": threshold, "rule": rule, "violated": violated, **detail})
