"""One source of truth with the stack: deployed with the parameters the settings give, the stack names what the
code names, captures where the settings say, and its outputs fill every setting it decides."""

from __future__ import annotations

import json

import pytest

from deploy.cloudformation.stack_parameters import (
    STACK_PROVIDED_SETTINGS,
    StackParameterError,
    analyzer_image_tag,
    main,
    settings_environment,
    stack_parameters,
)
from include.builders.common import framework_image_uri
from include.builders.deploy import (
    capture_destination,
    lambda_capture_uri,
    scalable_target_request,
    scaling_policy_request,
)
from include.code_bundle import PROGRAM_DIRS, source_digest
from include.settings import Settings, env_name, get_settings, load_settings, setting_variables
from tests.support.stack import ACCOUNT, BUCKET, REGION, deployable_settings, simulated_stack

REAL_TIME = {}
SERVERLESS_RENAMED = {
    "SCONES_DEPLOY__SERVERLESS": "true", "SCONES_DEPLOY__ENDPOINT_NAME": "scones-vehicles-blue",
    "SCONES_DEPLOY__VARIANT_NAME": "Main", "SCONES_CONFIDENCE_THRESHOLD": "0.8",
    "SCONES_DEPLOY__ROLLBACK_ALARMS": '["scones-blue-5xx", "scones-blue-latency"]',
    "SCONES_INFERENCE__MAX_IMAGE_BYTES": "4000000", "SCONES_MWAA__ENVIRONMENT_NAME": "scones-prod",
    "SCONES_REGION": "af-south-1",
}
VARIANTS = pytest.mark.parametrize("environ", [REAL_TIME, SERVERLESS_RENAMED], ids=["real-time", "serverless-renamed"])


def deployed(environ: dict[str, str]) -> tuple[Settings, object]:
    settings = deployable_settings(environ)
    return settings, simulated_stack(settings)


@VARIANTS
def test_every_parameter_from_the_settings_is_a_template_parameter(environ):
    settings, stack = deployed(environ)
    assert set(stack_parameters(settings)) <= set(stack.template["Parameters"])


@VARIANTS
def test_rollback_alarms_are_the_settings_alarms_on_the_settings_endpoint(environ):
    settings, stack = deployed(environ)
    alarms = {stack.properties(a)["AlarmName"]: stack.properties(a)
              for a in ("Endpoint5xxAlarm", "EndpointLatencyAlarm")}
    assert list(alarms) == settings.deploy.rollback_alarms
    for alarm in alarms.values():
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
            "EndpointName": settings.deploy.endpoint_name, "VariantName": settings.deploy.variant_name}


@VARIANTS
def test_rollback_alarms_trip_at_the_settings_thresholds(environ):
    settings, stack = deployed({**environ, "SCONES_DEPLOY__ERROR_ALARM_THRESHOLD": "3",
                                "SCONES_DEPLOY__LATENCY_ALARM_MILLISECONDS": "250"})
    assert float(stack.properties("Endpoint5xxAlarm")["Threshold"]) == settings.deploy.error_alarm_threshold == 3
    assert float(stack.properties("EndpointLatencyAlarm")["Threshold"]) == 250_000, "ModelLatency is in microseconds"


