"""The deployment requests are valid SageMaker requests (botocore's model) and say what the settings say."""

from __future__ import annotations

import pytest

from include.builders.deploy import (
    endpoint_deployment_config,
    scalable_target_request,
    scaling_policy_request,
    update_endpoint_request,
)
from include.settings import get_settings, load_settings
from tests.serving_flow.support import model_version_record
from tests.support.botocore_contract import assert_valid_request

MODEL_URL = "s3://scones-mlops/jobs/scones-train-20260101t0000/output/model.tar.gz"
RUN_KEY = "manual-2026-03-01t10-00-00-000000-00-00-abcdef"


def config_for(settings) -> dict:
    return endpoint_deployment_config(settings, model_version_record=model_version_record(MODEL_URL, version=12),
                                      run_key=RUN_KEY)


@pytest.fixture
def serverless_settings(scones_env, monkeypatch):
    monkeypatch.setenv("SCONES_DEPLOY__SERVERLESS", "true")
    get_settings.cache_clear()
    return get_settings()


def test_create_model_request_is_valid(settings):
    assert_valid_request("sagemaker", "CreateModel", config_for(settings)["Model"])


def test_create_endpoint_config_request_is_valid(settings):
    assert_valid_request("sagemaker", "CreateEndpointConfig", config_for(settings)["EndpointConfig"])


def test_create_endpoint_request_is_valid(settings):
    assert_valid_request("sagemaker", "CreateEndpoint", config_for(settings)["Endpoint"])


def test_update_endpoint_request_is_valid(settings):
    assert_valid_request("sagemaker", "UpdateEndpoint", update_endpoint_request(config_for(settings)["Endpoint"]))


def test_model_container_comes_from_the_registered_version(settings):
    container = config_for(settings)["Model"]["PrimaryContainer"]
    assert container["ModelDataUrl"] == MODEL_URL
    assert container["Environment"] == {"SAGEMAKER_PROGRAM": "inference.py",
                                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                                        "SAGEMAKER_REGION": settings.region}


def test_names_derive_from_version_and_run_key_within_63_characters(settings):
    config = config_for(settings)
    names = [config["Model"]["ModelName"], config["EndpointConfig"]["EndpointConfigName"]]
    assert all(len(name) <= 63 and "v12" in name for name in names)
    assert config_for(settings) == config


def test_endpoint_serves_the_new_config_by_name(settings):
    config = config_for(settings)
    assert config["Endpoint"]["EndpointConfigName"] == config["EndpointConfig"]["EndpointConfigName"]
    assert config["EndpointConfig"]["ProductionVariants"][0]["ModelName"] == config["Model"]["ModelName"]


def test_data_capture_records_inputs_and_outputs_under_the_capture_prefix(settings):
    capture = config_for(settings)["EndpointConfig"]["DataCaptureConfig"]
    assert capture["DestinationS3Uri"] == f"s3://{settings.bucket}/{settings.prefixes.capture}"
    assert [option["CaptureMode"] for option in capture["CaptureOptions"]] == ["Input", "Output"]
    assert capture["InitialSamplingPercentage"] == settings.deploy.capture_sampling_percentage


def test_blue_green_update_rolls_back_on_the_configured_alarms(settings):
    deployment = config_for(settings)["Endpoint"]["DeploymentConfig"]
    assert deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert [alarm["AlarmName"] for alarm in deployment["AutoRollbackConfiguration"]["Alarms"]] == \
        settings.deploy.rollback_alarms


def guardrail(**deploy: str):
    """Settings with these ``[deploy]`` values (``traffic_routing="CANARY"`` ...) over the defaults."""
    return load_settings(environ={f"SCONES_DEPLOY__{name.upper()}": value for name, value in deploy.items()})


def blue_green_policy(settings) -> dict:
    request = update_endpoint_request(config_for(settings)["Endpoint"])
    assert_valid_request("sagemaker", "UpdateEndpoint", request)
    return request["DeploymentConfig"]["BlueGreenUpdatePolicy"]


