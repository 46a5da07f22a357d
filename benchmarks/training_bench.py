"""Local training and tuning speed and memory on the default synthetic CIFAR archive.

Writes the default synthetic archive (seed 0), ingests it with the ingest program into a
partition, runs one local training job with the settings' default hyperparameters and prints
wall time, training images/s and validation accuracy (from ``training_summary.json``) and peak
RSS; then a local tuning job of 3 trials x 3 epochs and the wall time per trial.

    .venv/bin/python benchmarks/training_bench.py
"""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from devtools.synthetic import write_cifar_archive  # noqa: E402
from include.builders.training import training_job_request, upload_training_source  # noqa: E402
from include.builders.tuning import tuning_job_request  # noqa: E402
from include.runtime.local.job_records import LocalJobRegistry  # noqa: E402
from include.runtime.local.store import LocalObjectStore  # noqa: E402
from include.runtime.local.training import run_training_job  # noqa: E402
from include.runtime.local.tuning import run_tuning_job  # noqa: E402
from include.settings import Settings, load_settings  # noqa: E402
from include.storage import upload_directory  # noqa: E402

INGEST = PROJECT_ROOT / "programs" / "ingest" / "ingest.py"
RUN_KEY = "bench"
TUNING_TRIALS = 3
TUNING_EPOCHS = 3


def children_peak_rss_mb() -> float:
    """The largest peak RSS of any finished child process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def ingest_partition(work: Path) -> Path:
    archive_dir, partition = work / "archive", work / "partition"
    started = time.perf_counter()
    md5 = write_cifar_archive(archive_dir / "cifar-100-python.tar.gz", seed=0)
    subprocess.run(
        [sys.executable, str(INGEST), "--archive-dir", str(archive_dir), "--archive-md5", md5,
         "--labelled-dir", str(work / "no-labelled"), "--output-dir", str(partition), "--run-key", RUN_KEY],
        check=True, stdout=subprocess.DEVNULL,
    )
    counts = json.loads((partition / "manifest.json").read_text())["counts"]
    print(f"archive + ingest: {time.perf_counter() - started:.1f} s, partition counts {counts}")
    return partition


def training_request(settings: Settings, store: LocalObjectStore, job_name: str) -> dict:
    partition_uri = settings.s3_uri(settings.prefixes.datasets, RUN_KEY) + "/"
    return training_job_request(
        settings, run_key=RUN_KEY, job_name=job_name, partition_uri=partition_uri,
        source_uri=upload_training_source(settings, store), hyperparameters=settings.training.hyperparameters(),
        output_uri=settings.s3_uri(settings.prefixes.models, RUN_KEY) + "/",
    )


def training_summary(store: LocalObjectStore, description: dict) -> dict:
    output_uri = description["ModelArtifacts"]["S3ModelArtifacts"].replace("model.tar.gz", "output.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(output_uri))) as tar:
        member = tar.extractfile("training_summary.json")
        assert member is not None
        return json.loads(member.read())


def bench_training(settings: Settings, store: LocalObjectStore, work: Path) -> dict:
    rss_before = children_peak_rss_mb()
    registry = LocalJobRegistry(work / "jobs", "training")
    started = time.perf_counter()
    description = run_training_job(training_request(settings, store, "scones-training-bench"), store=store,
                                   registry=registry, log=lambda _: None)
    wall = time.perf_counter() - started
    summary = training_summary(store, description)
    final = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    print(f"training job: {wall:.1f} s wall ({summary['wall_seconds']:.1f} s in train.py, "
          f"{summary['training_seconds']:.1f} s in training passes), {summary['epochs_run']} epochs "
          f"(stopped early: {summary['stopped_early']}), images {summary['image_counts']}")
    print(f"  throughput: {summary['training_images_per_second']} training images/s "
          f"on {summary['torch_threads']} torch threads")
    print(f"  validation accuracy: best {summary['best_validation_accuracy']:.4f} "
          f"(epoch {summary['best_epoch']}), last logged {final.get('validation:accuracy')}")
    print(f"  peak RSS of the training process: {summary['peak_rss_megabytes']:.0f} MB (its own ru_maxrss); "
          f"children max ru_maxrss {children_peak_rss_mb():.0f} MB (before the job: {rss_before:.0f} MB, ingest)")
    return description


def bench_tuning(settings: Settings, store: LocalObjectStore, work: Path) -> None:
    training = training_request(settings, store, "scones-training-bench-template")
    request = tuning_job_request(settings, run_key=RUN_KEY, tuning_job_name="scones-tune-bench",
                                 training_request_template=training)
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = TUNING_TRIALS
    request["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"] = json.dumps(TUNING_EPOCHS)
    parallel = request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"]
    started = time.perf_counter()
    description = run_tuning_job(request, store=store, registry=LocalJobRegistry(work / "jobs", "tuning"),
                                 log=lambda _: None)
    wall = time.perf_counter() - started
    training_registry = LocalJobRegistry(work / "jobs", "training")
    print(f"tuning job: {TUNING_TRIALS} trials x {TUNING_EPOCHS} epochs, up to {parallel} in parallel: "
          f"{wall:.1f} s wall, {wall / TUNING_TRIALS:.1f} s wall per trial")
    for path in sorted(training_registry.root.glob("scones-tune-bench-*")):
        trial = training_registry.describe(path.name)
        metrics = {m["MetricName"]: m["Value"] for m in trial["FinalMetricDataList"]}
        tuned = {k: trial["HyperParameters"][k] for k in ("learning-rate", "dropout", "width", "augment")}
        print(f"  {path.name}: {trial['TrainingTimeInSeconds']} s, validation:accuracy "
              f"{metrics.get('validation:accuracy')}, {tuned}")
    best = description["BestTrainingJob"]
    print(f"  best: {best['TrainingJobName']} "
          f"{best['FinalHyperParameterTuningJobObjectiveMetric']['Value']}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="training-bench-") as tmp:
        work = Path(tmp)
        settings = load_settings(environ={"SCONES_DATA_ROOT": str(work / "data")})
        store = LocalObjectStore(settings.data_root)
        partition = ingest_partition(work)
        upload_directory(store, partition, settings.s3_uri(settings.prefixes.datasets, RUN_KEY))
        bench_training(settings, store, work)
        bench_tuning(settings, store, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
