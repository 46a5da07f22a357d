"""The SageMaker registry finds a run's version by searching its run-key tag, not by describing every version."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from include.builders.registry import model_package_request
from include.runtime.aws.registry import SageMakerModelRegistry
from tests.support.botocore_contract import assert_valid_request

TRAINED_FROM = {"scones:dataset-sha256": "c" * 64, "scones:code-sha256": "b" * 64,
                "scones:hyperparameters-sha256": "d" * 64}


class CountingClient:
    """The SageMaker client, counting DescribeModelPackage calls and checking every Search request."""

    def __init__(self, client) -> None:
        self.client, self.describes = client, 0

    def describe_model_package(self, **params):
        self.describes += 1
        return self.client.describe_model_package(**params)

    def search(self, **params):
        assert_valid_request("sagemaker", "Search", params)
        return self.client.search(**params)

    def __getattr__(self, name: str):
        return getattr(self.client, name)


@pytest.fixture
def registry(settings) -> Iterator[SageMakerModelRegistry]:
    with mock_aws():
        client = CountingClient(boto3.client("sagemaker", region_name="us-east-1"))
        yield SageMakerModelRegistry(settings, client=client)


def request(settings, run_key: str) -> dict:
    return model_package_request(
        settings, run_key=run_key, model_data_url=f"s3://scones-mlops/models/{run_key}/model.tar.gz",
        evaluation_uri=f"s3://scones-mlops/models/{run_key}/evaluation/evaluation.json",
        metrics={"accuracy": 0.9, "ece": 0.05}, dataset_manifest_sha256="a" * 64, trained_from=TRAINED_FROM,
        hyperparameters={"epochs": 3}, training_job_name=f"scones-train-{run_key}")


def test_a_runs_version_is_found_without_describing_every_version(settings, registry):
    versions = [registry.register(request(settings, f"train-2026010{day}T0000")) for day in range(1, 10)]
    registry.client.describes = 0
    found = registry.find_by_run_key("train-20260102T0000")
    assert found["ModelPackageArn"] == versions[1]["ModelPackageArn"]
    assert registry.client.describes == 1


def test_registering_a_run_again_returns_its_version(settings, registry):
    first = registry.register(request(settings, "train-20260101T0000"))
    again = registry.register(request(settings, "train-20260101T0000"))
    assert again["ModelPackageArn"] == first["ModelPackageArn"]


def test_an_unknown_run_has_no_version(settings, registry):
    registry.register(request(settings, "train-20260101T0000"))
    assert registry.find_by_run_key("train-20990101T0000") is None
