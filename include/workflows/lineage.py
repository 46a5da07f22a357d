"""What a model was trained from — data, training code, hyperparameters — as three digests, and whether a
training run would learn anything the deployed model does not already know.

The digests are registered with each model version (``CustomerMetadataProperties``). A ``scones_train``
run whose three digests all equal the serving version's — or a recently registered version's, one still
waiting to deploy, rolled back or rejected — is skipped: on AWS it would pay for a training job, a registry
version and a blue/green deployment to reproduce a model that exists. A candidate that failed the quality
gate is never registered, so its inputs (and the weights it started from) are recorded apart: training is
deterministic, so the same inputs would fail the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from include.code_bundle import PROGRAM_DIRS, source_digest
from include.storage import ObjectStore

DATASET_DIGEST = "scones:dataset-sha256"
CODE_DIGEST = "scones:code-sha256"
HYPERPARAMETERS_DIGEST = "scones:hyperparameters-sha256"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class TrainingInputs:
    """The digests of a model's data (images and labels), training code and hyperparameters."""

    dataset_sha256: str | None
    code_sha256: str
    hyperparameters_sha256: str

    def as_metadata(self) -> dict[str, str]:
        return {DATASET_DIGEST: self.dataset_sha256 or "unknown", CODE_DIGEST: self.code_sha256,
                HYPERPARAMETERS_DIGEST: self.hyperparameters_sha256}


def hyperparameters_sha256(hyperparameters: Mapping[str, Any]) -> str:
    """A digest of the values as the training job receives them (JSON), so the run's params and the values read
    back from the finished job's description digest alike."""
    canonical = {str(name): json.loads(json.dumps(value)) for name, value in hyperparameters.items()}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def dataset_sha256(store: ObjectStore, partition: str) -> str | None:
    """The partition's content digest from its manifest (``None`` for partitions ingested before it existed)."""
    manifest = json.loads(store.get_bytes(partition.rstrip("/") + "/" + MANIFEST))
    return manifest.get("content_sha256")


def training_code_sha256() -> str:
    return source_digest(PROGRAM_DIRS["model"])


def training_inputs(store: ObjectStore, *, partition: str, hyperparameters: Mapping[str, Any]) -> TrainingInputs:
    return TrainingInputs(dataset_sha256(store, partition), training_code_sha256(),
                          hyperparameters_sha256(hyperparameters))


def registered_inputs(record: Mapping[str, Any]) -> TrainingInputs | None:
    """The digests a registered version was trained from; ``None`` when it predates them."""
    metadata = record.get("CustomerMetadataProperties", {})
    if not all(metadata.get(key) for key in (DATASET_DIGEST, CODE_DIGEST, HYPERPARAMETERS_DIGEST)):
        return None
    dataset = metadata[DATASET_DIGEST]
    return TrainingInputs(None if dataset == "unknown" else dataset, metadata[CODE_DIGEST],
                          metadata[HYPERPARAMETERS_DIGEST])


def candidate_key(inputs: TrainingInputs, warm_start_model_url: str | None) -> str:
    """One digest of a candidate's three input digests and the weights it started from (``scratch`` if none)."""
    text = json.dumps({**inputs.as_metadata(), "warm_start": warm_start_model_url or "scratch"}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def reason_not_to_train(candidate: TrainingInputs, serving: Mapping[str, Any] | None,
                        registered: Iterable[Mapping[str, Any]] = (),
                        failed: Mapping[str, Any] | None = None) -> str | None:
    """Why training would reproduce a model that exists, or ``None`` to train.

    A model exists when the serving version, or one of the ``registered`` versions (the newest of the group),
    was trained on the same data, code and hyperparameters. The registered ones matter when a version is not
    serving yet (deployment waiting or baking), was rolled back, or was rejected: training again would only
    make it again. ``failed`` is the record of a candidate with the same inputs and starting weights that
    failed the quality gate (:func:`candidate_key`).
    """
    if candidate.dataset_sha256 is None:
        return None
    advice = ("Label photos or change the hyperparameters, or trigger scones_train with force=true to train "
              "anyway")
    if serving is not None and registered_inputs(serving) == candidate:
        return (f"the serving model version {serving['ModelPackageVersion']} ({serving['ModelPackageArn']}) was "
                f"trained on {_described(candidate)}: a new run would learn nothing it does not know. {advice}")
    for record in registered:
        if registered_inputs(record) == candidate:
            status = record.get("ModelApprovalStatus", "unknown")
            return (f"model version {record['ModelPackageVersion']} ({record['ModelPackageArn']}, {status}, not "
                    f"serving) was trained on {_described(candidate)}: a new run would make it again. Deploy or "
                    f"approve it, or: {advice}")
    if failed is not None:
        return (f"run {failed.get('run_key')} trained a candidate on {_described(candidate)}, from the same "
                f"weights, and it failed the quality gate ({failed.get('reason')}): training is deterministic, so "
                f"a new run would fail the same way. {advice}")
    return None


def _described(inputs: TrainingInputs) -> str:
    return (f"the same data (content sha256 {(inputs.dataset_sha256 or '')[:12]}), the same training code "
            f"(sha256 {inputs.code_sha256[:12]}) and the same hyperparameters "
            f"(sha256 {inputs.hyperparameters_sha256[:12]})")
