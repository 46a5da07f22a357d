"""The ``aws`` serving operators against botocore's Stubber: rollback detection, executions run in turn, reuse."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from botocore.stub import Stubber

from include.builders.deploy import endpoint_deployment_config
from include.runtime.aws.serving import AwsEndpoints, AwsExecutions, RunScopedExecutionsOperator
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


EXECUTION_ARN = "arn:aws:states:us-east-1:111122223333:execution:scones-inference"
CHUNK_INPUT = {"photos": {"Bucket": "scones-mlops", "Key": "inference/20260301T1000/t1/c0001/photos.json"},
               "results": {"Bucket": "scones-mlops", "Prefix": "inference/20260301T1000/t1/c0001/results"},
               "max_concurrency": 16, "tolerated_failure_percentage": 5}
MAP_OUTPUT = {"MapRunArn": "arn:aws:states:us-east-1:111122223333:mapRun:scones-inference/ClassifyPhotos:1-2-3",
              "ResultWriterDetails": {"Bucket": "scones-mlops",
                                      "Key": "inference/20260301T1000/t1/c0001/results/1-2-3/manifest.json"}}


def executions_task(names: list[str]) -> RunScopedExecutionsOperator:
    return RunScopedExecutionsOperator(
        task_id="classify_photos", state_machine_arn=STATE_MACHINE, aws_conn_id=None, region_name="us-east-1",
        deferrable=True, waiter_delay=1,
        executions=[{"name": name, "input": CHUNK_INPUT, "photos": 3} for name in names])


def described(name: str, status: str = "SUCCEEDED", **fields) -> dict:
    return {"executionArn": f"{EXECUTION_ARN}:{name}", "stateMachineArn": STATE_MACHINE, "name": name,
            "status": status, "startDate": NOW, **({"stopDate": NOW} if status != "RUNNING" else {}), **fields}


def test_the_aws_executions_capability_is_one_deferrable_task(settings):
    task = AwsExecutions(settings).state_machine_executions(task_id="classify_photos", executions=[])
    assert isinstance(task, RunScopedExecutionsOperator) and task.deferrable
    assert task.execute({"ti": RecordingTaskInstance()}) == []


def does_not_exist(stubber: Stubber, name: str) -> None:
    stubber.add_client_error("describe_execution", service_error_code="ExecutionDoesNotExist",
                             service_message=f"Execution Does Not Exist: '{EXECUTION_ARN}:{name}'",
                             expected_params={"executionArn": f"{EXECUTION_ARN}:{name}"})


def test_execution_that_exists_already_is_reused_not_started_again():
    name = "20260301t1000-c0001"
    task = executions_task([name])
    stubber = stubbed(task, "stepfunctions")
    stubber.add_response("describe_execution", described(name, output=json.dumps(MAP_OUTPUT)),
                         {"executionArn": f"{EXECUTION_ARN}:{name}"})
    result = task.execute({"ti": RecordingTaskInstance()})
    assert result == [{"name": name, "executionArn": f"{EXECUTION_ARN}:{name}", "status": "SUCCEEDED",
                       "output": MAP_OUTPUT, "error": None, "cause": None}]
    stubber.assert_no_pending_responses()


def test_each_execution_defers_to_the_providers_trigger_and_the_task_resumes_with_the_next():
    names = ["20260301t1000-c0001", "20260301t1000-c0002"]
    task = executions_task(names)
    context = {"ti": RecordingTaskInstance()}
    stubber = stubbed(task, "stepfunctions")
    does_not_exist(stubber, names[0])
    stubber.add_response("start_execution", {"executionArn": f"{EXECUTION_ARN}:{names[0]}", "startDate": NOW},
                         {"stateMachineArn": STATE_MACHINE, "name": names[0], "input": json.dumps(CHUNK_INPUT)})
    with pytest.raises(TaskDeferred) as first:
        task.execute(context)
    assert type(first.value.trigger).__name__ == "StepFunctionsExecutionCompleteTrigger"
    assert first.value.trigger.serialize()[1]["execution_arn"] == f"{EXECUTION_ARN}:{names[0]}"
    assert first.value.method_name == "resume"
    stubber.add_response("describe_execution", described(names[0], output=json.dumps(MAP_OUTPUT)),
                         {"executionArn": f"{EXECUTION_ARN}:{names[0]}"})
    does_not_exist(stubber, names[1])
    stubber.add_response("start_execution", {"executionArn": f"{EXECUTION_ARN}:{names[1]}", "startDate": NOW},
                         {"stateMachineArn": STATE_MACHINE, "name": names[1], "input": json.dumps(CHUNK_INPUT)})
    with pytest.raises(TaskDeferred) as second:
        task.resume(context, event={"status": "success", "execution_arn": f"{EXECUTION_ARN}:{names[0]}"})
    assert second.value.trigger.serialize()[1]["execution_arn"] == f"{EXECUTION_ARN}:{names[1]}"
    stubber.add_response("describe_execution", described(names[0], output=json.dumps(MAP_OUTPUT)),
                         {"executionArn": f"{EXECUTION_ARN}:{names[0]}"})
    failed = described(names[1], "FAILED", error="States.ExceedToleratedFailureThreshold")
    stubber.add_response("describe_execution", failed, {"executionArn": f"{EXECUTION_ARN}:{names[1]}"})
    outcomes = task.resume(context, event={"status": "error", "message": "failed",
                                           "execution_arn": f"{EXECUTION_ARN}:{names[1]}"})
    assert [(o["name"], o["status"]) for o in outcomes] == [(names[0], "SUCCEEDED"), (names[1], "FAILED")]
    assert outcomes[1]["error"] == "States.ExceedToleratedFailureThreshold"
    stubber.assert_no_pending_responses()