def test_the_stacks_autoscaling_is_what_the_deployment_registers_again():
    settings, stack = deployed({"SCONES_DEPLOY__AUTOSCALING": "true", "SCONES_DEPLOY__AUTOSCALING_MIN_INSTANCES": "2",
                                "SCONES_DEPLOY__AUTOSCALING_MAX_INSTANCES": "5",
                                "SCONES_DEPLOY__AUTOSCALING_INVOCATIONS_PER_INSTANCE": "120"})
    assert stack.creates("EndpointScalableTarget") and stack.creates("EndpointInvocationsScalingPolicy")
    target = stack.properties("EndpointScalableTarget")
    assert {key: str(value) for key, value in target.items()} == {
        key: str(value) for key, value in scalable_target_request(settings).items()}
    policy = stack.properties("EndpointInvocationsScalingPolicy")
    expected = scaling_policy_request(settings)
    assert policy["PolicyName"] == expected["PolicyName"] and policy["PolicyType"] == expected["PolicyType"]
    tracking, wanted = policy["TargetTrackingScalingPolicyConfiguration"], expected[
        "TargetTrackingScalingPolicyConfiguration"]
    assert float(tracking["TargetValue"]) == wanted["TargetValue"] == 120.0
    assert tracking["PredefinedMetricSpecification"] == wanted["PredefinedMetricSpecification"]
    assert (tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (
        wanted["ScaleInCooldown"], wanted["ScaleOutCooldown"])


def test_autoscaling_stays_off_in_the_stack_until_the_settings_turn_it_on():
    _, stack = deployed({})
    assert not stack.creates("EndpointScalableTarget")


@VARIANTS
def test_capture_happens_in_exactly_one_place(environ):
    settings, stack = deployed(environ)
    classify = stack.properties("ClassifyImageFunction")["Environment"]["Variables"]
    assert classify["ENDPOINT_NAME"] == settings.deploy.endpoint_name
    assert classify["CAPTURE_S3_URI"] == lambda_capture_uri(settings)
    assert bool(classify["CAPTURE_S3_URI"]) == settings.deploy.serverless, "serverless endpoints capture nothing"
    assert classify["CAPTURE_S3_URI"] in ("", f"{capture_destination(settings)}/{settings.deploy.endpoint_name}/"
                                              f"{settings.deploy.variant_name}")


@VARIANTS
def test_lambda_limits_and_threshold_are_the_settings(environ):
    settings, stack = deployed(environ)
    serialize = stack.properties("SerializeImageFunction")["Environment"]["Variables"]
    assert {k: int(v) for k, v in serialize.items()} == {
        "MAX_IMAGE_BYTES": settings.inference.max_image_bytes, "MAX_IMAGE_PIXELS": settings.ingest.max_image_pixels,
        "INLINE_LIMIT_BYTES": settings.inference.inline_limit_bytes}
    threshold = stack.properties("FilterLowConfidenceFunction")["Environment"]["Variables"]["CONFIDENCE_THRESHOLD"]
    assert float(threshold) == settings.confidence_threshold


@VARIANTS
def test_the_stack_keeps_data_capture_where_the_settings_write_it(environ):
    settings, stack = deployed(environ)
    rules = {r["Id"]: r for r in stack.properties("Bucket")["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireDataCapture"]["Prefix"] == settings.prefixes.capture + "/"
    assert stack.properties("Bucket")["BucketName"] == settings.bucket


@VARIANTS
def test_mwaa_environment_and_framework_images_are_the_settings(environ):
    settings, stack = deployed(environ)
    parameters = stack_parameters(settings)
    assert stack.parameter("MwaaEnvironmentName") == settings.mwaa.environment_name
    assert f"{stack.parameter('MwaaPrefix')}/dags" == settings.mwaa.dags_prefix
    registry = framework_image_uri(settings, "training").split(".")[0]
    assert parameters["FrameworkImageRegistryAccount"] == registry
    pulls = next(s for s in stack.properties("SageMakerExecutionRole")["Policies"][0]["PolicyDocument"]["Statement"]
                 if s["Sid"] == "PullImages")
    assert f"arn:aws:ecr:{settings.region}:{registry}:repository/*" in pulls["Resource"]


@VARIANTS
def test_outputs_give_back_the_settings_the_stack_decides(environ):
    settings, stack = deployed(environ)
    output = settings_environment(stack.output("SconesEnvironment"))
    assert set(output) == {env_name(name) for name in STACK_PROVIDED_SETTINGS}
    from_output = load_settings(environ={**output, **environ})
    assert (from_output.runtime, from_output.bucket, from_output.region) == ("aws", settings.bucket, settings.region)
    assert from_output.sagemaker_role_arn == stack.arn("SageMakerExecutionRole")
    assert from_output.inference.state_machine_arn == stack.ref("InferenceStateMachine")
    assert from_output.alerts_topic_arn == stack.ref("AlertsTopic")
    assert from_output.images.monitor_uri == f"{stack.get_att('DriftAnalyzerRepository', 'RepositoryUri')}:" \
                                             f"{analyzer_image_tag()}"


def test_every_arn_setting_comes_from_the_stack():
    arn_settings = {dotted for dotted in setting_variables().values() if dotted.endswith("_arn")}
    assert arn_settings <= set(STACK_PROVIDED_SETTINGS), "add the new ARN to the SconesEnvironment output"


def test_the_analyzer_image_tag_is_the_analyzer_code_version():
    assert analyzer_image_tag() == source_digest(PROGRAM_DIRS["monitor"])[:16]


def test_an_empty_image_tag_leaves_the_analyzer_image_unset():
    settings = deployable_settings()
    output = settings_environment(simulated_stack(settings, image_tag="").output("SconesEnvironment"))
    assert output["SCONES_IMAGES__MONITOR_URI"] == ""


@pytest.mark.parametrize(("environ", "setting"), [
    ({"SCONES_BUCKET": "scones-mlops"}, "SCONES_BUCKET"),
    ({"SCONES_DEPLOY__ENDPOINT_NAME": "vehicles"}, "SCONES_DEPLOY__ENDPOINT_NAME"),
    ({"SCONES_REGISTRY__MODEL_PACKAGE_GROUP": "Scones-Models"}, "SCONES_REGISTRY__MODEL_PACKAGE_GROUP"),
    ({"SCONES_DEPLOY__ROLLBACK_ALARMS": '["only-one"]'}, "SCONES_DEPLOY__ROLLBACK_ALARMS"),
    ({"SCONES_MWAA__DAGS_PREFIX": "mwaa/code"}, "SCONES_MWAA__DAGS_PREFIX"),
])
def test_settings_the_stack_cannot_serve_are_refused_by_name(environ, setting):
    with pytest.raises(StackParameterError, match=setting):
        stack_parameters(load_settings(environ={"SCONES_BUCKET": BUCKET, **environ}))


def test_parameter_files_are_written_from_the_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCONES_BUCKET", BUCKET)
    monkeypatch.setenv("SCONES_DEPLOY__SERVERLESS", "true")
    get_settings.cache_clear()
    try:
        assert main(["--out", str(tmp_path)]) == 0
        expected = stack_parameters(get_settings())
    finally:
        get_settings.cache_clear()
    written = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads((tmp_path / "parameters.json").read_text())}
    assert written == expected and written["CaptureInLambda"] == "true"
    overrides = (tmp_path / "parameter-overrides.txt").read_text().split()
    assert dict(item.split("=", 1) for item in overrides) == expected
    assert main(["--image-tag"]) == 0
    assert capsys.readouterr().out.strip().endswith(analyzer_image_tag())


def test_the_simulated_stack_is_in_the_fake_account():
    stack = simulated_stack(deployable_settings())
    assert stack.arn("SageMakerExecutionRole") == f"arn:aws:iam::{ACCOUNT}:role/scones-sagemaker-execution"
    assert stack.ref("InferenceStateMachine") == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:scones-inference"
