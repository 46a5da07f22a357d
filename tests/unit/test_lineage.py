"""Train only on change: the digests a run would register, compared with the serving version's."""

from __future__ import annotations

import json

import pytest

from include.builders.training import training_job_request
from include.runtime.local.store import LocalObjectStore
from include.workflows import lineage
from include.workflows.training_requests import decoded_hyperparameters, hyperparameters_for

PARTITION = "s3://scones-mlops/datasets/20260102T0000/"


@pytest.fixture
def store(settings) -> LocalObjectStore:
    return LocalObjectStore(settings.data_root)


def publish_partition(store, partition: str, content: str) -> None:
    store.put_bytes(partition + "manifest.json", json.dumps({"run_key": partition, "content_sha256": content}).encode())


def serving_version(inputs: lineage.TrainingInputs) -> dict:
    return {"ModelPackageArn": "local:model-package/g/1", "ModelPackageVersion": 1,
            "CustomerMetadataProperties": inputs.as_metadata()}


def test_the_runs_params_and_the_finished_jobs_hyperparameters_digest_alike(settings):
    """Checked before training from the params, registered after it from the job's description: one digest."""
    params = {"epochs": 7, "learning_rate": 0.003, "batch_size": None}
    planned = hyperparameters_for(settings, params)
    request = training_job_request(settings, run_key="k", job_name="scones-train-k", partition_uri=PARTITION,
                                   source_uri="s3://scones-mlops/code/model/x/sourcedir.tar.gz",
                                   hyperparameters=planned, output_uri="s3://scones-mlops/models/k/training")
    described = decoded_hyperparameters(request["HyperParameters"])
    assert lineage.hyperparameters_sha256(described) == lineage.hyperparameters_sha256(planned)
    assert lineage.hyperparameters_sha256({**planned, "epochs": 8}) != lineage.hyperparameters_sha256(planned)


def test_the_same_data_code_and_hyperparameters_as_the_serving_model_are_not_trained_again(settings, store):
    publish_partition(store, PARTITION, "e" * 64)
    inputs = lineage.training_inputs(store, partition=PARTITION, hyperparameters={"epochs": 3})
    reason = lineage.reason_not_to_train(inputs, serving_version(inputs))
    assert reason and "same data" in reason and "force=true" in reason


def test_any_changed_digest_trains(settings, store):
    publish_partition(store, PARTITION, "e" * 64)
    inputs = lineage.training_inputs(store, partition=PARTITION, hyperparameters={"epochs": 3})
    for changed in ({"dataset_sha256": "f" * 64}, {"code_sha256": "0" * 64}, {"hyperparameters_sha256": "1" * 64}):
        deployed = lineage.TrainingInputs(**{**inputs.__dict__, **changed})
        assert lineage.reason_not_to_train(inputs, serving_version(deployed)) is None, changed


def test_without_a_serving_model_or_its_digests_training_goes_ahead(settings, store):
    publish_partition(store, PARTITION, "e" * 64)
    inputs = lineage.training_inputs(store, partition=PARTITION, hyperparameters={"epochs": 3})
    assert lineage.reason_not_to_train(inputs, None) is None
    assert lineage.reason_not_to_train(inputs, {"ModelPackageArn": "a", "ModelPackageVersion": 1}) is None


def registered_version(inputs: lineage.TrainingInputs, version: int, status: str = "Approved") -> dict:
    return {"ModelPackageArn": f"local:model-package/g/{version}", "ModelPackageVersion": version,
            "ModelApprovalStatus": status, "CustomerMetadataProperties": inputs.as_metadata()}


def test_a_version_registered_from_the_same_inputs_but_not_serving_is_not_trained_again(settings, store):
    """Deployment still baking, rolled back or rejected: training again would only make that version again."""
    publish_partition(store, PARTITION, "e" * 64)
    inputs = lineage.training_inputs(store, partition=PARTITION, hyperparameters={"epochs": 3})
    older = lineage.TrainingInputs(**{**inputs.__dict__, "dataset_sha256": "f" * 64})
    for status in ("Approved", "Rejected", "PendingManualApproval"):
        reason = lineage.reason_not_to_train(inputs, serving_version(older),
                                             [registered_version(inputs, 3, status), registered_version(older, 1)])
        assert reason and "model version 3" in reason and status in reason and "force=true" in reason
    assert lineage.reason_not_to_train(inputs, serving_version(older), [registered_version(older, 1)]) is None


def test_the_check_reads_the_newest_registered_versions_from_the_registry(settings, store):
    """Through the registry interface: a version registered on the same inputs stops the next run."""
    from include.runtime.local.registry import LocalModelRegistry
    from include.runtime.local.serving import LocalServedModels
    from include.workflows import training

    publish_partition(store, PARTITION, "e" * 64)
    inputs = lineage.training_inputs(store, partition=PARTITION, hyperparameters={"epochs": 3})
    registry = LocalModelRegistry(settings)
    served = LocalServedModels(settings)
    assert training.reason_not_to_train(settings, inputs, served, registry) is None
    registry.register({"ModelPackageGroupName": settings.registry.model_package_group,
                       "ModelApprovalStatus": "Approved",
                       "CustomerMetadataProperties": {"scones:run-key": "train-1", **inputs.as_metadata()},
                       "InferenceSpecification": {"Containers": [{"Image": "i", "ModelDataUrl": "s3://b/m"}],
                                                  "SupportedContentTypes": ["image/png"],
                                                  "SupportedResponseMIMETypes": ["application/json"]}})
    reason = training.reason_not_to_train(settings, inputs, served, registry)
    assert reason and "model version 1" in reason
