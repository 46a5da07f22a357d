"""Classify a serialized vehicle photo with the SageMaker endpoint.

Event: the serialize step's output ``{"statusCode": 200, "body": {...}}`` or its body alone, with
``s3_bucket``, ``s3_key`` and ``image_data`` (base64; ``""`` means "read the photo from S3").
Output: the same wrapper and body plus ``"inferences": [p_bicycle, p_motorcycle]``,
``"predicted_class"`` and ``"confidence"`` (the larger probability).

Errors are named for what the state machine should do with them: :class:`EndpointUnavailableError` for
throttling, 5xx answers, a model container failing or the connection failing (transient: the state
machine retries it with backoff), :class:`PhotoRejectedError` when the model refuses the photo (a 4xx
from its handler: retrying cannot help), :class:`EndpointInvocationError` for any other refusal (an
unknown endpoint, missing permissions), and :class:`InvalidProbabilitiesError` when the answer is not
two probabilities (finite, each in [0, 1], summing to 1 within 1e-3).

Environment: ``ENDPOINT_NAME`` (required). When ``CAPTURE_S3_URI`` is set (e.g.
``s3://bucket/datacapture/ENDPOINT/AllTraffic``), each invocation is also written there as one
SageMaker Data Capture JSONL object, for serverless endpoints, where SageMaker captures nothing.
Clients are created lazily on first use and reused while ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` are unchanged, so the local runtime (and tests) may point
the same code at local endpoints after import.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

CLASS_NAMES = ("bicycle", "motorcycle")
PROBABILITY_SUM_TOLERANCE = 1e-3
THROTTLING_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "ModelNotReadyException", "ServiceUnavailable", "InternalFailure",
})


class MalformedEventError(ValueError):
    """The event lacks the photo or its S3 location."""


class ConfigurationError(ValueError):
    """A required environment variable is missing or invalid."""


class EndpointInvocationError(RuntimeError):
    """The SageMaker endpoint refused the call (unknown endpoint, permissions, validation): not retried."""


class EndpointUnavailableError(EndpointInvocationError):
    """Throttling, a 5xx, a failing model container or a broken connection: transient, retried."""


class PhotoRejectedError(EndpointInvocationError):
    """The model's handler refused this photo (a 4xx from the container): retrying cannot help."""


class MalformedEndpointResponseError(ValueError):
    """The endpoint answered with something other than two class probabilities."""


class InvalidProbabilitiesError(MalformedEndpointResponseError):
    """Two numbers came back, but not probabilities: non-finite, outside [0, 1] or not summing to 1."""


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = event_body(event)
    endpoint_name = os.environ.get("ENDPOINT_NAME", "")
    if not endpoint_name:
        raise ConfigurationError("ENDPOINT_NAME is not set: set it to the SageMaker endpoint's name")
    photo = photo_bytes(body)
    content_type = body.get("content_type") or sniff_content_type(photo)
    raw_output = invoke_endpoint(endpoint_name, content_type, photo)
    inferences = parse_probabilities(raw_output, endpoint_name)
    capture_uri = os.environ.get("CAPTURE_S3_URI", "")
    if capture_uri:
        write_capture_record(capture_uri, content_type, photo, raw_output, datetime.now(UTC))
    best = max(range(len(CLASS_NAMES)), key=lambda index: inferences[index])
    result = {**body, "inferences": inferences, "predicted_class": CLASS_NAMES[best],
              "confidence": inferences[best]}
    return {"statusCode": 200, "body": result}


