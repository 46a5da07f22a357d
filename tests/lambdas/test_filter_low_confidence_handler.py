"""filter_low_confidence: passes confident classifications on, raises LowConfidenceError otherwise."""

from __future__ import annotations

import pytest

from lambdas.filter_low_confidence import app
from tests.lambdas.local_aws import BUCKET
from tests.lambdas.photo_samples import wrapped


def classified(inferences) -> dict:
    return wrapped({"s3_bucket": BUCKET, "s3_key": "photos/x.png", "image_data": "", "inferences": inferences})


def test_confident_bicycle_passes_with_the_vehicle_set() -> None:
    event = classified([0.95, 0.05])
    result = app.lambda_handler(event, None)
    assert result == {"statusCode": 200, "body": {**event["body"], "vehicle": "bicycle",
                                                  "predicted_class": "bicycle", "confidence": 0.95}}


def test_unwrapped_motorcycle_passes() -> None:
    result = app.lambda_handler(classified([0.01, 0.99])["body"], None)
    assert result["vehicle"] == "motorcycle"


def test_threshold_is_inclusive() -> None:
    assert app.lambda_handler(classified([0.93, 0.07]), None)["body"]["vehicle"] == "bicycle"


def test_low_confidence_raises_with_the_confidence_in_the_message() -> None:
    with pytest.raises(app.LowConfidenceError, match=r"confidence 0\.6000 .*CONFIDENCE_THRESHOLD=0\.93"):
        app.lambda_handler(classified([0.4, 0.6]), None)


def test_threshold_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "0.5")
    assert app.lambda_handler(classified([0.4, 0.6]), None)["body"]["vehicle"] == "motorcycle"


def test_error_class_name_is_what_the_state_machine_catches() -> None:
    assert app.LowConfidenceError.__name__ == "LowConfidenceError"
    assert issubclass(app.LowConfidenceError, Exception)


@pytest.mark.parametrize("inferences", [None, [], [0.5], [0.1, 0.2, 0.7], ["a", "b"], [True, False],
                                        [float("nan"), 0.5]])
def test_malformed_inferences_are_refused(inferences) -> None:
    with pytest.raises(app.MalformedEventError, match="inferences"):
        app.lambda_handler(classified(inferences), None)


@pytest.mark.parametrize("value", ["high", "1.5", "-0.1"])
def test_invalid_threshold_names_the_variable(monkeypatch, value: str) -> None:
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", value)
    with pytest.raises(app.ConfigurationError, match="CONFIDENCE_THRESHOLD"):
        app.lambda_handler(classified([0.99, 0.01]), None)


@pytest.mark.parametrize("inferences", [[5.0, -4.0], [0.7, 0.7], [1.5, -0.5], [float("inf"), 0.0], [0.3, 0.3]])
def test_numbers_that_are_not_probabilities_are_refused_by_name(inferences) -> None:
    with pytest.raises(app.InvalidProbabilitiesError, match="not class probabilities"):
        app.lambda_handler(classified(inferences), None)


def test_probabilities_within_the_sum_tolerance_are_routed() -> None:
    assert app.lambda_handler(classified([0.0004, 0.9999]), None)["body"]["vehicle"] == "motorcycle"
