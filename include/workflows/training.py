"""Steps that turn a dataset partition into an evaluated, gated, registered model version.

Shared by ``scones_train`` and ``scones_tune``: both end in the same evaluation, quality
gate, registration and drift baseline (see :mod:`include.workflows.promotion`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from include.builders.evaluation import CAPTURE_FILE, baseline_request, evaluation_request
from include.builders.registry import model_package_request
from include.code_bundle import upload_program
from include.deployed_model import serving_version_or_none
from include.registry import ModelRegistry, model_data_url
from include.runtime.capabilities import ServedModels
from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore
from include.workflows import lineage

log = logging.getLogger(__name__)

RECENT_VERSIONS_COMPARED = 10
"""How many of the newest registered versions a training run's inputs are compared with, beside the serving one."""


class NoDatasetError(LookupError):
    """There is no published dataset partition to train on."""


def models_uri(settings: Settings, run_key: str) -> str:
    """Everything a run produces about its model lives under ``models/<run key>/``."""
    return settings.s3_uri(settings.prefixes.models, run_key) + "/"


def latest_partition(settings: Settings, store: ObjectStore) -> str:
    """The most recently published partition (its manifest is written last, so its time is the publish time)."""
    manifests = [o for o in store.list(settings.s3_uri(settings.prefixes.datasets) + "/")
                 if o.uri.endswith("/manifest.json")]
    if not manifests:
        raise NoDatasetError("no dataset partition has been published yet: run scones_ingest first")
    newest = max(manifests, key=lambda o: (o.last_modified, o.uri))
    return newest.uri.removesuffix("manifest.json")


def choose_partition(settings: Settings, store: ObjectStore, params: Mapping[str, Any],
                     asset_events: list[Any]) -> str:
    """The partition to train on: a ``partition`` param, else the newest triggering Asset event's, else the latest."""
    if params.get("partition"):
        return str(params["partition"]).rstrip("/") + "/"
    if asset_events:
        if len(asset_events) > 1:
            log.info("%d dataset events were coalesced into this run; training on the newest: %s",
                     len(asset_events), [e.extra.get("partition") for e in asset_events])
        return asset_events[-1].extra["partition"]
    return latest_partition(settings, store)


def manifest_sha256(store: ObjectStore, partition: str) -> str:
    import hashlib

    return hashlib.sha256(store.get_bytes(partition + "manifest.json")).hexdigest()


def champion_version(settings: Settings, served_models: ServedModels, registry: ModelRegistry) -> dict | None:
    """The version candidates must not fall behind: the one the endpoint serves (none before the first deployment)."""
    return serving_version_or_none(settings, served_models, registry)


def warm_start_model_url(settings: Settings, served_models: ServedModels, registry: ModelRegistry,
                         params: Mapping[str, Any]) -> str | None:
    """The serving model's ``model.tar.gz`` to retrain from (``training.warm_start``, or the run's ``warm_start``
    param), or ``None``: the first model, or a training from scratch."""
    wanted = params.get("warm_start")
    if not (settings.training.warm_start if wanted is None else wanted):
        return None
    serving = serving_version_or_none(settings, served_models, registry)
    if serving is None:
        log.info("no model serves yet: training from scratch")
        return None
    log.info("retraining from the serving version %s", serving["ModelPackageVersion"])
    return model_data_url(serving)


def candidate_inputs(store: ObjectStore, partition: str, hyperparameters: Mapping[str, Any]) -> lineage.TrainingInputs:
    """The digests a training run on ``partition`` with ``hyperparameters`` would register."""
    return lineage.training_inputs(store, partition=partition, hyperparameters=hyperparameters)


def failed_candidate_uri(settings: Settings, inputs: lineage.TrainingInputs, warm_start_model_url: str | None) -> str:
    """Where a candidate that failed the quality gate is recorded, by its inputs and starting weights."""
    return settings.s3_uri(settings.prefixes.registry, settings.registry.model_package_group, "failed-candidates",
                           f"{lineage.candidate_key(inputs, warm_start_model_url)}.json")


def record_failed_candidate(settings: Settings, store: ObjectStore, candidate: Mapping[str, Any], *, run_key: str,
                            reason: str, accuracy: float) -> str | None:
    """Record a candidate the gate refused, so a run on the same inputs stops before training; its URI, or
    ``None`` for a partition without a content digest."""
    inputs = lineage.training_inputs(store, partition=candidate["partition"],
                                     hyperparameters=candidate["hyperparameters"])
    if inputs.dataset_sha256 is None:
        return None
    uri = failed_candidate_uri(settings, inputs, candidate.get("warm_start_model_url"))
    store.put_bytes(uri, json.dumps({"run_key": run_key, "reason": reason, "accuracy": accuracy,
                                     "partition": candidate["partition"], "model_url": candidate["model_url"],
                                     "warm_start_model_url": candidate.get("warm_start_model_url"),
                                     "inputs": inputs.as_metadata()}, indent=2).encode())
    return uri


