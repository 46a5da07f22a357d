"""Stand-in handlers for the inference state machine: outcomes chosen by the photo's key.

``serialize`` and ``classify`` mimic the real handlers' shapes without AWS (and raise their errors);
``filter`` is the real filter handler. Keys ending in ``.txt`` are not images, ``photos/rejected.png`` is
refused by the model; inferences come from ``INFERENCES``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from include.runtime.local.stepfunctions import TaskFailure, load_definition
from lambdas.classify_image.app import EndpointUnavailableError, PhotoRejectedError
from lambdas.filter_low_confidence import app as filter_low_confidence
from lambdas.serialize_image.app import NotAnImageError

DEFINITION_FILE = Path(__file__).resolve().parents[2] / "include" / "statemachine" / "inference.asl.json"
ARNS = {
    "SerializeImageFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:serialize-image",
    "ClassifyImageFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:classify-image",
    "FilterLowConfidenceFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:filter-low-confidence",
}
INFERENCES = {
    "photos/bike.png": [0.97, 0.03],
    "photos/moto.jpg": [0.02, 0.98],
    "photos/blurry.png": [0.55, 0.45],
    "photos/flaky.png": [0.96, 0.04],
}
BUCKET = "scones-test"


def definition() -> dict[str, Any]:
    """The deployed definition: a Distributed Map over a photo manifest."""
    return load_definition(DEFINITION_FILE, ARNS)


def photo_flow() -> dict[str, Any]:
    """The per-photo flow (the Map's ItemProcessor) as a state machine of its own."""
    processor = definition()["States"]["ClassifyPhotos"]["ItemProcessor"]
    return {"StartAt": processor["StartAt"], "States": processor["States"]}


class MemoryObjects(dict):
    """S3 for the interpreter's ItemReader and ResultWriter, in memory: ``{(bucket, key): bytes}``."""

    def get_object(self, bucket: str, key: str) -> bytes:
        try:
            return self[(bucket, key)]
        except KeyError:
            raise LookupError(f"NoSuchKey: s3://{bucket}/{key}") from None

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        self[(bucket, key)] = body

    def json(self, bucket: str, key: str) -> Any:
        import json

        return json.loads(self[(bucket, key)])


class InferenceHandlers:
    """The three handlers; ``transient_failures`` makes serialize fail first with Lambda.ServiceException,
    ``unavailable_failures`` makes classify fail first with EndpointUnavailableError.

    ``calls`` lists the handlers called in order; ``photos`` the photo key of each call (thread-safe appends)."""

    def __init__(self, transient_failures: int = 0, unavailable_failures: int = 0) -> None:
        self.transient_failures = transient_failures
        self.unavailable_failures = unavailable_failures
        self.calls: list[str] = []
        self.photos: list[tuple[str, str]] = []

    def resources(self) -> dict[str, Callable[[Any, Any], Any]]:
        return {
            ARNS["SerializeImageFunctionArn"]: self.serialize,
            ARNS["ClassifyImageFunctionArn"]: self.classify,
            ARNS["FilterLowConfidenceFunctionArn"]: self.filter,
        }

    def serialize(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls.append("serialize")
        self.photos.append(("serialize", event["s3_key"]))
        if self.transient_failures:
            self.transient_failures -= 1
            raise TaskFailure("Lambda.ServiceException", "Lambda is temporarily unavailable")
        if event["s3_key"].endswith(".txt"):
            raise NotAnImageError(f"s3://{event['s3_bucket']}/{event['s3_key']} is not a PNG or JPEG")
        content_type = "image/jpeg" if event["s3_key"].endswith(".jpg") else "image/png"
        return {"statusCode": 200, "body": {"s3_bucket": event["s3_bucket"], "s3_key": event["s3_key"],
                                            "image_data": "aW1hZ2U=", "content_type": content_type,
                                            "inferences": []}}

    def classify(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls.append("classify")
        self.photos.append(("classify", event["body"]["s3_key"]))
        if self.unavailable_failures:
            self.unavailable_failures -= 1
            raise EndpointUnavailableError("endpoint 'scones' is throttling or unavailable; transient")
        if event["body"]["s3_key"] == "photos/rejected.png":
            raise PhotoRejectedError("the model behind endpoint 'scones' refused the photo")
        inferences = INFERENCES[event["body"]["s3_key"]]
        best = 0 if inferences[0] >= inferences[1] else 1
        return {"statusCode": 200, "body": {**event["body"], "inferences": inferences,
                                            "predicted_class": ("bicycle", "motorcycle")[best],
                                            "confidence": inferences[best]}}

    def filter(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls.append("filter")
        self.photos.append(("filter", event["body"]["s3_key"]))
        return filter_low_confidence.lambda_handler(event, context)
