"""The three real handlers chained: directly, and through the local state machine runtime's per-photo flow (the
definition's Distributed Map's ItemProcessor)."""

from __future__ import annotations

import json
from pathlib import Path

from include.runtime.local.stepfunctions import load_definition, run_execution
from lambdas.classify_image import app as classify_image
from lambdas.filter_low_confidence import app as filter_low_confidence
from lambdas.serialize_image import app as serialize_image
from tests.lambdas.local_aws import BUCKET, LocalS3, SageMakerStub
from tests.lambdas.photo_samples import noisy_png_bytes, png_bytes

DEFINITION = Path(__file__).resolve().parents[2] / "include" / "statemachine" / "inference.asl.json"
ARNS = {
    "SerializeImageFunctionArn": "arn:aws:lambda:us-east-1:111122223333:function:scones-serialize-image",
    "ClassifyImageFunctionArn": "arn:aws:lambda:us-east-1:111122223333:function:scones-classify-image",
    "FilterLowConfidenceFunctionArn": "arn:aws:lambda:us-east-1:111122223333:function:scones-filter-low-confidence",
}
HANDLERS = {
    ARNS["SerializeImageFunctionArn"]: serialize_image.lambda_handler,
    ARNS["ClassifyImageFunctionArn"]: classify_image.lambda_handler,
    ARNS["FilterLowConfidenceFunctionArn"]: filter_low_confidence.lambda_handler,
}


def photo_flow() -> dict:
    processor = load_definition(DEFINITION, ARNS)["States"]["ClassifyPhotos"]["ItemProcessor"]
    return {"StartAt": processor["StartAt"], "States": processor["States"]}


def test_five_megabyte_photo_travels_by_s3_reference(local_s3: LocalS3, sagemaker_runtime: SageMakerStub) -> None:
    photo = noisy_png_bytes(5_000_000)
    local_s3.put("photos/large.png", photo)
    serialized = serialize_image.lambda_handler({"s3_bucket": BUCKET, "s3_key": "photos/large.png"}, None)
    classified = classify_image.lambda_handler(json.loads(json.dumps(serialized)), None)
    assert len(photo) > 4_900_000
    assert serialized["body"]["image_data"] == ""
    assert len(json.dumps(classified)) < 1_000
    assert sagemaker_runtime.calls[0]["size"] == len(photo)


def test_state_machine_routes_a_confident_bicycle_to_nearby_orders(
    local_s3: LocalS3, sagemaker_runtime: SageMakerStub
) -> None:
    local_s3.put("photos/bike.png", png_bytes())
    result = run_execution(photo_flow(), {"s3_bucket": BUCKET, "s3_key": "photos/bike.png"}, HANDLERS, name="bike")
    assert result.status == "SUCCEEDED"
    assert result.output == {"s3_bucket": BUCKET, "s3_key": "photos/bike.png", "vehicle": "bicycle",
                             "confidence": 0.97, "inferences": [0.97, 0.03], "assignment": "nearby"}


def test_state_machine_fails_a_non_image_with_the_handlers_error(
    local_s3: LocalS3, sagemaker_runtime: SageMakerStub
) -> None:
    local_s3.put("photos/notes.txt", b"hello")
    result = run_execution(photo_flow(), {"s3_bucket": BUCKET, "s3_key": "photos/notes.txt"}, HANDLERS, name="txt")
    assert (result.status, result.error) == ("FAILED", "NotAnImageError")
    assert json.loads(result.cause)["errorType"] == "NotAnImageError"
    assert "photos/notes.txt" in json.loads(result.cause)["errorMessage"]
    assert sagemaker_runtime.calls == []


def test_state_machine_retries_an_unavailable_endpoint_then_routes_the_photo(
    local_s3: LocalS3, sagemaker_runtime: SageMakerStub, monkeypatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    sagemaker_runtime.first_answers = [(503, "ServiceUnavailable", b'{"message": "shifting traffic"}'),
                                       (429, "ThrottlingException", b'{"message": "slow down"}')]
    local_s3.put("photos/bike.png", png_bytes())
    sleeps: list[float] = []
    definition = photo_flow()
    result = run_execution(definition, {"s3_bucket": BUCKET, "s3_key": "photos/bike.png"}, HANDLERS,
                           name="shift", sleep=sleeps.append)
    assert (result.status, result.output["assignment"]) == ("SUCCEEDED", "nearby")
    assert len(sagemaker_runtime.calls) == 3 and len(sleeps) == 2


def test_state_machine_fails_a_photo_the_model_rejects_without_retrying(
    local_s3: LocalS3, sagemaker_runtime: SageMakerStub
) -> None:
    sagemaker_runtime.status, sagemaker_runtime.error_type = 424, "ModelError"
    sagemaker_runtime.body = json.dumps({"message": "Received client error (400)", "OriginalStatusCode": 400}).encode()
    local_s3.put("photos/odd.png", png_bytes())
    sleeps: list[float] = []
    definition = photo_flow()
    result = run_execution(definition, {"s3_bucket": BUCKET, "s3_key": "photos/odd.png"}, HANDLERS,
                           name="odd", sleep=sleeps.append)
    assert (result.status, result.error) == ("FAILED", "PhotoRejectedError")
    assert (len(sagemaker_runtime.calls), sleeps) == (1, [])
