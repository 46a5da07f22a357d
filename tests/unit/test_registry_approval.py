"""Approval decisions on a registry version: the same UpdateModelPackage in both registries, who and when kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from include.builders.registry import (
    APPROVAL_AT,
    APPROVAL_BY,
    APPROVAL_VIA,
    UnknownApprovalStatusError,
    approval_update_request,
    model_package_request,
)
from include.registry import ModelRegistry
from include.run_keys import RUN_KEY_PROPERTY
from include.runtime.aws.registry import SageMakerModelRegistry
from include.runtime.local.registry import LocalModelRegistry
from include.workflows.lineage import TrainingInputs
from tests.support.botocore_contract import assert_valid_request

DECIDED_AT = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)


def pending_request(settings, run_key: str) -> dict:
    request = model_package_request(
        settings, run_key=run_key, model_data_url=f"s3://{settings.bucket}/models/{run_key}/model.tar.gz",
        evaluation_uri=f"s3://{settings.bucket}/models/{run_key}/evaluation/evaluation.json",
        metrics={"accuracy": 0.91, "ece": 0.04}, dataset_manifest_sha256="a" * 64,
        trained_from=TrainingInputs("a" * 64, "b" * 64, "c" * 64).as_metadata(),
        hyperparameters={"epochs": 3}, training_job_name=f"scones-train-{run_key}")
    return {**request, "ModelApprovalStatus": "PendingManualApproval"}


@pytest.fixture(params=["local", "sagemaker"])
def registry(request: pytest.FixtureRequest, settings) -> Iterator[ModelRegistry]:
    if request.param == "local":
        yield LocalModelRegistry(settings)
        return
    with mock_aws():
        yield SageMakerModelRegistry(settings, client=boto3.client("sagemaker", region_name=settings.region))


def test_approving_records_status_note_reviewer_and_time(settings, registry):
    version = registry.register(pending_request(settings, "train-a"))
    update = approval_update_request(version, "Approved", reviewer="alice", at=DECIDED_AT,
                                     via="Airflow scones_train run manual__1", note="better on night photos")
    record = registry.update_approval(update)
    assert record["ModelApprovalStatus"] == "Approved"
    assert record["ApprovalDescription"] == "better on night photos"
    metadata = record["CustomerMetadataProperties"]
    assert (metadata[APPROVAL_BY], metadata[APPROVAL_AT]) == ("alice", "2026-03-01T10:30:00+00:00")
    assert metadata[APPROVAL_VIA] == "Airflow scones_train run manual__1"
    assert metadata[RUN_KEY_PROPERTY] == "train-a", "the lineage metadata survives the decision"
    assert registry.latest_approved()["ModelPackageArn"] == version["ModelPackageArn"]


def test_rejecting_keeps_the_version_out_of_deployment(settings, registry):
    version = registry.register(pending_request(settings, "train-b"))
    update = approval_update_request(version, "Rejected", reviewer="bob", at=DECIDED_AT, via="Airflow")
    record = registry.update_approval(update)
    assert record["ModelApprovalStatus"] == "Rejected"
    assert record["ApprovalDescription"] == "Rejected by bob (Airflow)", "without a note the description says who"
    assert registry.latest_approved() is None


def test_the_update_request_meets_sagemakers_contract(settings):
    record = {**pending_request(settings, "train-c"),
              "ModelPackageArn": "arn:aws:sagemaker:us-east-1:111122223333:model-package/scones-vehicle-classifier/3"}
    update = approval_update_request(record, "Approved", reviewer="Zoë O'Brien <zoe@example.com>", at=DECIDED_AT,
                                     via="Airflow scones_tune run manual__2026-03-01T10:00:00+00:00", note="x" * 5000)
    assert_valid_request("sagemaker", "UpdateModelPackage", update)
    assert update["CustomerMetadataProperties"][APPROVAL_BY] == "Zoë O_Brien _zoe@example.com_"
    assert len(update["ApprovalDescription"]) == 1024


def test_an_unknown_status_is_refused_by_name(settings):
    with pytest.raises(UnknownApprovalStatusError, match="Approved, Rejected, PendingManualApproval"):
        approval_update_request({"ModelPackageArn": "x"}, "Maybe", reviewer="alice", at=DECIDED_AT, via="cli")
