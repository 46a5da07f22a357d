"""Classification and calibration metrics of predicted class probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np

ECE_BINS = 15
LOG_LOSS_EPSILON = 1e-15


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, class_count: int) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    matrix = np.zeros((class_count, class_count), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def safe_ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, or 0.0 when the denominator is 0 (no support)."""
    return float(numerator / denominator) if denominator else 0.0


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: support-weighted gap between confidence and accuracy over equal-width confidence bins.

    Confidence is the top class probability; bin b holds confidences in (b/bins, (b+1)/bins].
    """
    confidences = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    bin_index = np.clip(np.ceil(confidences * bins).astype(np.int64) - 1, 0, bins - 1)
    error = 0.0
    for bin_number in range(bins):
        in_bin = bin_index == bin_number
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidences[in_bin].mean())
    return float(error)


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log probability of the true class (clipped away from 0)."""
    true_class_probability = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(true_class_probability, LOG_LOSS_EPSILON, 1.0)).mean())


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1, ECE, log loss and count of one scored split."""
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, len(classes))
    precision, recall, f1 = {}, {}, {}
    for index, name in enumerate(classes):
        true_positives = matrix[index, index]
        precision[name] = safe_ratio(true_positives, matrix[:, index].sum())
        recall[name] = safe_ratio(true_positives, matrix[index, :].sum())
        f1[name] = safe_ratio(2 * precision[name] * recall[name], precision[name] + recall[name])
    return {
        "accuracy": safe_ratio(np.trace(matrix), matrix.sum()),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "ece": expected_calibration_error(probabilities, labels),
        "log_loss": log_loss(probabilities, labels),
        "n": len(labels),
    }


def confusion_report(probabilities: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """The confusion matrix with its labels (rows: true class, columns: predicted class)."""
    matrix = confusion_matrix(labels, probabilities.argmax(axis=1), len(classes))
    return {"labels": list(classes), "matrix": matrix.tolist()}
