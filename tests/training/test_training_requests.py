"""The training and tuning requests, validated against botocore's SageMaker model."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from include.builders.training import METRIC_DEFINITIONS_FILE, upload_training_source
from include.builders.tuning import tuning_job_name, tuning_job_request
from include.runtime.job_reuse import attempt_name
from include.runtime.local.store import LocalObjectStore
from include.settings import get_settings
from tests.support.botocore_contract import assert_valid_request, request_errors
from tests.training.conftest import build_request

LONG_RUN_ID_KEY = "manual-2026-01-01t00-00-00-123456-00-00-with-a-long-suffix"


@pytest.fixture
def spot_settings(scones_env, monkeypatch):
    monkeypatch.setenv("SCONES_INSTANCES__SPOT_TRAINING", "true")
    get_settings.cache_clear()
    return get_settings()


def test_training_request_is_valid(settings, store):
    assert_valid_request("sagemaker", "CreateTrainingJob", build_request(settings, store))


def test_hyperparameters_are_json_encoded_like_the_sdk(settings, store):
    hyperparameters = build_request(settings, store)["HyperParameters"]
    assert hyperparameters["sagemaker_program"] == '"train.py"'
    assert json.loads(hyperparameters["sagemaker_submit_directory"]).endswith("/sourcedir.tar.gz")
    assert hyperparameters["sagemaker_container_log_level"] == "20"
    assert hyperparameters["backbone"] == '"scratch"'
    assert hyperparameters["augment"] == "false"
    assert all(isinstance(value, str) for value in hyperparameters.values())


def test_channels_read_the_partition_splits_as_images(settings, store):
    channels = {c["ChannelName"]: c for c in build_request(settings, store)["InputDataConfig"]}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"].endswith("/20260101T0000/train/")
    assert channels["validation"]["DataSource"]["S3DataSource"]["S3Uri"].endswith("/20260101T0000/validation/")
    assert {c["ContentType"] for c in channels.values()} == {"application/x-image"}


def test_a_warm_started_request_reads_the_serving_model_as_its_warmstart_channel(settings, store):
    model_url = "s3://scones-mlops/models/train-20260101T0000/training/scones-train-x/output/model.tar.gz"
    request = build_request(settings, store, warm_start_model_url=model_url)
    assert_valid_request("sagemaker", "CreateTrainingJob", request)
    channels = {c["ChannelName"]: c for c in request["InputDataConfig"]}
    assert set(channels) == {"train", "validation", "warmstart"}
    assert channels["warmstart"]["DataSource"]["S3DataSource"]["S3Uri"] == model_url
    assert channels["warmstart"]["InputMode"] == "File"


def test_without_a_serving_model_the_request_has_only_the_data_channels(settings, store):
    assert [c["ChannelName"] for c in build_request(settings, store)["InputDataConfig"]] == ["train", "validation"]


def test_the_seed_and_thread_count_reach_the_training_program(settings, store):
    hyperparameters = build_request(settings, store)["HyperParameters"]
    assert json.loads(hyperparameters["seed"]) == settings.training.seed
    assert json.loads(hyperparameters["threads"]) == settings.training.threads


def test_metric_definitions_come_from_the_model_folder(settings, store):
    algorithm = build_request(settings, store)["AlgorithmSpecification"]
    assert algorithm["MetricDefinitions"] == json.loads(METRIC_DEFINITIONS_FILE.read_text())
    assert algorithm["EnableSageMakerMetricsTimeSeries"] is True


def test_on_demand_request_has_no_spot_fields(settings, store):
    request = build_request(settings, store)
    assert "EnableManagedSpotTraining" not in request and "CheckpointConfig" not in request
    assert "MaxWaitTimeInSeconds" not in request["StoppingCondition"]


def test_spot_request_checkpoints_and_waits(spot_settings):
    store = LocalObjectStore(spot_settings.data_root)
    request = build_request(spot_settings, store)
    assert_valid_request("sagemaker", "CreateTrainingJob", request)
    assert request["EnableManagedSpotTraining"] is True
    assert request["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    condition = request["StoppingCondition"]
    assert condition["MaxWaitTimeInSeconds"] >= condition["MaxRuntimeInSeconds"]


def test_training_source_is_uploaded_once_by_content(settings):
    store = LocalObjectStore(settings.data_root)
    first = upload_training_source(settings, store)
    assert upload_training_source(settings, store) == first
    assert first.startswith("s3://scones-mlops/code/model/") and first.endswith("/sourcedir.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(first))) as tar:
        names = tar.getnames()
    assert {"train.py", "inference.py", "metric_definitions.json"} <= set(names)


def test_tuning_request_is_valid(settings, store):
    request = tuning_job_request(settings, run_key="k", tuning_job_name=tuning_job_name(LONG_RUN_ID_KEY),
                                 training_request_template=build_request(settings, store))
    assert_valid_request("sagemaker", "CreateHyperParameterTuningJob", request)


def test_tuning_name_fits_32_characters_on_every_retry():
    name = tuning_job_name(LONG_RUN_ID_KEY)
    assert name == tuning_job_name(LONG_RUN_ID_KEY)
    assert name != tuning_job_name(LONG_RUN_ID_KEY + "-other")
    for attempt in (1, 2, 12):
        retry = attempt_name(name, attempt)
        assert len(retry) <= 32
        assert not request_errors("sagemaker", "DescribeHyperParameterTuningJob",
                                  {"HyperParameterTuningJobName": retry})


def test_tuning_static_hyperparameters_leave_out_the_tuned_ones(settings, store):
    request = tuning_job_request(settings, run_key="k", tuning_job_name="t",
                                 training_request_template=build_request(settings, store))
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    assert not {"learning-rate", "dropout", "width", "augment"} & set(static)
    assert static["epochs"] == str(settings.tuning.epochs)
    assert static["sagemaker_program"] == '"train.py"'
    assert static["_tuning_objective_metric"] == "validation:accuracy"


def test_tuning_ranges_and_objective_come_from_settings(settings, store):
    request = tuning_job_request(settings, run_key="k", tuning_job_name="t",
                                 training_request_template=build_request(settings, store))
    config = request["HyperParameterTuningJobConfig"]
    continuous = {r["Name"]: r for r in config["ParameterRanges"]["ContinuousParameterRanges"]}
    assert continuous["learning-rate"]["ScalingType"] == "Logarithmic"
    assert float(continuous["learning-rate"]["MinValue"]) == settings.tuning.continuous[0].min
    assert config["ParameterRanges"]["CategoricalParameterRanges"] == [{"Name": "augment", "Values": ["true", "false"]}]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:accuracy"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    assert config["TrainingJobEarlyStoppingType"] == "Off"
