"""Each Lambda's role permits what its handler does, run with the environment the stack gives that function.

The handlers run here against the local S3 endpoint and the SageMaker Runtime stub; every AWS call they
make is recorded and evaluated, with the Lambda runtime's own log writes, against the function's role in
the template (:mod:`deploy.cloudformation.iam_evaluation`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import boto3
import pytest

from deploy.cloudformation.iam_evaluation import Request, RoleEvaluation, evaluate_role
from deploy.cloudformation.stack_model import StackModel
from lambdas.classify_image import app as classify
from lambdas.filter_low_confidence import app as filter_low_confidence
from lambdas.serialize_image import app as serialize
from tests.aws.recorder import RequestRecorder
from tests.lambdas.local_aws import BUCKET, LocalS3, SageMakerStub
from tests.lambdas.photo_samples import png_bytes
from tests.support import iam_report
from tests.support.iam_requests import Account, api_call_requests
from tests.support.stack import deployable_settings, simulated_stack

SETTINGS = deployable_settings({"SCONES_BUCKET": BUCKET, "SCONES_DEPLOY__SERVERLESS": "true"})
PHOTOS = f"{SETTINGS.prefixes.incoming_photos}/2026/01/01/10"
STACK: StackModel = simulated_stack(SETTINGS)


@pytest.fixture
def start_recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], RequestRecorder]]:
    """Once called, records every call the handlers make, on a fresh default boto3 session."""
    caches = (classify._cached_client, serialize._client_for)

    def start() -> RequestRecorder:
        recorder = RequestRecorder()
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
        boto3.setup_default_session()
        recorder.attach(boto3.DEFAULT_SESSION._session)
        for cache in caches:
            cache.cache_clear()
        return recorder

    yield start
    for cache in caches:
        cache.cache_clear()


def run_as_deployed(function: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The function's environment as the stack sets it."""
    for name, value in STACK.properties(function)["Environment"]["Variables"].items():
        monkeypatch.setenv(name, str(value))


def evaluate(function: str, role: str, recorder: RequestRecorder) -> RoleEvaluation:
    account = Account(STACK, SETTINGS.bucket)
    log_stream = (f"arn:aws:logs:{STACK.region}:{STACK.account}:log-group:/aws/lambda/"
                  f"{STACK.physical_name(function)}:log-stream:2026/01/01/[$LATEST]0123")
    requests = [r for call in recorder.requests
                for r in api_call_requests(account, call["service"], call["operation"], call["params"], function)]
    requests += [Request(action, log_stream, f"{function}: the Lambda runtime's logs")
                 for action in ("logs:CreateLogStream", "logs:PutLogEvents")]
    evaluation = iam_report.record(evaluate_role(STACK, role, requests))
    assert evaluation.denied == [], evaluation.denial_report()
    return evaluation


def test_serialize_image_role_permits_reading_incoming_photos(local_s3: LocalS3, start_recording, monkeypatch):
    run_as_deployed("SerializeImageFunction", monkeypatch)
    local_s3.put(f"{PHOTOS}/bike.png", png_bytes())
    recorder = start_recording()
    serialize.lambda_handler({"s3_bucket": BUCKET, "s3_key": f"{PHOTOS}/bike.png"}, None)
    evaluation = evaluate("SerializeImageFunction", "SerializeImageRole", recorder)
    assert {d.request.action for d in evaluation.decisions} == {
        "s3:GetObject", "kms:Decrypt", "logs:CreateLogStream", "logs:PutLogEvents"}


def test_classify_image_role_permits_the_endpoint_and_capture_in_the_lambda(
        local_s3: LocalS3, sagemaker_runtime: SageMakerStub, start_recording, monkeypatch):
    run_as_deployed("ClassifyImageFunction", monkeypatch)
    photo = png_bytes()
    local_s3.put(f"{PHOTOS}/by-reference.png", photo)
    recorder = start_recording()
    inline = {"s3_bucket": BUCKET, "s3_key": f"{PHOTOS}/inline.png", "content_type": "image/png",
              "image_data": base64.b64encode(photo).decode(), "inferences": []}
    classify.lambda_handler(inline, None)
    classify.lambda_handler({**inline, "s3_key": f"{PHOTOS}/by-reference.png", "image_data": ""}, None)
    assert sagemaker_runtime.calls[0]["path"] == f"/endpoints/{SETTINGS.deploy.endpoint_name}/invocations"
    evaluation = evaluate("ClassifyImageFunction", "ClassifyImageRole", recorder)
    actions = {d.request.action for d in evaluation.decisions}
    assert {"sagemaker:InvokeEndpoint", "s3:GetObject", "s3:PutObject", "kms:GenerateDataKey"} <= actions
    captured = [d.request.resource for d in evaluation.decisions if d.request.action == "s3:PutObject"]
    assert captured and all(f"/{SETTINGS.prefixes.capture}/{SETTINGS.deploy.endpoint_name}/" in r for r in captured)


def test_filter_low_confidence_role_needs_only_its_logs(start_recording, monkeypatch):
    run_as_deployed("FilterLowConfidenceFunction", monkeypatch)
    recorder = start_recording()
    body = {"s3_bucket": BUCKET, "s3_key": f"{PHOTOS}/a.png", "inferences": [0.99, 0.01],
            "predicted_class": "bicycle", "confidence": 0.99}
    filter_low_confidence.lambda_handler({"statusCode": 200, "body": body}, None)
    assert recorder.requests == []
    evaluate("FilterLowConfidenceFunction", "FilterLowConfidenceRole", recorder)
