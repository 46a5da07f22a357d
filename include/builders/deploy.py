"""The CreateModel, CreateEndpointConfig and CreateEndpoint/UpdateEndpoint requests that deploy a model version.

Together they are the ``{"Model", "EndpointConfig", "Endpoint"}`` config the provider's
``SageMakerEndpointOperator`` takes, and the local runtime executes the same dict. Names derive
from the model version and the run key, so a re-run of the same deployment reuses its own names.
Updates are blue/green with the ``[deploy]`` traffic shifting (:mod:`include.blue_green`); with autoscaling
on they keep the running instance count, and the Application Auto Scaling requests here register the variant
the way the stack does.
"""

from __future__ import annotations

from typing import Any

from include import blue_green
from include.builders.common import tags
from include.registry import MODEL_PACKAGE_TAG, model_data_url
from include.run_keys import SAGEMAKER_NAME_MAX, sanitise
from include.settings import Settings

JSON_CONTENT_TYPES = ["application/json"]
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SCALING_POLICY_SUFFIX = "invocations-per-instance"
SCALE_IN_COOLDOWN_SECONDS = 300
SCALE_OUT_COOLDOWN_SECONDS = 60
NAME_PREFIX = "scones"
"""The prefix of every SageMaker name the code makes (``scones-<workflow>-<run key>``) and of the stack's names
(its ``NamePrefix``): the stack scopes the MWAA role's SageMaker permissions to it."""


def resource_name(kind: str, model_version: int, run_key: str) -> str:
    """``scones-<kind>-v<version>-<run key>``, SageMaker-valid and at most 63 characters."""
    return sanitise(f"scones-{kind}-v{model_version}-{run_key}", SAGEMAKER_NAME_MAX)


def deployment_tags(settings: Settings, *, model_version_record: dict, run_key: str) -> list[dict[str, str]]:
    """The run's tags plus the model package ARN: what an endpoint serves is read back from these."""
    package = {"Key": MODEL_PACKAGE_TAG, "Value": model_version_record["ModelPackageArn"]}
    return [*tags(settings, "deploy", run_key), package]


def model_request(settings: Settings, *, model_version_record: dict, model_name: str, run_key: str) -> dict:
    """CreateModel: the registered version's image, artifact and serving environment, tagged with its ARN."""
    container = model_version_record["InferenceSpecification"]["Containers"][0]
    environment = {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        **container.get("Environment", {}),
        "SAGEMAKER_REGION": settings.region,
    }
    return {
        "ModelName": model_name,
        "PrimaryContainer": {
            "Image": container["Image"],
            "ModelDataUrl": model_data_url(model_version_record),
            "Environment": environment,
        },
        "ExecutionRoleArn": settings.sagemaker_role_arn,
        "Tags": deployment_tags(settings, model_version_record=model_version_record, run_key=run_key),
    }


def capture_destination(settings: Settings) -> str:
    """The Data Capture ``DestinationS3Uri``; files land under ``<it>/<endpoint>/<variant>/yyyy/mm/dd/hh/``."""
    return settings.s3_uri(settings.prefixes.capture)


def lambda_capture_uri(settings: Settings) -> str:
    """Where the classify Lambda writes capture records (``CAPTURE_S3_URI``): set only for serverless endpoints."""
    if not settings.deploy.serverless:
        return ""
    return settings.s3_uri(settings.prefixes.capture, settings.deploy.endpoint_name, settings.deploy.variant_name)


def data_capture_config(settings: Settings) -> dict:
    deploy = settings.deploy
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": deploy.capture_sampling_percentage,
        "DestinationS3Uri": capture_destination(settings),
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": JSON_CONTENT_TYPES},
    }


def production_variant(settings: Settings, model_name: str) -> dict:
    deploy = settings.deploy
    variant: dict[str, Any] = {"VariantName": deploy.variant_name, "ModelName": model_name}
    if deploy.serverless:
        variant["ServerlessConfig"] = {
            "MemorySizeInMB": deploy.serverless_memory_mb,
            "MaxConcurrency": deploy.serverless_max_concurrency,
        }
    else:
        variant["InitialInstanceCount"] = deploy.initial_instance_count
        variant["InstanceType"] = deploy.instance_type
    return variant


def endpoint_config_request(settings: Settings, *, config_name: str, model_name: str, run_key: str,
                            model_version_record: dict) -> dict:
    """CreateEndpointConfig: one variant; Data Capture unless serverless (SageMaker captures nothing there)."""
    request: dict[str, Any] = {
        "EndpointConfigName": config_name,
        "ProductionVariants": [production_variant(settings, model_name)],
    }
    if not settings.deploy.serverless:
        request["DataCaptureConfig"] = data_capture_config(settings)
    request["Tags"] = deployment_tags(settings, model_version_record=model_version_record, run_key=run_key)
    return request


