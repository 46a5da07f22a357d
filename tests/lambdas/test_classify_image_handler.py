"""classify_image: invokes the endpoint with the photo, adds the class probabilities, captures traffic."""

from __future__ import annotations

import base64
import json
import re

import boto3
import pytest

from lambdas.classify_image import app
from tests.lambdas.local_aws import BUCKET, LocalS3, SageMakerStub
from tests.lambdas.photo_samples import jpeg_bytes, png_bytes, wrapped


def serialized(photo: bytes, key: str = "photos/bike.png", content_type: str = "image/png") -> dict:
    return wrapped({"s3_bucket": BUCKET, "s3_key": key, "image_data": base64.b64encode(photo).decode(),
                    "content_type": content_type, "inferences": []})


def test_endpoint_env_var_is_honoured_by_boto3(sagemaker_runtime: SageMakerStub) -> None:
    assert boto3.client("sagemaker-runtime").meta.endpoint_url == sagemaker_runtime.url


def test_inline_photo_is_classified(sagemaker_runtime: SageMakerStub) -> None:
    event = serialized(png_bytes())
    result = app.lambda_handler(event, None)
    assert result == {"statusCode": 200, "body": {**event["body"], "inferences": [0.97, 0.03],
                                                  "predicted_class": "bicycle", "confidence": 0.97}}
    (call,) = sagemaker_runtime.calls
    assert call["path"] == "/endpoints/scones-test-endpoint/invocations"
    assert (call["content_type"], call["size"]) == ("image/png", len(png_bytes()))


def test_unwrapped_body_is_accepted(sagemaker_runtime: SageMakerStub) -> None:
    sagemaker_runtime.body = b"[[0.1, 0.9]]"
    body = serialized(jpeg_bytes(), "photos/moto.jpg", "image/jpeg")["body"]
    result = app.lambda_handler(body, None)["body"]
    assert (result["predicted_class"], result["confidence"]) == ("motorcycle", 0.9)


def test_photo_without_inline_data_is_read_from_s3(local_s3: LocalS3, sagemaker_runtime: SageMakerStub) -> None:
    photo = jpeg_bytes()
    local_s3.put("photos/by-reference.jpg", photo)
    event = wrapped({"s3_bucket": BUCKET, "s3_key": "photos/by-reference.jpg", "image_data": "", "inferences": []})
    app.lambda_handler(event, None)
    assert sagemaker_runtime.calls[0]["size"] == len(photo)
    assert sagemaker_runtime.calls[0]["content_type"] == "image/jpeg"


def test_endpoint_error_is_an_endpoint_invocation_error(sagemaker_runtime: SageMakerStub) -> None:
    sagemaker_runtime.status, sagemaker_runtime.error_type = 424, "ModelError"
    sagemaker_runtime.body = json.dumps({"message": "Received server error (500) from primary"}).encode()
    with pytest.raises(app.EndpointInvocationError, match=r"scones-test-endpoint.*ModelError.*server error \(500\)"):
        app.lambda_handler(serialized(png_bytes()), None)


def test_unreachable_endpoint_is_unavailable(monkeypatch) -> None:
    monkeypatch.setenv("ENDPOINT_NAME", "nowhere")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(app.EndpointUnavailableError, match=r"nowhere.*could not be reached"):
        app.lambda_handler(serialized(png_bytes()), None)


def error_answer(stub: SageMakerStub, status: int, error_type: str, **fields) -> None:
    stub.status, stub.error_type = status, error_type
    stub.body = json.dumps({"message": f"{error_type} from the stub", **fields}).encode()


