"""Planned error answers: a server started with the control file answers its next calls with them, then serves."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from include.runtime.local.model_server_control import deploy_model
from include.runtime.local.model_server_faults import (
    FAULTS_VARIABLE,
    FaultPlanError,
    plan_answers,
    served_answers,
)

ENDPOINT = "scones-endpoint"
BURST = [{"status": 500, "code": "InternalFailure"}, {"status": 503, "code": "ServiceUnavailable"},
         {"status": 400, "code": "ThrottlingException"}]


def invoke(client, image: bytes) -> list[float]:
    response = client.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/png", Body=image)
    return json.loads(response["Body"].read())


def client_without_retries(url: str):
    return boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def test_planned_answers_come_in_order_then_the_model_answers(start_server, model_artifact, make_image,
                                                              monkeypatch, tmp_path):
    control = tmp_path / "faults.json"
    monkeypatch.setenv(FAULTS_VARIABLE, str(control))
    url = start_server()
    deploy_model(url, ENDPOINT, model_artifact)
    plan_answers(control, BURST)
    client = client_without_retries(url)   # every planned answer reaches the caller
    seen = []
    for _ in BURST:
        with pytest.raises(ClientError) as refused:
            invoke(client, make_image((255, 0, 0)))
        seen.append((refused.value.response["ResponseMetadata"]["HTTPStatusCode"],
                     refused.value.response["Error"]["Code"]))
    assert seen == [(500, "InternalFailure"), (503, "ServiceUnavailable"), (400, "ThrottlingException")]
    assert invoke(client, make_image((255, 0, 0))) == [1.0, 0.0]
    assert [(a["status"], a["code"]) for a in served_answers(control)] == seen


def test_a_server_started_without_the_variable_ignores_a_control_file(start_server, model_artifact, make_image,
                                                                     make_runtime_client, monkeypatch, tmp_path):
    monkeypatch.delenv(FAULTS_VARIABLE, raising=False)
    url = start_server()
    deploy_model(url, ENDPOINT, model_artifact)
    control = tmp_path / "faults.json"
    plan_answers(control, BURST)
    assert invoke(make_runtime_client(url), make_image((255, 0, 0))) == [1.0, 0.0]
    assert served_answers(control) == []


def test_an_answer_that_is_not_an_error_is_refused_when_planned(tmp_path):
    with pytest.raises(FaultPlanError, match="HTTP error status"):
        plan_answers(tmp_path / "faults.json", [{"status": 200, "code": "OK"}])