def traffic_routing(settings: Settings) -> dict[str, Any]:
    """``TrafficRoutingConfiguration``: all at once, a canary or linear steps, each baked for ``bake_minutes``."""
    deploy = settings.deploy
    routing: dict[str, Any] = {"Type": deploy.traffic_routing, "WaitIntervalInSeconds": blue_green.bake_seconds(deploy)}
    step = {"Type": "CAPACITY_PERCENT", "Value": deploy.traffic_step_percent}
    if deploy.traffic_routing == "CANARY":
        routing["CanarySize"] = step
    elif deploy.traffic_routing == "LINEAR":
        routing["LinearStepSize"] = step
    return routing


def deployment_config(settings: Settings) -> dict:
    """Blue/green with the configured traffic shifting, every step baked, rolled back on the named alarms."""
    deploy = settings.deploy
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": traffic_routing(settings),
            "TerminationWaitInSeconds": blue_green.termination_wait_seconds(deploy),
            "MaximumExecutionTimeoutInSeconds": blue_green.maximum_execution_timeout_seconds(deploy),
        },
    }
    if deploy.rollback_alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in deploy.rollback_alarms]}
    return config


def endpoint_request(settings: Settings, *, config_name: str, run_key: str) -> dict:
    """CreateEndpoint (UpdateEndpoint takes the same minus ``Tags``); serverless gets no blue/green policy."""
    request: dict[str, Any] = {"EndpointName": settings.deploy.endpoint_name, "EndpointConfigName": config_name}
    if not settings.deploy.serverless:
        request["DeploymentConfig"] = deployment_config(settings)
    request["Tags"] = tags(settings, "deploy", run_key)
    return request


def update_endpoint_request(endpoint: dict, *, retain_instance_count: bool = False) -> dict:
    """The UpdateEndpoint form of an ``Endpoint`` request (UpdateEndpoint takes no tags).

    ``retain_instance_count`` (autoscaling on): the green fleet starts at the variant's running instance count
    rather than the config's initial one (RetainAllVariantProperties), while the new config's Data Capture
    applies (it is excluded from what is retained).
    """
    request = {key: value for key, value in endpoint.items() if key != "Tags"}
    if retain_instance_count:
        request["RetainAllVariantProperties"] = True
        request["ExcludeRetainedVariantProperties"] = [{"VariantPropertyType": "DataCaptureConfig"}]
    return request


def scalable_resource_id(settings: Settings) -> str:
    """Application Auto Scaling's ``ResourceId`` of the endpoint's variant."""
    return f"endpoint/{settings.deploy.endpoint_name}/variant/{settings.deploy.variant_name}"


def scalable_target_request(settings: Settings) -> dict:
    """RegisterScalableTarget, as the stack's ``EndpointScalableTarget`` registers the variant."""
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": scalable_resource_id(settings),
        "ScalableDimension": SCALABLE_DIMENSION,
        "MinCapacity": settings.deploy.autoscaling_min_instances,
        "MaxCapacity": settings.deploy.autoscaling_max_instances,
    }


def scaling_policy_request(settings: Settings) -> dict:
    """PutScalingPolicy, as the stack's ``EndpointInvocationsScalingPolicy`` tracks invocations per instance."""
    return {
        "PolicyName": f"{NAME_PREFIX}-{SCALING_POLICY_SUFFIX}",
        "ServiceNamespace": "sagemaker",
        "ResourceId": scalable_resource_id(settings),
        "ScalableDimension": SCALABLE_DIMENSION,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(settings.deploy.autoscaling_invocations_per_instance),
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleInCooldown": SCALE_IN_COOLDOWN_SECONDS,
            "ScaleOutCooldown": SCALE_OUT_COOLDOWN_SECONDS,
        },
    }


def endpoint_deployment_config(settings: Settings, *, model_version_record: dict, run_key: str) -> dict:
    """``{"Model", "EndpointConfig", "Endpoint"}`` for deploying ``model_version_record`` in run ``run_key``."""
    version = int(model_version_record["ModelPackageVersion"])
    model_name = resource_name("model", version, run_key)
    config_name = resource_name("config", version, run_key)
    return {
        "Model": model_request(settings, model_version_record=model_version_record, model_name=model_name,
                               run_key=run_key),
        "EndpointConfig": endpoint_config_request(settings, config_name=config_name, model_name=model_name,
                                                  run_key=run_key, model_version_record=model_version_record),
        "Endpoint": endpoint_request(settings, config_name=config_name, run_key=run_key),
    }
