"""Which version an endpoint serves, read from the endpoint in both runtimes: SageMaker (moto) and local records.

Both answer from what a deployment created — the endpoint's config, its model, the model's package tag —
so a version registered later, or an update rolled back, does not change the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from include.builders.deploy import endpoint_deployment_config
from include.runtime.aws.serving import SageMakerServedModels
from include.runtime.capabilities import ServedModels
from include.runtime.local.serving import LocalEndpointRecords, LocalServedModels
from tests.serving_flow.support import model_version_record
from tests.support.botocore_contract import assert_valid_request

MODEL_URL = "s3://scones-mlops/models/train-20260101T0000/training/model.tar.gz"


@dataclass
class Deployments:
    served: ServedModels
    deploy: Any
    """``deploy(config, rolled_back=False)``: what a verified (or rolled-back) deployment leaves behind."""


def _local(settings) -> Deployments:
    records = LocalEndpointRecords(settings)

    def deploy(config: dict, rolled_back: bool = False) -> None:
        if rolled_back:  # the operator records nothing: the endpoint's record keeps the config that serves
            return
        endpoint = {"EndpointName": config["Endpoint"]["EndpointName"], "EndpointStatus": "InService",
                    "EndpointConfigName": config["Endpoint"]["EndpointConfigName"]}
        records.record_deployment(config["Model"], config["EndpointConfig"], endpoint)

    return Deployments(LocalServedModels(settings), deploy)


def _sagemaker(client: Any) -> Deployments:
    def deploy(config: dict, rolled_back: bool = False) -> None:
        assert_valid_request("sagemaker", "CreateModel", config["Model"])
        assert_valid_request("sagemaker", "CreateEndpointConfig", config["EndpointConfig"])
        client.create_model(**config["Model"])
        client.create_endpoint_config(**config["EndpointConfig"])
        if rolled_back:  # SageMaker ends InService on the config it served before
            return
        name = config["Endpoint"]["EndpointName"]
        if client.list_endpoints(NameContains=name)["Endpoints"]:
            client.delete_endpoint(EndpointName=name)
        client.create_endpoint(**config["Endpoint"])

    return Deployments(SageMakerServedModels(None, client=client), deploy)  # type: ignore[arg-type]


@pytest.fixture(params=["local", "sagemaker"])
def deployments(request: pytest.FixtureRequest, settings) -> Iterator[Deployments]:
    if request.param == "local":
        yield _local(settings)
        return
    with mock_aws():
        yield _sagemaker(boto3.client("sagemaker", region_name="us-east-1"))


def config(settings, version: int, run_key: str) -> dict:
    return endpoint_deployment_config(settings, model_version_record=model_version_record(MODEL_URL, version),
                                      run_key=run_key)


def test_no_endpoint_serves_nothing(settings, deployments):
    assert deployments.served.served_model(settings.deploy.endpoint_name) is None


def test_the_endpoint_serves_the_version_its_deployment_tagged(settings, deployments):
    first = config(settings, 1, "deploy-a")
    deployments.deploy(first)
    served = deployments.served.served_model(settings.deploy.endpoint_name)
    assert served.model_package_arn == model_version_record(MODEL_URL, 1)["ModelPackageArn"]
    assert (served.endpoint_config_name, served.model_name) == (first["EndpointConfig"]["EndpointConfigName"],
                                                                 first["Model"]["ModelName"])


def test_a_rolled_back_update_still_serves_the_version_before(settings, deployments):
    deployments.deploy(config(settings, 1, "deploy-a"))
    deployments.deploy(config(settings, 2, "deploy-b"), rolled_back=True)
    served = deployments.served.served_model(settings.deploy.endpoint_name)
    assert served.model_package_arn == model_version_record(MODEL_URL, 1)["ModelPackageArn"]


def test_a_completed_update_serves_the_new_version(settings, deployments):
    deployments.deploy(config(settings, 1, "deploy-a"))
    deployments.deploy(config(settings, 2, "deploy-b"))
    served = deployments.served.served_model(settings.deploy.endpoint_name)
    assert served.model_package_arn == model_version_record(MODEL_URL, 2)["ModelPackageArn"]