def event_body(event: Any) -> dict[str, Any]:
    """The step's body, unwrapped from ``{"statusCode", "body"}`` when present."""
    body = event.get("body", event) if isinstance(event, dict) else None
    if not isinstance(body, dict):
        raise MalformedEventError(
            f"event must be a JSON object (or a {{'body': ...}} wrapper), got {event!r:.200}"
        )
    for field in ("s3_bucket", "s3_key"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise MalformedEventError(
                f"event body needs a non-empty string {field!r}, got keys {sorted(body)}"
            )
    if not isinstance(body.get("image_data", ""), str):
        raise MalformedEventError("event body's image_data must be a base64 string or empty")
    return body


def photo_bytes(body: dict[str, Any]) -> bytes:
    """The photo, from inline base64 or else from S3."""
    if body.get("image_data"):
        try:
            return base64.b64decode(body["image_data"], validate=True)
        except binascii.Error:
            raise MalformedEventError(
                f"image_data for s3://{body['s3_bucket']}/{body['s3_key']} is not valid base64"
            ) from None
    client = _client("s3", "AWS_ENDPOINT_URL_S3")
    try:
        return client.get_object(Bucket=body["s3_bucket"], Key=body["s3_key"])["Body"].read()
    except client.exceptions.NoSuchKey:
        raise MalformedEventError(
            f"no inline image_data and no photo at s3://{body['s3_bucket']}/{body['s3_key']}"
        ) from None


def sniff_content_type(photo: bytes) -> str:
    if photo.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if photo.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    raise MalformedEventError("the photo is neither PNG nor JPEG: run it through serialize_image first")


def invoke_endpoint(endpoint_name: str, content_type: str, photo: bytes) -> str:
    """The endpoint's raw response body."""
    client = _client("sagemaker-runtime", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")
    try:
        response = client.invoke_endpoint(
            EndpointName=endpoint_name, ContentType=content_type, Accept="application/json", Body=photo
        )
        return response["Body"].read().decode("utf-8")
    except ClientError as exc:
        raise invocation_error(endpoint_name, exc) from exc
    except (BotoConnectionError, HTTPClientError) as exc:
        raise EndpointUnavailableError(
            f"endpoint {endpoint_name!r} could not be reached ({exc}); transient, retried by the state machine"
        ) from exc
    except BotoCoreError as exc:
        raise EndpointInvocationError(f"endpoint {endpoint_name!r} failed: {exc}") from exc


def invocation_error(endpoint_name: str, error: ClientError) -> EndpointInvocationError:
    """The named error for a SageMaker Runtime error response."""
    response = error.response
    code = response.get("Error", {}).get("Code", "")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code == "ModelError":
        original = response.get("OriginalStatusCode")
        if isinstance(original, int) and 400 <= original < 500:
            return PhotoRejectedError(f"the model behind endpoint {endpoint_name!r} refused the photo: {error}")
        return EndpointUnavailableError(
            f"the model behind endpoint {endpoint_name!r} failed ({error}); transient, retried by the state machine"
        )
    if code in THROTTLING_CODES or status == 429 or status >= 500:
        return EndpointUnavailableError(
            f"endpoint {endpoint_name!r} is throttling or unavailable ({error}); "
            "transient, retried by the state machine"
        )
    return EndpointInvocationError(f"endpoint {endpoint_name!r} failed: {error}")


def parse_probabilities(raw_output: str, endpoint_name: str) -> list[float]:
    """``[p_bicycle, p_motorcycle]`` from the endpoint's JSON (a list, or a one-row list of lists)."""
    try:
        values = json.loads(raw_output)
    except ValueError:
        values = None
    if isinstance(values, list) and len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    well_formed = isinstance(values, list) and len(values) == len(CLASS_NAMES)
    if not well_formed or not all(map(_is_number, values)):
        raise MalformedEndpointResponseError(
            f"endpoint {endpoint_name!r} returned {raw_output[:200]!r}; "
            "expected JSON [p_bicycle, p_motorcycle]"
        )
    problem = probability_problem(values)
    if problem:
        raise InvalidProbabilitiesError(
            f"endpoint {endpoint_name!r} returned {raw_output[:200]!r}, which are not class probabilities: "
            f"{problem}; check the model's output_fn (softmax)"
        )
    return [float(v) for v in values]


def probability_problem(values: list[float]) -> str | None:
    """Why ``values`` are not class probabilities, or None when they are."""
    if not all(math.isfinite(v) for v in values):
        return "not all finite"
    if not all(0.0 <= v <= 1.0 for v in values):
        return "not all in [0, 1]"
    if abs(math.fsum(values) - 1.0) > PROBABILITY_SUM_TOLERANCE:
        return f"they sum to {math.fsum(values):.6g}, not 1 (tolerance {PROBABILITY_SUM_TOLERANCE:g})"
    return None


def capture_record(
    content_type: str, photo: bytes, raw_output: str, inference_time: datetime
) -> dict[str, Any]:
    """One SageMaker Data Capture record."""
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": base64.b64encode(photo).decode("ascii"),
                "encoding": "BASE64",
            },
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": raw_output,
                "encoding": "JSON",
            },
        },
        "eventMetadata": {
            "eventId": str(uuid.uuid4()),
            "inferenceTime": inference_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "eventVersion": "0",
    }


def capture_key(prefix: str, inference_time: datetime) -> str:
    """``prefix/yyyy/mm/dd/hh/mm-ss-mmm-<uuid>.jsonl``, SageMaker's capture layout."""
    millis = inference_time.microsecond // 1000
    name = f"{inference_time:%M-%S}-{millis:03d}-{uuid.uuid4()}.jsonl"
    return "/".join(part for part in (prefix.strip("/"), f"{inference_time:%Y/%m/%d/%H}", name) if part)


def write_capture_record(
    capture_uri: str, content_type: str, photo: bytes, raw_output: str, inference_time: datetime
) -> str:
    """Write the invocation under ``capture_uri``; returns the object's URI."""
    if not capture_uri.startswith("s3://") or not capture_uri[5:].split("/", 1)[0]:
        raise ConfigurationError(f"CAPTURE_S3_URI={capture_uri!r} is not an s3://bucket/prefix URI")
    bucket, _, prefix = capture_uri[5:].partition("/")
    key = capture_key(prefix, inference_time)
    record = capture_record(content_type, photo, raw_output, inference_time)
    _client("s3", "AWS_ENDPOINT_URL_S3").put_object(
        Bucket=bucket, Key=key, Body=(json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8"),
        ContentType="application/jsonl",
    )
    return f"s3://{bucket}/{key}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _client(service: str, endpoint_variable: str) -> Any:
    return _cached_client(service, os.environ.get(endpoint_variable, ""))


@functools.lru_cache(maxsize=8)
def _cached_client(service: str, endpoint_url_setting: str) -> Any:
    return boto3.client(service)
