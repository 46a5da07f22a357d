"""Blue/green updates of an autoscaled endpoint on AWS: the running instance count is kept, and the variant's
scalable target is taken off before an instance type change and put back afterwards, rolled back or not.

SageMaker and Application Auto Scaling are played by small fakes that keep the state the operator reads and
record every request; each request is validated against botocore's model, and the MWAA role's policy in the
template must allow every one of them (with what Application Auto Scaling checks on the caller's behalf).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred
from botocore.exceptions import ClientError

from deploy.cloudformation.iam_evaluation import evaluate_role
from include.builders.deploy import endpoint_deployment_config
from include.runtime.aws.serving import AwsEndpoints, VariantScaling
from include.runtime.endpoint_checks import EndpointRollbackError
from tests.serving_flow.support import model_version_record
from tests.support.botocore_contract import assert_valid_request
from tests.support.iam_requests import Account, api_call_requests
from tests.support.stack import deployable_settings, simulated_stack

ENDPOINT = "scones-vehicle-classifier"
OLD_CONFIG = "scones-config-v1-20260101t0000"
RUN_KEY = "20260102T0000"
MODEL_URL = "s3://scones-mlops/models/20260101T0000/training/job/output/model.tar.gz"


@dataclass
class Calls:
    """Every request the fakes received, in order: ``(service, operation, params)``."""

    made: list[tuple[str, str, dict]] = field(default_factory=list)

    def record(self, service: str, operation: str, params: dict) -> None:
        self.made.append((service, operation, copy.deepcopy(params)))

    def operations(self, service: str | None = None) -> list[str]:
        return [operation for made_by, operation, _ in self.made if service in (None, made_by)]

    def params(self, operation: str) -> dict:
        return next(params for _, made, params in self.made if made == operation)


def _not_found(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ValidationException", "Message": "Could not find it"}}, operation)


class FakeSageMaker:
    """DescribeEndpoint/-EndpointConfig/-Model from state; create and update calls recorded and applied."""

    def __init__(self, calls: Calls, old_instance_type: str) -> None:
        self.calls = calls
        self.configs = {OLD_CONFIG: {"EndpointConfigName": OLD_CONFIG, "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": "scones-model-v1", "InstanceType": old_instance_type,
             "InitialInstanceCount": 2}]}}
        self.endpoint = {"EndpointName": ENDPOINT, "EndpointConfigName": OLD_CONFIG, "EndpointStatus": "InService"}
        self.conn = self

    # the client (hook.conn)
    def describe_endpoint(self, EndpointName: str) -> dict:
        self.calls.record("sagemaker", "DescribeEndpoint", {"EndpointName": EndpointName})
        return dict(self.endpoint)

    def describe_endpoint_config(self, EndpointConfigName: str) -> dict:
        self.calls.record("sagemaker", "DescribeEndpointConfig", {"EndpointConfigName": EndpointConfigName})
        if EndpointConfigName not in self.configs:
            raise _not_found("DescribeEndpointConfig")
        return self.configs[EndpointConfigName]

    def describe_model(self, ModelName: str) -> dict:
        self.calls.record("sagemaker", "DescribeModel", {"ModelName": ModelName})
        raise _not_found("DescribeModel")

    # the hook
    def configure_s3_resources(self, config: dict) -> None:
        """Nothing to upload: the request names no local files."""

    def create_model(self, request: dict) -> dict:
        self.calls.record("sagemaker", "CreateModel", request)
        return {}

    def create_endpoint_config(self, request: dict) -> dict:
        self.calls.record("sagemaker", "CreateEndpointConfig", request)
        self.configs[request["EndpointConfigName"]] = request
        return {}

    def update_endpoint(self, request: dict, wait_for_completion: bool) -> dict:
        self.calls.record("sagemaker", "UpdateEndpoint", request)
        self.endpoint["EndpointStatus"] = "Updating"
        return {}

    def settle(self, config_name: str) -> None:
        """What SageMaker shows once the update ends: in service on ``config_name``."""
        self.endpoint.update(EndpointStatus="InService", EndpointConfigName=config_name)


class FakeAutoscaling:
    """Application Auto Scaling: one variant, registered or not; a registration needs the endpoint in service."""

    def __init__(self, calls: Calls, sagemaker: FakeSageMaker, registered: bool = True) -> None:
        self.calls, self.sagemaker, self.registered = calls, sagemaker, registered

    def describe_scalable_targets(self, **params: Any) -> dict:
        self.calls.record("application-autoscaling", "DescribeScalableTargets", params)
        return {"ScalableTargets": [{"ResourceId": params["ResourceIds"][0]}] if self.registered else []}

    def deregister_scalable_target(self, **params: Any) -> dict:
        self.calls.record("application-autoscaling", "DeregisterScalableTarget", params)
        self.registered = False
        return {}

    def register_scalable_target(self, **params: Any) -> dict:
        self.calls.record("application-autoscaling", "RegisterScalableTarget", params)
        assert self.sagemaker.endpoint["EndpointStatus"] == "InService", "registered while the endpoint updates"
        self.registered = True
        return {}

    def put_scaling_policy(self, **params: Any) -> dict:
        self.calls.record("application-autoscaling", "PutScalingPolicy", params)
        assert self.registered, "a scaling policy needs its scalable target"
        return {}


@pytest.fixture
def autoscaled_settings():
    return deployable_settings({"SCONES_DEPLOY__AUTOSCALING": "true", "SCONES_DEPLOY__AUTOSCALING_MIN_INSTANCES": "2",
                                "SCONES_DEPLOY__TRAFFIC_ROUTING": "CANARY", "SCONES_POLL_INTERVAL_SECONDS": "10"})


@dataclass
class Deployment:
    settings: Any
    operator: Any
    sagemaker: FakeSageMaker
    autoscaling: FakeAutoscaling
    calls: Calls

    @property
    def new_config(self) -> str:
        return self.operator.config["Endpoint"]["EndpointConfigName"]


def deployment(settings, *, old_instance_type: str, registered: bool = True) -> Deployment:
    calls = Calls()
    sagemaker = FakeSageMaker(calls, old_instance_type)
    autoscaling = FakeAutoscaling(calls, sagemaker, registered)
    config = endpoint_deployment_config(settings, model_version_record=model_version_record(MODEL_URL, version=2),
                                        run_key=RUN_KEY)
    operator = AwsEndpoints(settings).endpoint_deployment(task_id="deploy", config=config)
    operator.__dict__["hook"] = sagemaker
    operator.__dict__["scaling"] = VariantScaling(autoscaling, operator.scalable_target, operator.scaling_policy)
    return Deployment(settings, operator, sagemaker, autoscaling, calls)


def start(run: Deployment) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as deferred:
        run.operator.execute({})
    return deferred.value


def finish(run: Deployment, served_config: str) -> dict:
    run.sagemaker.settle(served_config)
    return run.operator.execute_complete({}, {"status": "success", "job_name": ENDPOINT})


def test_an_update_keeps_the_running_instance_count_and_the_scalable_target(autoscaled_settings):
    run = deployment(autoscaled_settings, old_instance_type=autoscaled_settings.deploy.instance_type)
    start(run)
    update = run.calls.params("UpdateEndpoint")
    assert update["RetainAllVariantProperties"] is True
    assert update["ExcludeRetainedVariantProperties"] == [{"VariantPropertyType": "DataCaptureConfig"}]
    assert update["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    finish(run, run.new_config)
    assert "DeregisterScalableTarget" not in run.calls.operations()
    assert "RegisterScalableTarget" not in run.calls.operations()


def test_an_instance_type_change_deregisters_the_variant_first_and_registers_it_after(autoscaled_settings):
    run = deployment(autoscaled_settings, old_instance_type="ml.c5.xlarge")
    start(run)
    operations = run.calls.operations()
    assert operations.index("DeregisterScalableTarget") < operations.index("UpdateEndpoint")
    result = finish(run, run.new_config)
    assert result["Endpoint"]["EndpointConfigName"] == run.new_config
    assert run.calls.operations("application-autoscaling")[-2:] == ["RegisterScalableTarget", "PutScalingPolicy"]
    target = run.calls.params("RegisterScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, autoscaled_settings.deploy.autoscaling_max_instances)
    assert run.autoscaling.registered


def test_a_rolled_back_type_change_gets_its_autoscaling_back_and_still_fails(autoscaled_settings):
    run = deployment(autoscaled_settings, old_instance_type="ml.c5.xlarge")
    start(run)
    with pytest.raises(EndpointRollbackError, match=f"serves endpoint config {OLD_CONFIG}"):
        finish(run, OLD_CONFIG)
    assert run.autoscaling.registered
    assert run.calls.operations("application-autoscaling")[-2:] == ["RegisterScalableTarget", "PutScalingPolicy"]


def test_a_retry_after_an_interrupted_type_change_registers_the_variant_again(autoscaled_settings):
    """The task died after deregistering: the endpoint went on to serve the new config, unscaled."""
    run = deployment(autoscaled_settings, old_instance_type="ml.c5.xlarge", registered=False)
    run.sagemaker.create_endpoint_config(run.operator.config["EndpointConfig"])
    run.sagemaker.settle(run.new_config)
    run.operator.execute({})
    assert run.autoscaling.registered
    assert "UpdateEndpoint" not in run.calls.operations()


def test_the_wait_is_bounded_by_the_updates_own_time_limit(autoscaled_settings):
    run = deployment(autoscaled_settings, old_instance_type=autoscaled_settings.deploy.instance_type)
    deferred = start(run)
    limit = run.calls.params("UpdateEndpoint")["DeploymentConfig"]["BlueGreenUpdatePolicy"][
        "MaximumExecutionTimeoutInSeconds"]
    assert deferred.trigger.attempts == -(-(limit + 300) // autoscaled_settings.poll_interval_seconds)
    assert deferred.trigger.attempts != 480


def test_every_request_is_valid_and_the_mwaa_role_allows_it(autoscaled_settings):
    run = deployment(autoscaled_settings, old_instance_type="ml.c5.xlarge")
    start(run)
    finish(run, run.new_config)
    for service, operation, params in run.calls.made:
        assert_valid_request(service, operation, params)
    stack = simulated_stack(autoscaled_settings)
    account = Account(stack, autoscaled_settings.bucket)
    requests = [request for service, operation, params in run.calls.made
                for request in api_call_requests(account, service, operation, params)]
    evaluation = evaluate_role(stack, "MwaaExecutionRole", requests)
    assert not evaluation.denied, evaluation.denial_report()
    actions = {decision.request.action for decision in evaluation.decisions}
    assert {"application-autoscaling:DeregisterScalableTarget", "application-autoscaling:RegisterScalableTarget",
            "cloudwatch:PutMetricAlarm", "sagemaker:UpdateEndpointWeightsAndCapacities"} <= actions
