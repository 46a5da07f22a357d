"""Model quality statistics in Model Monitor's binary classification shape, for the Model Registry.

The positive class is the second class (motorcycle). Each scalar metric carries a standard deviation
estimated from seeded bootstrap resamples, as Model Monitor reports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

BOOTSTRAP_SAMPLES = 200
BOOTSTRAP_SEED = 0


def rates(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Binary classification rates for positive class 1."""
    true_positive = float(np.sum((labels == 1) & (predicted == 1)))
    false_positive = float(np.sum((labels == 0) & (predicted == 1)))
    false_negative = float(np.sum((labels == 1) & (predicted == 0)))
    true_negative = float(np.sum((labels == 0) & (predicted == 0)))

    def ratio(numerator: float, denominator: float) -> float:
        return numerator / denominator if denominator else 0.0

    precision = ratio(true_positive, true_positive + false_positive)
    recall = ratio(true_positive, true_positive + false_negative)

    def f_beta(beta: float) -> float:
        return ratio((1 + beta**2) * precision * recall, beta**2 * precision + recall)

    return {
        "accuracy": ratio(true_positive + true_negative, len(labels)),
        "precision": precision,
        "recall": recall,
        "true_positive_rate": recall,
        "true_negative_rate": ratio(true_negative, true_negative + false_positive),
        "false_positive_rate": ratio(false_positive, false_positive + true_negative),
        "false_negative_rate": ratio(false_negative, false_negative + true_positive),
        "f0_5": f_beta(0.5),
        "f1": f_beta(1.0),
        "f2": f_beta(2.0),
    }


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum statistic (ties count half); 0.0 with one class."""
    positives, negatives = scores[labels == 1], scores[labels == 0]
    if len(positives) == 0 or len(negatives) == 0:
        return 0.0
    greater = (positives[:, None] > negatives[None, :]).sum()
    ties = (positives[:, None] == negatives[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(positives) * len(negatives)))


def with_deviation(
    metric: Callable[[np.ndarray, np.ndarray], float], labels: np.ndarray, probabilities: np.ndarray
) -> dict[str, float]:
    """The metric's value and its bootstrap standard deviation."""
    generator = np.random.default_rng(BOOTSTRAP_SEED)
    resamples = generator.integers(0, len(labels), size=(BOOTSTRAP_SAMPLES, len(labels)))
    values = [metric(labels[index], probabilities[index]) for index in resamples]
    return {"value": metric(labels, probabilities), "standard_deviation": float(np.std(values))}


def rate_metric(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """A function computing one named rate from labels and class probabilities."""
    return lambda labels, probabilities: rates(labels, probabilities.argmax(axis=1))[name]


def auc_metric(labels: np.ndarray, probabilities: np.ndarray) -> float:
    return roc_auc(labels, probabilities[:, 1])


def model_quality_statistics(probabilities: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """statistics.json-style model quality document for a binary classifier."""
    predicted = probabilities.argmax(axis=1)
    metrics: dict[str, Any] = {
        "confusion_matrix": {
            classes[true]: {classes[guess]: int(np.sum((labels == true) & (predicted == guess))) for guess in (0, 1)}
            for true in (0, 1)
        }
    }
    for name in rates(labels, predicted):
        metrics[name] = with_deviation(rate_metric(name), labels, probabilities)
    metrics["auc"] = with_deviation(auc_metric, labels, probabilities)
    return {"version": 0.0, "dataset": {"item_count": len(labels)}, "binary_classification_metrics": metrics}
