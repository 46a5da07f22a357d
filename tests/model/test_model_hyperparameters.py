"""Hyperparameters arrive as the SageMaker training toolkit passes them."""

from __future__ import annotations

import json

import pytest
from hyperparameters import HyperparameterError, resolve_hyperparameters


def test_json_encoded_and_plain_values_are_both_accepted() -> None:
    hyperparameters = resolve_hyperparameters(
        ["--epochs", '"10"', "--learning-rate", "0.001", "--batch-size", "32", "--augment", "false"], {}
    )
    assert (hyperparameters.epochs, hyperparameters.learning_rate) == (10, 0.001)
    assert (hyperparameters.batch_size, hyperparameters.augment) == (32, False)


def test_sm_hps_is_read_and_command_line_wins() -> None:
    environ = {"SM_HPS": json.dumps({"epochs": 7, "width": 1.5, "backbone": "pretrained-resnet18"})}
    hyperparameters = resolve_hyperparameters(["--epochs", "4"], environ)
    assert (hyperparameters.epochs, hyperparameters.width) == (4, 1.5)
    assert hyperparameters.backbone == "pretrained-resnet18"


def test_entries_sagemaker_adds_itself_are_ignored() -> None:
    argv = ["--sagemaker_program", "train.py", "--_tuning_objective_metric", "validation:accuracy"]
    assert resolve_hyperparameters(argv, {}).epochs == 15


def test_unknown_hyperparameter_is_named() -> None:
    with pytest.raises(HyperparameterError, match=r"unknown hyperparameter.*learning-rat\b"):
        resolve_hyperparameters(["--learning-rat", "0.1"], {})


def test_value_of_the_wrong_kind_is_named() -> None:
    with pytest.raises(HyperparameterError, match="'epochs' has value 'many'"):
        resolve_hyperparameters(["--epochs", "many"], {})
