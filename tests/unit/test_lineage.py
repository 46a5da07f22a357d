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
    assert training.reason_not_to_train(settings, store, inputs, served, registry, None) is None
    registry.register({"ModelPackageGroupName": settings.registry.model_package_group,
                       "ModelApprovalStatus": "Approved",
                       "CustomerMetadataProperties": {"scones:run-key": "train-1", **inputs.as_metadata()},
                       "InferenceSpecification": {"Containers": [{"Image": "i", "ModelDataUrl": "s3://b/m"}],
                                                  "SupportedContentTypes": ["image/png"],
                                                  "SupportedResponseMIMETypes": ["application/json"]}})
    reason = training.reason_not_to_train(settings, store, inputs, served, registry, None)
    assert reason and "model version 1" in reason


def test_a_candidate_the_gate_refused_stops_a_run_on_the_same_inputs_and_weights(settings, store):
    """Training is deterministic: the same inputs from the same weights would fail the gate again."""
    from include.runtime.local.registry import LocalModelRegistry
    from include.runtime.local.serving import LocalServedModels
    from include.workflows import training

    publish_partition(store, PARTITION, "e" * 64)
    registry, served = LocalModelRegistry(settings), LocalServedModels(settings)
    warm = "s3://scones-mlops/models/train-1/training/scones-train-1/output/model.tar.gz"
    candidate = {"partition": PARTITION, "hyperparameters": {"epochs": 3}, "warm_start_model_url": warm,
                 "model_url": "s3://scones-mlops/models/train-2/training/scones-train-2/output/model.tar.gz"}
    inputs = lineage.training_inputs(store, partition=PARTITION, hyperparameters={"epochs": 3})
    assert training.reason_not_to_train(settings, store, inputs, served, registry, warm) is None

    uri = training.record_failed_candidate(settings, store, candidate, run_key="train-2",
                                           reason="accuracy 0.9187 trails the champion's 0.9431", accuracy=0.9187)
    assert uri and store.exists(uri)
    reason = training.reason_not_to_train(settings, store, inputs, served, registry, warm)
    assert reason and "train-2" in reason and "failed the quality gate" in reason and "force=true" in reason
    # From other weights, or with other data, it is a different candidate: it trains.
    assert training.reason_not_to_train(settings, store, inputs, served, registry, None) is None
    other = lineage.TrainingInputs(**{**inputs.__dict__, "dataset_sha256": "f" * 64})
    assert training.reason_not_to_train(settings, store, other, served, registry, warm) is None


def test_a_partition_without_a_content_digest_records_no_refused_candidate(settings, store):
    from include.workflows import training

    store.put_bytes(PARTITION + "manifest.json", b'{"run_key": "old"}')
    candidate = {"partition": PARTITION, "hyperparameters": {"epochs": 3}, "model_url": "s3://b/m.tar.gz"}
    assert training.record_failed_candidate(settings, store, candidate, run_key="r", reason="x", accuracy=0.1) is None
