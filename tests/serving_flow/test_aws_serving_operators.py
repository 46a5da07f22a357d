"""The ``aws`` serving operators against botocore's Stubber: rollback detection and execution reuse."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import boto3
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from botocore.stub import Stubber

from include.builders.deploy import endpoint_deployment_config
from include.runtime.aws.serving import AwsEndpoints, RunScopedExecutionOperator
from include.runtime.endpoint_checks import EndpointRollbackError
from tests.serving_flow.support import model_version_record

ACCOUNT_ARN = "arn:aws:sagemaker:us-east-1:111122223333"
STATE_MACHINE = "arn:aws:states:us-east-1:111122223333:stateMachine:scones-inference"
NOW = datetime(2026, 3, 1, 10, tzinfo=UTC)


class RecordingTaskInstance:
    try_number = 1

    def __init__(self) -> None:
        self.pushed: dict = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


def stubbed(operator, service: str) -> Stubber:
    client = boto3.client(service, region_name="us-east-1")
    operator.hook.conn = client
    stubber = Stubber(client)
    stubber.activate()
    return stubber


def endpoint_description(name: str, config_name: str, status: str = "InService") -> dict:
    return {"EndpointName": name, "EndpointArn": f"{ACCOUNT_ARN}:endpoint/{name}",
            "EndpointConfigName": config_name, "EndpointStatus": status, "CreationTime": NOW,
            "LastModifiedTime": NOW}


@pytest.fixture
def deploy_config(settings) -> dict:
    record = model_version_record("s3://scones-mlops/jobs/train/output/model.tar.gz", version=4)
    return endpoint_deployment_config(settings, model_version_record=record, run_key="20260301T1000")


@pytest.fixture
def endpoint_task(settings, deploy_config):
    return AwsEndpoints(settings).endpoint_deployment(task_id="deploy", config=deploy_config)


def test_endpoint_check_fails_when_the_update_rolled_back_to_the_old_config(endpoint_task, deploy_config):
    name = deploy_config["Endpoint"]["EndpointName"]
    stubber = stubbed(endpoint_task, "sagemaker")
    stubber.add_response("describe_endpoint", endpoint_description(name, "scones-config-v3-20260201t1000"),
                         {"EndpointName": name})
    with pytest.raises(EndpointRollbackError, match="rolled back"):
        endpoint_task.execute_complete({}, {"status": "success", "job_name": name})


def test_endpoint_check_fails_when_the_endpoint_ended_failed(endpoint_task, deploy_config):
    endpoint = deploy_config["Endpoint"]
    stubber = stubbed(endpoint_task, "sagemaker")
    failed = {**endpoint_description(endpoint["EndpointName"], endpoint["EndpointConfigName"], "Failed"),
              "FailureReason": "model container failed the ping health check"}
    stubber.add_response("describe_endpoint", failed, {"EndpointName": endpoint["EndpointName"]})
    with pytest.raises(EndpointRollbackError, match="ping health check"):
        endpoint_task.execute_complete({}, {"status": "error", "message": "failed", "job_name": "x"})


def test_endpoint_check_passes_when_the_endpoint_serves_the_new_config(endpoint_task, deploy_config):
    endpoint = deploy_config["Endpoint"]
    stubber = stubbed(endpoint_task, "sagemaker")
    stubber.add_response("describe_endpoint",
                         endpoint_description(endpoint["EndpointName"], endpoint["EndpointConfigName"]),
                         {"EndpointName": endpoint["EndpointName"]})
    stubber.add_response("describe_endpoint_config", {
        "EndpointConfigName": endpoint["EndpointConfigName"], "CreationTime": NOW,
        "EndpointConfigArn": f"{ACCOUNT_ARN}:endpoint-config/c",
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m"}],
    }, {"EndpointConfigName": endpoint["EndpointConfigName"]})
    result = endpoint_task.execute_complete({}, {"status": "success", "job_name": endpoint["EndpointName"]})
    assert result["Endpoint"]["EndpointConfigName"] == endpoint["EndpointConfigName"]


def test_existing_endpoint_is_updated_blue_green_without_tags(endpoint_task, deploy_config):
    endpoint = deploy_config["Endpoint"]
    stubber = stubbed(endpoint_task, "sagemaker")
    missing = {"service_error_code": "ValidationException", "service_message": "Could not find it."}
    stubber.add_response("describe_endpoint", endpoint_description(endpoint["EndpointName"], "older-config"),
                         {"EndpointName": endpoint["EndpointName"]})
    stubber.add_client_error("describe_model", **missing)
    stubber.add_client_error("describe_endpoint_config", **missing)
    stubber.add_response("create_model", {"ModelArn": f"{ACCOUNT_ARN}:model/m"}, None)
    stubber.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ACCOUNT_ARN}:endpoint-config/c"}, None)
    update = {key: value for key, value in endpoint.items() if key != "Tags"}
    stubber.add_response("update_endpoint", {"EndpointArn": f"{ACCOUNT_ARN}:endpoint/e",
                                             "ResponseMetadata": {"HTTPStatusCode": 200}}, update)
    with pytest.raises(TaskDeferred):
        endpoint_task.execute({"ti": RecordingTaskInstance()})
    stubber.assert_no_pending_responses()


def test_execution_that_exists_already_is_reused_not_started_again():
    name = "20260301t1000-courier-7-0123456789abcdef"
    arn = f"arn:aws:states:us-east-1:111122223333:execution:scones-inference:{name}"
    task = RunScopedExecutionOperator(task_id="classify_photo", state_machine_arn=STATE_MACHINE, name=name,
                                      input={"s3_bucket": "scones-mlops", "s3_key": "incoming/photos/p.png"},
                                      aws_conn_id=None, region_name="us-east-1", deferrable=True, waiter_delay=1)
    stubber = stubbed(task, "stepfunctions")
    stubber.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists",
                             service_message=f"Execution Already Exists: '{arn}'")
    output = {"vehicle": "bicycle", "assignment": "nearby", "confidence": 0.97}
    description = {"executionArn": arn, "stateMachineArn": STATE_MACHINE, "name": name, "status": "SUCCEEDED",
                   "startDate": NOW, "stopDate": NOW, "output": json.dumps(output)}
    stubber.add_response("describe_execution", description, {"executionArn": arn})
    stubber.add_response("describe_execution", description, {"executionArn": arn})
    result = task.execute({"ti": RecordingTaskInstance()})
    assert result == {"name": name, "executionArn": arn, "status": "SUCCEEDED", "output": output,
                      "error": None, "cause": None}


def test_failed_execution_is_an_outcome_not_a_task_failure():
    name = "20260301t1000-notes-0123456789abcdef"
    arn = f"arn:aws:states:us-east-1:111122223333:execution:scones-inference:{name}"
    task = RunScopedExecutionOperator(task_id="classify_photo", state_machine_arn=STATE_MACHINE, name=name,
                                      input={}, aws_conn_id=None, region_name="us-east-1", waiter_delay=1)
    stubber = stubbed(task, "stepfunctions")
    stubber.add_response("describe_execution", {
        "executionArn": arn, "stateMachineArn": STATE_MACHINE, "name": name, "status": "FAILED", "startDate": NOW,
        "error": "NotAnImageError", "cause": '{"errorMessage": "not a PNG or JPEG"}'}, {"executionArn": arn})
    result = task.execute_complete({"ti": SimpleNamespace()}, {"status": "error", "execution_arn": arn})
    assert (result["status"], result["error"], result["output"]) == ("FAILED", "NotAnImageError", None)
