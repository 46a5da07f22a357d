"""The real training program (programs/model/train.py) runs as a local training job."""

from __future__ import annotations

import io
import json
import random
import tarfile

import pytest

from include.runtime.local.job_records import LocalJobRegistry
from include.runtime.local.store import LocalObjectStore
from include.runtime.local.training import TrainingJobError, run_training_job
from include.settings import load_settings
from tests.training.conftest import OUTPUT_URI, PARTITION_URI, build_request, put_partition, vehicle_png


def _archive(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One spot training job of the real program, 1 epoch on the tiny partition."""
    root = tmp_path_factory.mktemp("real-training")
    settings = load_settings(
        environ={"SCONES_DATA_ROOT": str(root / "data"), "SCONES_INSTANCES__SPOT_TRAINING": "true"}
    )
    store = LocalObjectStore(settings.data_root)
    put_partition(store)
    request = build_request(settings, store, job_name="scones-training-real")
    lines: list[str] = []
    description = run_training_job(request, store=store, registry=LocalJobRegistry(root / "work", "training"),
                                   log=lines.append, num_cpus=1)
    return request, description, store, lines


def test_model_archive_holds_the_model_and_its_serving_code(trained):
    _, description, store, _ = trained
    members = _archive(store.get_bytes(description["ModelArtifacts"]["S3ModelArtifacts"]))
    serving_code = {"code/inference.py", "code/preprocessing.py", "code/photo_square.py"}
    assert {"model.pt", "model_config.json", *serving_code} <= set(members)
    assert json.loads(members["model_config.json"])["classes"] == ["bicycle", "motorcycle"]


def test_final_metrics_match_the_training_summary(trained):
    request, description, store, _ = trained
    output = _archive(store.get_bytes(f"{OUTPUT_URI}{request['TrainingJobName']}/output/output.tar.gz"))
    last_epoch = json.loads(output["training_summary.json"])["history"][-1]
    final = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert final["validation:accuracy"] == pytest.approx(last_epoch["validation_accuracy"], abs=1e-4)
    assert final["train:loss"] == pytest.approx(last_epoch["train_loss"], abs=1e-4)


def test_program_reads_the_toolkit_arguments(trained):
    *_, lines = trained
    logged = json.loads(next(line for line in lines if line.startswith("hyperparameters "))[len("hyperparameters "):])
    assert logged["epochs"] == 1 and logged["batch-size"] == 8 and logged["width"] == 0.5
    assert logged["augment"] is False


def test_spot_checkpoint_is_synced_to_the_checkpoint_uri(trained):
    request, _, store, _ = trained
    synced = [o.uri for o in store.list(request["CheckpointConfig"]["S3Uri"])]
    assert synced == [request["CheckpointConfig"]["S3Uri"] + "checkpoint.pt"]


def _summary(store, description: dict) -> dict:
    output_uri = description["ModelArtifacts"]["S3ModelArtifacts"].replace("model.tar.gz", "output.tar.gz")
    return json.loads(_archive(store.get_bytes(output_uri))["training_summary.json"])


def test_a_retraining_starts_from_the_serving_models_archive_and_knows_what_is_new(trained):
    _, description, store, _ = trained
    first = _summary(store, description)
    settings = load_settings(environ={"SCONES_DATA_ROOT": str(store.root)})
    labelled_since = f"{PARTITION_URI}train/bicycle/labelled-since.png"
    store.put_bytes(labelled_since, vehicle_png("bicycle", random.Random(7)))
    retraining = build_request(settings, store, job_name="scones-training-retrain",
                               warm_start_model_url=description["ModelArtifacts"]["S3ModelArtifacts"])
    lines: list[str] = []
    try:
        retrained = run_training_job(retraining, store=store, log=lines.append, num_cpus=1,
                                     registry=LocalJobRegistry(store.root.parent / "work", "training"))
    finally:
        store.delete(labelled_since)
    summary = _summary(store, retrained)
    assert summary["warm_start"]["weights_sha256"] == first["weights_sha256"]
    assert (summary["warm_start"]["new_train_images"], summary["warm_start"]["new_validation_images"]) == (1, 0)
    assert any("channel warmstart: 1 file(s)" in line for line in lines)


def test_corrupt_channel_image_fails_the_job_and_uploads_nothing(settings, store, work_root):
    store.put_bytes("s3://scones-mlops/datasets/20260101T0000/train/bicycle/broken.png", b"not a png")
    registry = LocalJobRegistry(work_root, "training")
    request = build_request(settings, store, job_name="scones-training-corrupt")
    with pytest.raises(TrainingJobError, match=r"AlgorithmError: ChannelError: channel 'train' .*broken\.png"):
        run_training_job(request, store=store, registry=registry, log=lambda _: None, num_cpus=1)
    assert store.list(OUTPUT_URI) == []
    assert registry.describe("scones-training-corrupt")["TrainingJobStatus"] == "Failed"
