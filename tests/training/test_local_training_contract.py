"""The local runtime gives a training program SageMaker's training container contract."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from include.retry_policy import classify
from include.runtime.local.job_records import LocalJobRegistry
from include.runtime.local.training import TrainingJobError, metric_series, run_training_job
from tests.training.conftest import OUTPUT_URI, PROBE_SOURCE_URI
from tests.training.probe import probe_tarball


def _tar_member(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read()


@pytest.fixture
def registry(work_root) -> LocalJobRegistry:
    return LocalJobRegistry(work_root, "training")


@pytest.fixture
def probe_job(probe_request, store, registry):
    """A completed probe job: its request, description and the report it wrote."""
    request = probe_request(score=0.75)
    description = run_training_job(request, store=store, registry=registry, log=lambda _: None)
    output = store.get_bytes(f"{OUTPUT_URI}{request['TrainingJobName']}/output/output.tar.gz")
    return request, description, json.loads(_tar_member(output, "probe.json"))


def test_toolkit_environment_is_present_and_remapped(probe_job, registry):
    request, _, report = probe_job
    env = report["env"]
    job_root = str(registry.job_dir(request["TrainingJobName"]) / "opt" / "ml")
    assert env["SM_MODEL_DIR"] == f"{job_root}/model"
    assert env["SM_CHANNEL_TRAIN"] == f"{job_root}/input/data/train"
    assert env["SM_CHANNEL_VALIDATION"] == f"{job_root}/input/data/validation"
    assert env["SM_OUTPUT_DATA_DIR"] == f"{job_root}/output/data"
    assert env["SM_OUTPUT_DIR"] == f"{job_root}/output"
    assert env["SM_INPUT_DIR"] == f"{job_root}/input"
    assert env["SM_INPUT_CONFIG_DIR"] == f"{job_root}/input/config"
    assert json.loads(env["SM_CHANNELS"]) == ["train", "validation"]
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"] and env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_NUM_GPUS"] == "0" and int(env["SM_NUM_CPUS"]) >= 1
    assert env["SM_LOG_LEVEL"] == "20"
    assert env["SM_MODULE_DIR"] == PROBE_SOURCE_URI


def test_hyperparameters_reach_the_program_as_the_toolkit_passes_them(probe_job):
    _, _, report = probe_job
    argv = report["argv"]
    names = argv[0::2]
    assert names == sorted(names) and not any(name.startswith("--sagemaker_") for name in names)
    pairs = dict(zip(argv[0::2], argv[1::2], strict=True))
    assert pairs["--score"] == "0.75" and pairs["--backbone"] == "scratch" and pairs["--augment"] == "False"
    hps = json.loads(report["env"]["SM_HPS"])
    assert hps["epochs"] == 1 and hps["backbone"] == "scratch" and "sagemaker_program" not in hps
    assert report["env"]["SM_HP_BATCH-SIZE"] == "8"
    assert json.loads(report["env"]["SM_USER_ARGS"]) == argv


def test_program_runs_in_the_code_folder_with_its_channels(probe_job, registry):
    request, _, report = probe_job
    assert report["cwd"] == str(registry.job_dir(request["TrainingJobName"]) / "opt" / "ml" / "code")
    assert len(report["channels"]["train"]) == 24
    assert "bicycle/bicycle_000.png" in report["channels"]["validation"]


def test_config_files_are_written_where_sagemaker_writes_them(probe_request, store, registry):
    request = probe_request(fail=True)
    with pytest.raises(TrainingJobError):
        run_training_job(request, store=store, registry=registry, log=lambda _: None)
    config = registry.job_dir(request["TrainingJobName"]) / "opt" / "ml" / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == request["HyperParameters"]
    data_config = json.loads((config / "inputdataconfig.json").read_text())
    assert data_config["train"] == {"ContentType": "application/x-image", "TrainingInputMode": "File",
                                    "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
    resource = json.loads((config / "resourceconfig.json").read_text())
    assert resource["current_host"] == "algo-1" and resource["hosts"] == ["algo-1"]


def test_metrics_are_parsed_with_the_request_regexes(probe_job, registry):
    request, description, _ = probe_job
    final = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert final == {"train:loss": 0.4, "validation:accuracy": 0.75}
    series = [m["Value"] for m in metric_series(registry, request["TrainingJobName"])
              if m["MetricName"] == "validation:accuracy"]
    assert series == [0.1, 0.75]


def test_model_and_output_archives_land_under_the_job_output(probe_job, store):
    request, description, _ = probe_job
    model_uri = f"{OUTPUT_URI}{request['TrainingJobName']}/output/model.tar.gz"
    assert description["ModelArtifacts"]["S3ModelArtifacts"] == model_uri
    assert _tar_member(store.get_bytes(model_uri), "code/inference.py") == b"# serving code\n"
    assert description["TrainingJobStatus"] == "Completed"
    assert description["TrainingTimeInSeconds"] >= 1


def test_checkpoints_are_preloaded_and_synced_back(settings, probe_request, store, registry):
    request = probe_request()
    request["CheckpointConfig"] = {"S3Uri": "s3://scones-mlops/jobs/training/probe/checkpoints/",
                                   "LocalPath": "/opt/ml/checkpoints"}
    store.put_bytes("s3://scones-mlops/jobs/training/probe/checkpoints/epoch-1.ckpt", b"earlier")
    run_training_job(request, store=store, registry=registry, log=lambda _: None)
    output = store.get_bytes(f"{OUTPUT_URI}{request['TrainingJobName']}/output/output.tar.gz")
    assert json.loads(_tar_member(output, "probe.json"))["checkpoints_before"] == ["epoch-1.ckpt"]
    assert store.get_bytes("s3://scones-mlops/jobs/training/probe/checkpoints/epoch-2.ckpt") == b"state"


def test_missing_channel_fails_the_job_and_uploads_nothing(probe_request, store, registry):
    request = probe_request()
    request["InputDataConfig"][1]["DataSource"]["S3DataSource"]["S3Uri"] = "s3://scones-mlops/datasets/none/"
    with pytest.raises(TrainingJobError, match="channel 'validation' has no S3 objects under"):
        run_training_job(request, store=store, registry=registry, log=lambda _: None)
    assert store.list(OUTPUT_URI) == []
    assert registry.describe(request["TrainingJobName"])["TrainingJobStatus"] == "Failed"


def test_failure_reason_comes_from_the_failure_file(probe_request, store, registry):
    request = probe_request(fail=True)
    with pytest.raises(TrainingJobError, match="AlgorithmError: ProbeError: asked to fail"):
        run_training_job(request, store=store, registry=registry, log=lambda _: None)
    assert registry.describe(request["TrainingJobName"])["FailureReason"] == "AlgorithmError: ProbeError: asked to fail"
    assert store.list(OUTPUT_URI) == []


def test_a_program_killed_from_outside_fails_the_job_with_a_reason_worth_a_retry(probe_request, store, registry):
    request = probe_request(signal=9)
    killed_by = "InternalServerError: the job's program was killed by SIGKILL"
    with pytest.raises(TrainingJobError, match=killed_by) as killed:
        run_training_job(request, store=store, registry=registry, log=lambda _: None)
    assert classify(killed.value)[0] == "transient"
    assert registry.describe(request["TrainingJobName"])["TrainingJobStatus"] == "Failed"


def test_source_archive_escaping_the_code_folder_is_refused(probe_request, store, registry, work_root):
    store.put_bytes(PROBE_SOURCE_URI, probe_tarball(extra={"../../escaped.py": b"x"}))
    request = probe_request()
    with pytest.raises(TrainingJobError, match=r"source archive .* is unusable"):
        run_training_job(request, store=store, registry=registry, log=lambda _: None)
    assert not list(work_root.rglob("escaped.py"))
    assert store.list(OUTPUT_URI) == []
