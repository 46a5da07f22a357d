"""The quality gate's three outcomes, and registry versioning, idempotency and lookups."""

import pytest

from include.builders.registry import RUN_KEY_PROPERTY, SEED, WEIGHTS_DIGEST, model_package_request
from include.registry import ModelVersionNotFoundError, model_data_url
from include.runtime.local.registry import LocalModelRegistry
from include.workflows.training import quality_gate

TRAINED_FROM = {"scones:dataset-sha256": "c" * 64, "scones:code-sha256": "b" * 64,
                "scones:hyperparameters-sha256": "d" * 64}


def _evaluation(accuracy: float, champion: float | None = None) -> dict:
    return {"metrics": {"accuracy": accuracy}, "champion": None if champion is None else {"accuracy": champion}}


def test_gate_passes_a_model_above_the_floor_without_champion():
    decision = quality_gate(_evaluation(0.9), min_accuracy=0.8, max_regression=0.02)
    assert decision.passed and "no champion yet" in decision.reason


def test_gate_refuses_a_model_below_the_floor():
    decision = quality_gate(_evaluation(0.7), min_accuracy=0.8, max_regression=0.02)
    assert not decision.passed and "below the floor" in decision.reason


def test_gate_refuses_a_model_worse_than_the_champion_by_more_than_the_margin():
    decision = quality_gate(_evaluation(0.85, champion=0.9), min_accuracy=0.8, max_regression=0.02)
    assert not decision.passed and "trails the champion" in decision.reason


def test_gate_tolerates_a_regression_within_the_margin():
    assert quality_gate(_evaluation(0.885, champion=0.9), min_accuracy=0.8, max_regression=0.02).passed


def _request(settings, run_key: str, approval: str = "Approved") -> dict:
    request = model_package_request(
        settings, run_key=run_key, model_data_url=f"s3://scones-mlops/models/{run_key}/model.tar.gz",
        evaluation_uri=f"s3://scones-mlops/models/{run_key}/evaluation/evaluation.json",
        metrics={"accuracy": 0.9, "ece": 0.05}, dataset_manifest_sha256="a" * 64, trained_from=TRAINED_FROM,
        hyperparameters={"epochs": 3}, training_job_name=f"scones-train-{run_key}")
    return {**request, "ModelApprovalStatus": approval}


def test_versions_are_numbered_in_order_and_registration_is_idempotent_by_run(settings):
    registry = LocalModelRegistry(settings)
    first = registry.register(_request(settings, "run-a"))
    second = registry.register(_request(settings, "run-b"))
    again = registry.register(_request(settings, "run-a"))
    assert (first["ModelPackageVersion"], second["ModelPackageVersion"]) == (1, 2)
    assert again["ModelPackageArn"] == first["ModelPackageArn"]
    assert len(registry.versions()) == 2


def test_latest_approved_version_skips_pending_ones(settings):
    registry = LocalModelRegistry(settings)
    assert registry.latest_approved() is None
    registry.register(_request(settings, "run-a"))
    registry.register(_request(settings, "run-b"))
    registry.register(_request(settings, "run-c", approval="PendingManualApproval"))
    latest = registry.latest_approved()
    assert latest["CustomerMetadataProperties"][RUN_KEY_PROPERTY] == "run-b"
    assert model_data_url(latest).endswith("run-b/model.tar.gz")


def test_a_runs_version_is_found_by_its_run_key_and_described_by_its_arn(settings):
    registry = LocalModelRegistry(settings)
    first = registry.register(_request(settings, "run-a"))
    registry.register(_request(settings, "run-b"))
    assert registry.find_by_run_key("run-a") == first
    assert registry.find_by_run_key("run-z") is None
    assert registry.describe(first["ModelPackageArn"]) == first


def test_registry_records_carry_the_lineage_fields(settings):
    record = LocalModelRegistry(settings).register(_request(settings, "run-a"))
    metadata = record["CustomerMetadataProperties"]
    for field in ("scones:dataset-manifest-sha256", "scones:dataset-sha256", "scones:code-sha256",
                  "scones:hyperparameters-sha256", "scones:hyperparameters", "scones:accuracy", "scones:training-job"):
        assert metadata[field], field
    assert record["ModelApprovalStatus"] == "Approved" and record["CreationTime"]
    assert record["InferenceSpecification"]["SupportedContentTypes"] == ["image/png", "image/jpeg",
                                                                         "application/x-image"]


def test_a_version_records_the_seed_and_the_weights_digest_the_training_gave(settings):
    request = model_package_request(
        settings, run_key="run-a", model_data_url="s3://scones-mlops/models/run-a/model.tar.gz",
        evaluation_uri="s3://scones-mlops/models/run-a/evaluation/evaluation.json",
        metrics={"accuracy": 0.9, "ece": 0.05}, dataset_manifest_sha256="a" * 64, trained_from=TRAINED_FROM,
        hyperparameters={"epochs": 3, "seed": 7}, training_job_name="scones-train-run-a", weights_sha256="d" * 64)
    metadata = LocalModelRegistry(settings).register(request)["CustomerMetadataProperties"]
    assert (metadata[SEED], metadata[WEIGHTS_DIGEST]) == ("7", "d" * 64)


def test_unknown_version_is_a_named_error(settings):
    with pytest.raises(ModelVersionNotFoundError):
        LocalModelRegistry(settings).describe("local:model-package/nope/9")