def reason_not_to_train(settings: Settings, store: ObjectStore, inputs: lineage.TrainingInputs,
                        served_models: ServedModels, registry: ModelRegistry,
                        warm_start_model_url: str | None) -> str | None:
    """Why training on these inputs would reproduce the serving model, a recently registered version or a
    candidate the gate refused, or ``None`` when it is worth it."""
    failed = None
    if inputs.dataset_sha256 is not None:
        with contextlib.suppress(ObjectNotFoundError):
            failed = json.loads(store.get_bytes(failed_candidate_uri(settings, inputs, warm_start_model_url)))
    return lineage.reason_not_to_train(inputs, serving_version_or_none(settings, served_models, registry),
                                       registry.recent_versions(RECENT_VERSIONS_COMPARED), failed)


def build_evaluation_request(settings: Settings, store: ObjectStore, registry: ModelRegistry,
                             served_models: ServedModels, *, run_key: str, job_name: str, model_url: str,
                             partition: str) -> dict:
    champion = champion_version(settings, served_models, registry)
    log.info("champion: %s", f"version {champion['ModelPackageVersion']} (serving)" if champion else "none yet")
    return evaluation_request(
        settings, run_key=run_key, job_name=job_name,
        code_uri=upload_program(settings, store, "model"),
        model_data_url=model_url, partition_uri=partition,
        champion_model_data_url=model_data_url(champion) if champion else None,
        output_uri=models_uri(settings, run_key) + "evaluation/",
    )


def read_evaluation(store: ObjectStore, evaluation_result: dict) -> tuple[str, dict]:
    output = evaluation_result["Processing"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    uri = output.rstrip("/") + "/evaluation.json"
    return uri, json.loads(store.get_bytes(uri))


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reason: str


def quality_gate(evaluation: dict, min_accuracy: float, max_regression: float) -> GateDecision:
    """Pass when accuracy clears the floor and trails the champion (re-scored on this test split) by at most
    ``max_regression``."""
    accuracy = evaluation["metrics"]["accuracy"]
    if accuracy < min_accuracy:
        return GateDecision(False, f"accuracy {accuracy:.4f} is below the floor {min_accuracy:.4f} (gate.min_accuracy)")
    champion = evaluation.get("champion")
    if champion is not None and accuracy < champion["accuracy"] - max_regression:
        return GateDecision(False, f"accuracy {accuracy:.4f} trails the champion's {champion['accuracy']:.4f} on "
                                   f"this test split by more than {max_regression:.4f} (gate.max_regression)")
    versus = f"; champion {champion['accuracy']:.4f}" if champion else "; no champion yet"
    return GateDecision(True, f"accuracy {accuracy:.4f} >= floor {min_accuracy:.4f}{versus}")


def register(settings: Settings, store: ObjectStore, registry: ModelRegistry, *, run_key: str, model_url: str,
             evaluation_uri: str, evaluation: dict, partition: str, training_job_name: str,
             hyperparameters: dict, warm_start_model_url: str | None = None) -> dict:
    trained_from = lineage.training_inputs(store, partition=partition, hyperparameters=hyperparameters)
    request = model_package_request(
        settings, run_key=run_key, model_data_url=model_url, evaluation_uri=evaluation_uri,
        metrics=evaluation["metrics"], dataset_manifest_sha256=manifest_sha256(store, partition),
        trained_from=trained_from.as_metadata(), hyperparameters=hyperparameters,
        training_job_name=training_job_name, weights_sha256=(evaluation.get("model") or {}).get("weights_sha256"),
        warm_start_model_url=warm_start_model_url,
    )
    record = registry.register(request)
    return {
        "model_package_arn": record["ModelPackageArn"],
        "version": record["ModelPackageVersion"],
        "approval_status": record["ModelApprovalStatus"],
        "model_data_url": model_data_url(record),
        "run_key": run_key,
        "accuracy": evaluation["metrics"]["accuracy"],
    }


def build_baseline_request(settings: Settings, store: ObjectStore, *, run_key: str, job_name: str,
                           evaluation_uri: str, model_url: str | None = None) -> dict:
    """The drift baseline of the model at ``model_url`` (its embeddings too, with ``monitor.embedding_drift``)."""
    return baseline_request(
        settings, run_key=run_key, job_name=job_name,
        code_uri=upload_program(settings, store, "monitor"),
        capture_uri=evaluation_uri.rsplit("/", 1)[0] + "/" + CAPTURE_FILE,
        output_uri=baseline_uri(settings, run_key), model_data_url=model_url,
    )


def baseline_uri(settings: Settings, run_key: str) -> str:
    return models_uri(settings, run_key) + "baseline/"