def test_all_at_once_shifts_everything_then_bakes_with_the_alarms_watched():
    policy = blue_green_policy(guardrail(bake_minutes="7"))
    assert policy["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 420}
    assert policy["TerminationWaitInSeconds"] == 0
    assert policy["MaximumExecutionTimeoutInSeconds"] == 1800 + 420


def test_canary_sends_its_share_first_and_bakes_it_and_the_rest():
    policy = blue_green_policy(guardrail(traffic_routing="CANARY", traffic_step_percent="25",
                                         initial_instance_count="4", bake_minutes="10",
                                         termination_wait_minutes="3"))
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY", "WaitIntervalInSeconds": 600, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25}}
    assert policy["TerminationWaitInSeconds"] == 180
    assert policy["MaximumExecutionTimeoutInSeconds"] == 1800 + 2 * 600 + 180


def test_linear_shifts_in_equal_steps_each_baked():
    policy = blue_green_policy(guardrail(traffic_routing="LINEAR", traffic_step_percent="20",
                                         initial_instance_count="5", bake_minutes="4"))
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "LINEAR", "WaitIntervalInSeconds": 240, "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20}}
    assert policy["MaximumExecutionTimeoutInSeconds"] == 1800 + 5 * 240


def test_a_short_plan_still_gets_sagemakers_minimum_execution_timeout():
    policy = blue_green_policy(guardrail(bake_minutes="0"))
    assert policy["TrafficRoutingConfiguration"]["WaitIntervalInSeconds"] == 0
    assert policy["MaximumExecutionTimeoutInSeconds"] == 1800


def test_updates_with_autoscaling_keep_the_running_instance_count_but_take_the_new_capture():
    request = update_endpoint_request(config_for(guardrail(autoscaling="true"))["Endpoint"],
                                      retain_instance_count=True)
    assert_valid_request("sagemaker", "UpdateEndpoint", request)
    assert request["RetainAllVariantProperties"] is True
    assert request["ExcludeRetainedVariantProperties"] == [{"VariantPropertyType": "DataCaptureConfig"}]


def test_updates_without_autoscaling_start_the_green_fleet_at_the_configs_count(settings):
    request = update_endpoint_request(config_for(settings)["Endpoint"])
    assert "RetainAllVariantProperties" not in request and "ExcludeRetainedVariantProperties" not in request


def test_autoscaling_requests_are_valid_and_say_what_the_settings_say():
    settings = guardrail(autoscaling="true", autoscaling_min_instances="2", autoscaling_max_instances="6",
                         autoscaling_invocations_per_instance="150")
    target, policy = scalable_target_request(settings), scaling_policy_request(settings)
    assert_valid_request("application-autoscaling", "RegisterScalableTarget", target)
    assert_valid_request("application-autoscaling", "PutScalingPolicy", policy)
    resource = f"endpoint/{settings.deploy.endpoint_name}/variant/{settings.deploy.variant_name}"
    assert (target["ResourceId"], target["MinCapacity"], target["MaxCapacity"]) == (resource, 2, 6)
    assert policy["ResourceId"] == resource
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 150.0


def test_serverless_variant_is_valid_and_has_no_data_capture(serverless_settings):
    endpoint_config = config_for(serverless_settings)["EndpointConfig"]
    assert_valid_request("sagemaker", "CreateEndpointConfig", endpoint_config)
    assert "DataCaptureConfig" not in endpoint_config
    assert endpoint_config["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}


def test_model_and_endpoint_config_are_tagged_with_the_version_they_serve(settings):
    config = config_for(settings)
    arn = model_version_record(MODEL_URL, version=12)["ModelPackageArn"]
    for request in (config["Model"], config["EndpointConfig"]):
        assert {"Key": "scones:model-package-arn", "Value": arn} in request["Tags"]
