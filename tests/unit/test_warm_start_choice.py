"""Which model a training starts from: the serving version's archive, or none (first model, or from scratch)."""

from __future__ import annotations

import pytest

from include.builders.registry import model_package_request
from include.runtime.capabilities import ServedModel
from include.runtime.local.registry import LocalModelRegistry
from include.workflows.training import warm_start_model_url

MODEL_URL = "s3://scones-mlops/models/train-a/training/scones-train-a/output/model.tar.gz"


class Serving:
    """An endpoint that serves ``arn`` (nothing when None)."""

    def __init__(self, arn: str | None) -> None:
        self.arn = arn

    def served_model(self, endpoint_name: str) -> ServedModel | None:
        if self.arn is None:
            return None
        return ServedModel(endpoint_name, "config-a", "model-a", self.arn)


@pytest.fixture
def registry(settings):
    return LocalModelRegistry(settings)


@pytest.fixture
def serving(settings, registry) -> Serving:
    request = model_package_request(
        settings, run_key="train-a", model_data_url=MODEL_URL,
        evaluation_uri="s3://scones-mlops/models/train-a/evaluation/evaluation.json",
        metrics={"accuracy": 0.9, "ece": 0.05}, dataset_manifest_sha256="a" * 64, trained_from={},
        hyperparameters={"seed": 42}, training_job_name="scones-train-a")
    return Serving(registry.register({**request, "ModelApprovalStatus": "Approved"})["ModelPackageArn"])


def test_a_retraining_starts_from_the_model_the_endpoint_serves(settings, registry, serving):
    assert warm_start_model_url(settings, serving, registry, {}) == MODEL_URL


def test_the_first_training_starts_from_scratch(settings, registry):
    assert warm_start_model_url(settings, Serving(None), registry, {}) is None


def test_the_runs_warm_start_param_false_trains_from_scratch(settings, registry, serving):
    assert warm_start_model_url(settings, serving, registry, {"warm_start": False}) is None


def test_the_setting_off_trains_from_scratch_unless_the_run_asks(settings, registry, serving):
    off = settings.model_copy(update={"training": settings.training.model_copy(update={"warm_start": False})})
    assert warm_start_model_url(off, serving, registry, {}) is None
    assert warm_start_model_url(off, serving, registry, {"warm_start": True}) == MODEL_URL


def test_the_version_records_the_weights_it_started_from(settings, registry, serving):
    """Warm start is an input of the model: the registry says which weights a version was trained from."""
    from include.builders.registry import WARM_START
    from include.builders.training import training_job_request
    from include.workflows.training_requests import describe_candidate

    records = {}
    for name, start in (("warm", MODEL_URL), ("scratch", None)):
        request = training_job_request(
            settings, run_key=f"train-{name}", job_name=f"scones-train-{name}",
            partition_uri="s3://scones-mlops/datasets/20260102T0000/",
            source_uri="s3://scones-mlops/code/model/x/sourcedir.tar.gz", hyperparameters={"seed": 42},
            output_uri=f"s3://scones-mlops/models/train-{name}/training", warm_start_model_url=start)
        finished = {"Training": {**request, "ModelArtifacts": {"S3ModelArtifacts": f"s3://b/{name}/model.tar.gz"}}}
        candidate = describe_candidate(finished, "s3://scones-mlops/datasets/20260102T0000/")
        assert candidate["warm_start_model_url"] == start
        version = model_package_request(
            settings, run_key=f"train-{name}", model_data_url=candidate["model_url"],
            evaluation_uri=f"s3://scones-mlops/models/train-{name}/evaluation/evaluation.json",
            metrics={"accuracy": 0.9, "ece": 0.05}, dataset_manifest_sha256="a" * 64, trained_from={},
            hyperparameters=candidate["hyperparameters"], training_job_name=f"scones-train-{name}",
            warm_start_model_url=candidate["warm_start_model_url"])
        records[name] = version["CustomerMetadataProperties"][WARM_START]
    assert records == {"warm": MODEL_URL, "scratch": "scratch"}
