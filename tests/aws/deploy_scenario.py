"""Endpoints as moto cannot run them, for scones_deploy; and approved model versions to deploy.

moto's endpoint is ``InService`` the moment it is created and moto has no UpdateEndpoint. A
real endpoint is still ``Creating`` (or ``Updating``) when the provider's trigger first looks.
The rolled-back update answers UpdateEndpoint, reports the endpoint ``Updating`` once and then
``InService`` on the config it served before: what SageMaker shows after an alarm rollback.
"""

from __future__ import annotations

import threading
from typing import Any

from include.builders.registry import IMAGE_CONTENT_TYPES, RUN_KEY_PROPERTY
from tests.aws.recorder import RequestRecorder
from tests.aws.train_scenario import pin_manual_run_ids

GROUP = "scones-vehicle-classifier"
INFERENCE_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"
ENDPOINT_ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}"


def model_data_url(bucket: str, run_key: str) -> str:
    return f"s3://{bucket}/models/{run_key}/training/scones-train-{run_key}/output/model.tar.gz"


def register_approved_model(sagemaker: Any, *, bucket: str, run_key: str) -> dict:
    """An approved version in the model package group, as scones_train registers one; returns its description."""
    groups = sagemaker.list_model_package_groups(NameContains=GROUP)["ModelPackageGroupSummaryList"]
    if not any(g["ModelPackageGroupName"] == GROUP for g in groups):
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelPackageDescription=f"Vehicle classifier trained by run {run_key}",
        InferenceSpecification={
            "Containers": [{
                "Image": INFERENCE_IMAGE,
                "ModelDataUrl": model_data_url(bucket, run_key),
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
            }],
            "SupportedContentTypes": IMAGE_CONTENT_TYPES,
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={RUN_KEY_PROPERTY: run_key},
    )["ModelPackageArn"]
    return sagemaker.describe_model_package(ModelPackageName=arn)


def deploy_version(sagemaker: Any, record: dict, endpoint: str = "scones-vehicle-classifier") -> str:
    """What a verified scones_deploy leaves behind: a model tagged with the version's ARN, its config, the endpoint."""
    from include.registry import MODEL_PACKAGE_TAG

    name = f"scones-model-v{record['ModelPackageVersion']}-setup"
    container = record["InferenceSpecification"]["Containers"][0]
    sagemaker.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::123456789012:role/scones-sagemaker",
                           PrimaryContainer={"Image": container["Image"], "ModelDataUrl": container["ModelDataUrl"]},
                           Tags=[{"Key": MODEL_PACKAGE_TAG, "Value": record["ModelPackageArn"]}])
    config = name.replace("-model-", "-config-")
    sagemaker.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    return config


def endpoint_settling_at_first_poll(recorder: RequestRecorder, *, after: str, status: str) -> None:
    """The trigger's (aiobotocore) first DescribeEndpoint after ``after`` reports ``status``, not moto's answer."""
    pending: set[str] = set()
    lock = threading.Lock()

    def remember(params: dict[str, Any], transport: str) -> None:
        with lock:
            pending.add(params["EndpointName"])

    def settling(params: dict[str, Any], parsed: dict[str, Any], transport: str) -> None:
        with lock:
            first_poll = transport == "aiobotocore" and params.get("EndpointName") in pending
            if first_poll:
                pending.discard(params["EndpointName"])
        if first_poll and "EndpointStatus" in parsed:
            parsed["EndpointStatus"] = status

    recorder.observe("sagemaker", after, remember)
    recorder.amend("sagemaker", "DescribeEndpoint", settling)


def install(recorder: RequestRecorder) -> None:
    """A manual deployment whose new endpoint is still being created when the trigger first looks."""
    pin_manual_run_ids()
    endpoint_settling_at_first_poll(recorder, after="CreateEndpoint", status="Creating")


def install_rolled_back_update(recorder: RequestRecorder) -> None:
    """A manual deployment whose blue/green update SageMaker rolls back: the endpoint keeps its old config."""
    pin_manual_run_ids()
    sagemaker = recorder.client("sagemaker")
    served_before: dict[str, str] = {}

    def accept_update(params: dict[str, Any]) -> dict[str, Any]:
        name = params["EndpointName"]
        served_before[name] = sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]
        return {"EndpointArn": ENDPOINT_ARN.format(name=name)}

    def rolled_back(params: dict[str, Any], parsed: dict[str, Any], transport: str) -> None:
        old_config = served_before.get(params.get("EndpointName", ""))
        if old_config and "EndpointStatus" in parsed:
            parsed.update(EndpointStatus="InService", EndpointConfigName=old_config)

    recorder.respond("sagemaker", "UpdateEndpoint", accept_update)
    recorder.amend("sagemaker", "DescribeEndpoint", rolled_back)
    endpoint_settling_at_first_poll(recorder, after="UpdateEndpoint", status="Updating")
