"""scones_deploy in ``aws`` mode: model, endpoint config with Data Capture, endpoint, and a rolled-back update.

Two manual runs share one emulated account. The first deploys approved version 1: it creates
the model, the endpoint config and the endpoint, defers until the provider's trigger sees the
endpoint in service, and verifies it serves the new config. The second deploys version 2 as a
blue/green update that SageMaker rolls back, so the endpoint still serves version 1's config
and the deploy task fails with EndpointRollbackError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pendulum
import pytest

from include.runtime.aws.serving import SageMakerServedModels
from tests.aws import deploy_scenario
from tests.aws.moto_harness import AwsHarness, DagRunResult, MotoServer
from tests.aws.train_scenario import xcom_return_value
from tests.support.botocore_contract import assert_valid_request

pytestmark = pytest.mark.e2e

BUCKET = "scones-deploy-e2e"
ENDPOINT = "scones-vehicle-classifier"
FIRST_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
FIRST_KEY = "20260101T0000"
UPDATE_DATE = pendulum.datetime(2026, 1, 2, tz="UTC")
UPDATE_KEY = "20260102T0000"
FIRST_MODEL = f"scones-model-v1-{FIRST_KEY.lower()}"
FIRST_CONFIG = f"scones-config-v1-{FIRST_KEY.lower()}"
UPDATE_MODEL = f"scones-model-v2-{UPDATE_KEY.lower()}"
UPDATE_CONFIG = f"scones-config-v2-{UPDATE_KEY.lower()}"
TRAINED_KEYS = ("train-manual-2025-12-30t00-00-00-00-00", "train-manual-2025-12-31t00-00-00-00-00")
SAMPLING_PERCENTAGE = 40
ALARMS = ["scones-e2e-5xx", "scones-e2e-latency"]
TASKS = ("choose_model_version", "build_endpoint_config", "deploy", "record_endpoint")
SAGEMAKER_TRIGGER = "airflow.providers.amazon.aws.triggers.sagemaker.SageMakerTrigger"


@dataclass
class DeployRuns:
    first: DagRunResult
    update: DagRunResult
    moto: MotoServer


@pytest.fixture(scope="module")
def deploy_runs(aws_harness: AwsHarness) -> DeployRuns:
    env = {"SCONES_BUCKET": BUCKET, "SCONES_DEPLOY__CAPTURE_SAMPLING_PERCENTAGE": str(SAMPLING_PERCENTAGE),
           "SCONES_DEPLOY__ROLLBACK_ALARMS": json.dumps(ALARMS)}

    def approved_version(run_key: str):
        def register(moto: MotoServer) -> None:
            deploy_scenario.register_approved_model(moto.client("sagemaker"), bucket=BUCKET, run_key=run_key)
        return register

    first = aws_harness.run_dag("scones_deploy", FIRST_DATE, env, setup=approved_version(TRAINED_KEYS[0]),
                                scenarios=["tests.aws.deploy_scenario:install"], run_type="manual")
    update = aws_harness.run_dag("scones_deploy", UPDATE_DATE, env, setup=approved_version(TRAINED_KEYS[1]),
                                 scenarios=["tests.aws.deploy_scenario:install_rolled_back_update"],
                                 run_type="manual")
    return DeployRuns(first, update, aws_harness.moto)


def only_request(run: DagRunResult, operation: str) -> dict[str, Any]:
    calls = run.calls("sagemaker", operation)
    assert len(calls) == 1, f"expected one {operation}, got {len(calls)}"
    return calls[0].params


def test_first_deployment_succeeds(deploy_runs: DeployRuns) -> None:
    run = deploy_runs.first
    assert run.task_states == dict.fromkeys(TASKS, "success"), run.log_tail()
    assert run.dag_run_state == "success", run.log_tail()


def test_deployment_requests_are_valid_for_botocore(deploy_runs: DeployRuns) -> None:
    run = deploy_runs.first
    for operation in ("CreateModel", "CreateEndpointConfig", "CreateEndpoint"):
        assert_valid_request("sagemaker", operation, only_request(run, operation))
    assert run.calls("sagemaker", "UpdateEndpoint") == []


def test_names_derive_from_model_version_and_run_key(deploy_runs: DeployRuns) -> None:
    run = deploy_runs.first
    model = only_request(run, "CreateModel")
    config = only_request(run, "CreateEndpointConfig")
    endpoint = only_request(run, "CreateEndpoint")

    assert model["ModelName"] == FIRST_MODEL
    assert config["EndpointConfigName"] == FIRST_CONFIG
    assert config["ProductionVariants"][0]["ModelName"] == FIRST_MODEL
    assert (endpoint["EndpointName"], endpoint["EndpointConfigName"]) == (ENDPOINT, FIRST_CONFIG)
    for request in (model, config, endpoint):
        assert {"Key": "scones:run-key", "Value": FIRST_KEY} in request["Tags"]


def test_model_and_endpoint_config_are_tagged_with_the_version_they_serve(deploy_runs: DeployRuns) -> None:
    version_1 = xcom_return_value(deploy_runs.first.log_path, "choose_model_version")["ModelPackageArn"]
    for operation in ("CreateModel", "CreateEndpointConfig"):
        tags = only_request(deploy_runs.first, operation)["Tags"]
        assert {"Key": "scones:model-package-arn", "Value": version_1} in tags, operation


def test_model_serves_the_registered_artifact(deploy_runs: DeployRuns) -> None:
    container = only_request(deploy_runs.first, "CreateModel")["PrimaryContainer"]
    assert container["Image"] == deploy_scenario.INFERENCE_IMAGE
    assert container["ModelDataUrl"] == deploy_scenario.model_data_url(BUCKET, TRAINED_KEYS[0])
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_REGION"] == "us-east-1"


def test_endpoint_config_captures_inputs_and_outputs(deploy_runs: DeployRuns) -> None:
    config = only_request(deploy_runs.first, "CreateEndpointConfig")
    capture = config["DataCaptureConfig"]

    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == SAMPLING_PERCENTAGE
    assert capture["DestinationS3Uri"] == f"s3://{BUCKET}/datacapture"
    assert sorted(o["CaptureMode"] for o in capture["CaptureOptions"]) == ["Input", "Output"]
    assert capture["CaptureContentTypeHeader"] == {"JsonContentTypes": ["application/json"]}
    variant = config["ProductionVariants"][0]
    assert (variant["VariantName"], variant["InstanceType"], variant["InitialInstanceCount"]) == (
        "AllTraffic", "ml.m5.large", 1)


def test_endpoint_creation_deferred_to_the_providers_trigger(deploy_runs: DeployRuns) -> None:
    run = deploy_runs.first
    assert run.triggers == [{"task_id": "deploy", "trigger": SAGEMAKER_TRIGGER,
                             "event": {"status": "success", "job_name": ENDPOINT}}], run.log_tail()
    polls = run.calls("sagemaker", "DescribeEndpoint", transport="aiobotocore")
    assert len(polls) >= 2, "the trigger should poll past the endpoint's Creating status"


def test_verified_endpoint_is_recorded(deploy_runs: DeployRuns) -> None:
    summary = xcom_return_value(deploy_runs.first.log_path, "record_endpoint")
    assert summary["endpoint_name"] == ENDPOINT
    assert summary["endpoint_config_name"] == FIRST_CONFIG
    assert summary["endpoint_status"] == "InService"
    assert summary["model_version"] == 1
    assert summary["capture_uri"] == f"s3://{BUCKET}/datacapture/{ENDPOINT}/AllTraffic"
    endpoint = deploy_runs.moto.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointConfigName"] == FIRST_CONFIG


def test_second_version_is_deployed_as_a_blue_green_update(deploy_runs: DeployRuns) -> None:
    run = deploy_runs.update
    update = only_request(run, "UpdateEndpoint")

    assert_valid_request("sagemaker", "UpdateEndpoint", update)
    assert run.calls("sagemaker", "CreateEndpoint") == []
    assert only_request(run, "CreateModel")["ModelName"] == UPDATE_MODEL
    assert only_request(run, "CreateEndpointConfig")["EndpointConfigName"] == UPDATE_CONFIG
    assert (update["EndpointName"], update["EndpointConfigName"]) == (ENDPOINT, UPDATE_CONFIG)
    assert "Tags" not in update
    assert update["DeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300},
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": 2100,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in ALARMS]},
    }


def test_rolled_back_update_fails_the_deploy_task(deploy_runs: DeployRuns) -> None:
    run = deploy_runs.update
    assert run.task_states == {"choose_model_version": "success", "build_endpoint_config": "success",
                               "deploy": "failed", "record_endpoint": "upstream_failed"}, run.log_tail()
    assert run.dag_run_state == "failed"
    log = run.log_path.read_text(errors="replace")
    assert "EndpointRollbackError" in log
    assert f"endpoint {ENDPOINT} serves endpoint config {FIRST_CONFIG}, not {UPDATE_CONFIG}" in log


def test_rolled_back_update_was_waited_for_by_the_trigger(deploy_runs: DeployRuns) -> None:
    run = deploy_runs.update
    assert [t["task_id"] for t in run.triggers] == ["deploy"], run.log_tail()
    assert run.triggers[0]["event"] == {"status": "success", "job_name": ENDPOINT}
    assert len(run.calls("sagemaker", "DescribeEndpoint", transport="aiobotocore")) >= 2


def test_after_the_rollback_the_endpoint_reports_the_version_still_serving(deploy_runs: DeployRuns) -> None:
    """What the monitor's baseline and the gate's champion are read from: version 1, not the newer version 2."""
    version_1 = xcom_return_value(deploy_runs.first.log_path, "choose_model_version")["ModelPackageArn"]
    version_2 = xcom_return_value(deploy_runs.update.log_path, "choose_model_version")["ModelPackageArn"]
    served = SageMakerServedModels(None, client=deploy_runs.moto.client("sagemaker")).served_model(ENDPOINT)
    assert (served.endpoint_config_name, served.model_package_arn) == (FIRST_CONFIG, version_1)
    assert version_2 != version_1
