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
