"""SageMaker script-mode entry point: train the bicycle-vs-motorcycle classifier.

Reads the `train` and `validation` channels, takes hyperparameters as the training toolkit
passes them (`--name value` pairs, also SM_HPS), writes model.pt, model_config.json and the
serving code/ into SM_MODEL_DIR and training_summary.json into SM_OUTPUT_DATA_DIR.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from channel_data import ChannelError, load_channel
from hyperparameters import HyperparameterError, Hyperparameters, resolve_hyperparameters
from model_artifacts import ModelArtifactError, save_model, weights_sha256
from training_job import Retraining, TrainingOutcome, run_training
from warm_start import WARM_START_CHANNEL_ENV, image_digests, load_warm_start, write_trained_on

SUMMARY_FILE = "training_summary.json"
DEFAULT_CHECKPOINT_DIR = "/opt/ml/checkpoints"


@dataclass(frozen=True)
class JobPaths:
    """Where a SageMaker training container reads and writes."""

    train: Path
    validation: Path
    model_dir: Path
    output_data_dir: Path
    checkpoint_dir: Path | None
    failure_file: Path | None
    warm_start: Path | None = None


def job_paths(environ: Mapping[str, str]) -> JobPaths:
    """Paths from the SM_* environment, defaulting to SageMaker's /opt/ml layout."""
    checkpoint_dir = environ.get("SM_CHECKPOINT_DIR")
    if not checkpoint_dir and Path(DEFAULT_CHECKPOINT_DIR).is_dir():
        checkpoint_dir = DEFAULT_CHECKPOINT_DIR
    output_dir = environ.get("SM_OUTPUT_DIR") or ("/opt/ml/output" if Path("/opt/ml/output").is_dir() else "")
    return JobPaths(
        train=Path(environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")),
        validation=Path(environ.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")),
        model_dir=Path(environ.get("SM_MODEL_DIR", "/opt/ml/model")),
        output_data_dir=Path(environ.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data")),
        checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
        failure_file=Path(output_dir) / "failure" if output_dir else None,
        warm_start=Path(environ[WARM_START_CHANNEL_ENV]) if environ.get(WARM_START_CHANNEL_ENV) else None,
    )


def torch_threads(environ: Mapping[str, str], requested_threads: int = 0) -> int:
    """Intra-op threads: the ``threads`` hyperparameter if set, else SM_NUM_CPUS, capped by the CPUs this process
    may use."""
    if requested_threads > 0:
        return requested_threads
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        requested = int(environ.get("SM_NUM_CPUS", available))
    except ValueError:
        requested = available
    return max(1, min(requested, available))


def peak_rss_megabytes() -> float:
    """Peak resident memory of this process (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def training_summary(
    outcome: TrainingOutcome, hyperparameters: Hyperparameters, wall_seconds: float, counts: dict[str, int],
    retraining: Retraining | None = None,
) -> dict:
    """What the job reports in training_summary.json."""
    best = next((row for row in outcome.history if row["epoch"] == outcome.best_epoch), None)
    return {
        "weights_sha256": weights_sha256(outcome.network.state_dict()),
        "seed": hyperparameters.seed,
        "warm_start": None if retraining is None else {
            "weights_sha256": retraining.warm_start.weights_sha256,
            "new_train_images": int(retraining.new_in_train.sum()),
            "new_validation_images": int(retraining.new_in_validation.sum()),
            "new_data_share": hyperparameters.new_data_share,
        },
        "best_epoch": outcome.best_epoch,
        "best_validation_accuracy": best["validation_accuracy"] if best else None,
        "best_validation_loss": best["validation_loss"] if best else None,
        "epochs_run": len(outcome.history),
        "stopped_early": outcome.stopped_early,
        "resumed_after_epoch": outcome.resumed_after_epoch,
        "history": outcome.history,
        "hyperparameters": hyperparameters.as_dict(),
        "backbone": outcome.model_config["backbone"],
        "architecture": outcome.model_config["architecture"],
        "image_counts": counts,
        "wall_seconds": round(wall_seconds, 3),
        "training_seconds": round(outcome.training_seconds, 3),
        "training_images_per_second": (
            round(outcome.training_images / outcome.training_seconds, 1) if outcome.training_seconds else None
        ),
        "torch_threads": torch.get_num_threads(),
        "peak_rss_megabytes": peak_rss_megabytes(),
    }


def train(argv: list[str], environ: Mapping[str, str]) -> dict:
    """Run the whole job and return its summary."""
    started = time.perf_counter()
    hyperparameters = resolve_hyperparameters(argv, dict(environ))
    paths = job_paths(environ)
    torch.set_num_threads(torch_threads(environ, hyperparameters.threads))
    print(f"hyperparameters {json.dumps(hyperparameters.as_dict(), sort_keys=True)}", flush=True)
    train_data = load_channel("train", paths.train)
    validation_data = load_channel("validation", paths.validation)
    digests = {split: image_digests(split, folder) for split, folder in
               (("train", paths.train), ("validation", paths.validation))}
    counts = {"train": len(train_data[1]), "validation": len(validation_data[1])}
    print(f"images train={counts['train']} validation={counts['validation']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="warm-start-") as work_dir:
        warm_start = load_warm_start(paths.warm_start, Path(work_dir), hyperparameters)
    retraining = None if warm_start is None else Retraining(
        warm_start, warm_start.new_images(digests["train"], "train"),
        warm_start.new_images(digests["validation"], "validation"))
    if retraining is not None:
        print(f"new to the serving model: {int(retraining.new_in_train.sum())} training and "
              f"{int(retraining.new_in_validation.sum())} validation images", flush=True)
    outcome = run_training(hyperparameters, train_data, validation_data, paths.checkpoint_dir, environ, retraining)
    save_model(paths.model_dir, outcome.network, outcome.model_config)
    write_trained_on(paths.model_dir, digests["train"], digests["validation"], warm_start)
    summary = training_summary(outcome, hyperparameters, time.perf_counter() - started, counts, retraining)
    paths.output_data_dir.mkdir(parents=True, exist_ok=True)
    (paths.output_data_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"best_epoch={summary['best_epoch']} "
        f"best_validation_accuracy={summary['best_validation_accuracy']:.4f} "
        f"weights_sha256={summary['weights_sha256']} "
        f"wall_seconds={summary['wall_seconds']:.1f} "
        f"images_per_second={summary['training_images_per_second']}",
        flush=True,
    )
    return summary


def record_failure(paths_environ: Mapping[str, str], message: str) -> None:
    """Print the failure and leave it where SageMaker reads a job's FailureReason."""
    print(message, file=sys.stderr, flush=True)
    failure_file = job_paths(paths_environ).failure_file
    if failure_file is not None:
        try:
            failure_file.parent.mkdir(parents=True, exist_ok=True)
            failure_file.write_text(message + "\n")
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    try:
        train(sys.argv[1:] if argv is None else argv, os.environ)
    except (ChannelError, HyperparameterError, ModelArtifactError) as error:
        record_failure(os.environ, f"{type(error).__name__}: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
