"""Planned error answers: a server started with the control file answers its next calls with them, then serves;
an answer for the new model waits for an update and rolls it back."""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from include.runtime.local.model_server_control import deploy_model, describe_endpoint
from include.runtime.local.model_server_faults import (
    FAULTS_VARIABLE,
    GREEN_TARGET,
    FaultPlanError,
    InjectedFaults,
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


def test_an_answer_for_the_new_model_waits_for_an_update_and_leaves_other_calls_to_the_rest(tmp_path):
    control = tmp_path / "faults.json"
    plan_answers(control, [{"status": 500, "code": "ModelError", "target": GREEN_TARGET}, BURST[0]])
    faults = InjectedFaults(control)
    assert faults.next_answer()["code"] == "InternalFailure"
    assert faults.next_answer() is None, "a call outside an update never takes the new model's answer"
    assert faults.next_answer(GREEN_TARGET)["code"] == "ModelError"
    assert faults.next_answer(GREEN_TARGET) is None


def test_an_answer_for_an_unknown_target_is_refused_when_planned(tmp_path):
    with pytest.raises(FaultPlanError, match="target can only be 'green'"):
        plan_answers(tmp_path / "faults.json", [{"status": 500, "code": "ModelError", "target": "blue"}])


def test_the_new_models_planned_error_rolls_its_update_back_and_the_old_model_serves(
        start_server, model_artifact, make_image, monkeypatch, tmp_path):
    control = tmp_path / "faults.json"
    monkeypatch.setenv(FAULTS_VARIABLE, str(control))
    url = start_server()
    deploy_model(url, ENDPOINT, model_artifact, config_name="config-blue")
    plan_answers(control, [{"status": 500, "code": "ModelError", "target": GREEN_TARGET}])
    client = client_without_retries(url)
    assert invoke(client, make_image((255, 0, 0))) == [1.0, 0.0], "the old model, outside an update"
    update: dict = {}
    shifting = {"green_shares": [1.0], "bake_seconds": 20, "max_errors": 1, "max_latency_ms": None}
    deploying = threading.Thread(target=lambda: update.update(deploy_model(
        url, ENDPOINT, model_artifact, config_name="config-green", traffic_shifting=shifting)))
    deploying.start()
    deadline = time.monotonic() + 60
    while "traffic_shifting" not in describe_endpoint(url, ENDPOINT) and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(ClientError) as refused:
        invoke(client, make_image((255, 0, 0)))
    deploying.join(timeout=60)
    assert not deploying.is_alive(), "the alarm ends the bake at once"
    assert refused.value.response["Error"]["Code"] == "ModelError"
    assert update["config_name"] == "config-blue" and "error alarm" in update["failure_reason"]
    assert invoke(client, make_image((255, 0, 0))) == [1.0, 0.0]
    assert [a["target"] for a in served_answers(control)] == [GREEN_TARGET]