@pytest.mark.parametrize(("status", "error_type"), [
    (429, "ThrottlingException"), (503, "ServiceUnavailable"), (500, "InternalFailure"),
])
def test_throttling_and_server_errors_are_unavailable_not_permanent(
    sagemaker_runtime: SageMakerStub, monkeypatch, status: int, error_type: str
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    error_answer(sagemaker_runtime, status, error_type)
    with pytest.raises(app.EndpointUnavailableError, match=rf"{error_type}.*transient"):
        app.lambda_handler(serialized(png_bytes()), None)


def test_model_failing_with_a_5xx_is_unavailable(sagemaker_runtime: SageMakerStub) -> None:
    error_answer(sagemaker_runtime, 424, "ModelError", OriginalStatusCode=500)
    with pytest.raises(app.EndpointUnavailableError):
        app.lambda_handler(serialized(png_bytes()), None)


def test_photo_the_model_refuses_is_rejected(sagemaker_runtime: SageMakerStub) -> None:
    error_answer(sagemaker_runtime, 424, "ModelError", OriginalStatusCode=400)
    with pytest.raises(app.PhotoRejectedError, match="refused the photo"):
        app.lambda_handler(serialized(png_bytes()), None)


def test_unknown_endpoint_is_a_permanent_invocation_error(sagemaker_runtime: SageMakerStub) -> None:
    error_answer(sagemaker_runtime, 400, "ValidationError")
    with pytest.raises(app.EndpointInvocationError) as raised:
        app.lambda_handler(serialized(png_bytes()), None)
    assert type(raised.value) is app.EndpointInvocationError


def test_transient_and_permanent_errors_have_distinct_names() -> None:
    names = {app.EndpointUnavailableError.__name__, app.PhotoRejectedError.__name__,
             app.EndpointInvocationError.__name__, app.InvalidProbabilitiesError.__name__}
    assert len(names) == 4


@pytest.mark.parametrize("answer", [b"[5.0, -4.0]", b"[0.7, 0.7]", b"[NaN, 0.5]", b"[1.2, -0.2]", b"[0.4, 0.5]"])
def test_numbers_that_are_not_probabilities_are_refused(sagemaker_runtime: SageMakerStub, answer: bytes) -> None:
    sagemaker_runtime.body = answer
    with pytest.raises(app.InvalidProbabilitiesError, match="not class probabilities"):
        app.lambda_handler(serialized(png_bytes()), None)


def test_probabilities_summing_to_one_within_the_tolerance_pass(sagemaker_runtime: SageMakerStub) -> None:
    sagemaker_runtime.body = b"[0.9995, 0.0]"
    assert app.lambda_handler(serialized(png_bytes()), None)["body"]["confidence"] == 0.9995


@pytest.mark.parametrize("answer", [b"not json", b"[0.5]", b'{"bicycle": 0.5}', b'[0.5, "x"]'])
def test_unexpected_endpoint_answer_is_malformed(sagemaker_runtime: SageMakerStub, answer: bytes) -> None:
    sagemaker_runtime.body = answer
    with pytest.raises(app.MalformedEndpointResponseError, match="p_bicycle, p_motorcycle"):
        app.lambda_handler(serialized(png_bytes()), None)


@pytest.mark.parametrize("event", [{}, wrapped({"s3_key": "k"}), wrapped({"s3_bucket": BUCKET, "s3_key": ""}),
                                   wrapped({"s3_bucket": BUCKET, "s3_key": "k", "image_data": 7})])
def test_event_without_photo_location_is_malformed(sagemaker_runtime: SageMakerStub, event) -> None:
    with pytest.raises(app.MalformedEventError):
        app.lambda_handler(event, None)


def test_invalid_base64_is_malformed(sagemaker_runtime: SageMakerStub) -> None:
    event = wrapped({"s3_bucket": BUCKET, "s3_key": "k.png", "image_data": "***", "inferences": []})
    with pytest.raises(app.MalformedEventError, match="base64"):
        app.lambda_handler(event, None)


def test_missing_endpoint_name_is_a_configuration_error(monkeypatch) -> None:
    with pytest.raises(app.ConfigurationError, match="ENDPOINT_NAME"):
        app.lambda_handler(serialized(png_bytes()), None)


def test_capture_writes_one_sagemaker_record_per_invocation(
    local_s3: LocalS3, sagemaker_runtime: SageMakerStub, monkeypatch
) -> None:
    monkeypatch.setenv("CAPTURE_S3_URI", f"s3://{BUCKET}/datacapture/scones-test-endpoint/AllTraffic")
    photo = png_bytes()
    app.lambda_handler(serialized(photo), None)
    (item,) = local_s3.client().list_objects_v2(Bucket=BUCKET, Prefix="datacapture/")["Contents"]
    assert re.fullmatch(
        r"datacapture/scones-test-endpoint/AllTraffic/\d{4}/\d{2}/\d{2}/\d{2}/\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl",
        item["Key"],
    )
    lines = local_s3.client().get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode().splitlines()
    record = json.loads(lines[0])
    assert len(lines) == 1
    assert record["captureData"] == {
        "endpointInput": {"observedContentType": "image/png", "mode": "INPUT",
                          "data": base64.b64encode(photo).decode(), "encoding": "BASE64"},
        "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                           "data": "[0.97, 0.03]", "encoding": "JSON"},
    }
    assert set(record["eventMetadata"]) == {"eventId", "inferenceTime"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", record["eventMetadata"]["inferenceTime"])
    assert record["eventVersion"] == "0"


def test_without_capture_setting_nothing_is_written(local_s3: LocalS3, sagemaker_runtime: SageMakerStub) -> None:
    app.lambda_handler(serialized(png_bytes()), None)
    assert "Contents" not in local_s3.client().list_objects_v2(Bucket=BUCKET)
