"""Classification and calibration metrics on hand-made examples."""

from __future__ import annotations

import numpy as np
import pytest
from classification_metrics import classification_metrics, expected_calibration_error, log_loss
from model_quality import model_quality_statistics, roc_auc

CLASSES = ["bicycle", "motorcycle"]


def test_ece_of_one_prediction_per_bin_is_the_mean_gap() -> None:
    probabilities = np.array([[0.95, 0.05], [0.75, 0.25], [0.35, 0.65], [0.45, 0.55]])
    labels = np.array([0, 1, 1, 1])
    assert expected_calibration_error(probabilities, labels) == pytest.approx((0.05 + 0.75 + 0.35 + 0.45) / 4)


def test_ece_compares_bin_accuracy_with_bin_confidence() -> None:
    probabilities = np.array([[0.62, 0.38], [0.36, 0.64]])
    labels = np.array([0, 0])
    assert expected_calibration_error(probabilities, labels) == pytest.approx(abs(0.5 - 0.63))


def test_log_loss_is_mean_negative_log_of_true_class_probability() -> None:
    probabilities = np.array([[0.8, 0.2], [0.4, 0.6]])
    assert log_loss(probabilities, np.array([0, 0])) == pytest.approx(-(np.log(0.8) + np.log(0.4)) / 2)


def test_precision_recall_f1_per_class() -> None:
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    metrics = classification_metrics(probabilities, np.array([0, 0, 1, 1]), CLASSES)
    assert metrics["accuracy"] == 0.5
    assert metrics["precision"] == {"bicycle": 0.5, "motorcycle": 0.5}
    assert metrics["recall"] == {"bicycle": 0.5, "motorcycle": 0.5}
    assert metrics["n"] == 4


def test_auc_counts_ties_as_half() -> None:
    assert roc_auc(np.array([0, 1, 0, 1]), np.array([0.2, 0.8, 0.5, 0.5])) == pytest.approx(0.875)


def test_model_quality_confusion_matrix_is_keyed_by_class() -> None:
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    statistics = model_quality_statistics(probabilities, np.array([0, 0, 1]), CLASSES)
    matrix = statistics["binary_classification_metrics"]["confusion_matrix"]
    assert matrix == {"bicycle": {"bicycle": 1, "motorcycle": 1}, "motorcycle": {"bicycle": 0, "motorcycle": 1}}
