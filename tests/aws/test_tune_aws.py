"""scones_tune in ``aws`` mode: the provider's deferrable tuning operator, then promotion of the best job.

A manual run against moto: the tuning request is checked against botocore and settings,
the task defers to the provider's trigger, and the best training job's artifact (at
SageMaker's ``{S3OutputPath}/{TrainingJobName}/output/model.tar.gz``) is what evaluation
scores and registration records. The same run again reuses the finished tuning job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pendulum
import pytest

from include.builders.tuning import tuning_job_name
from tests.aws import train_scenario
from tests.aws.moto_harness import AwsHarness, DagRunResult, MotoServer
from tests.aws.train_scenario import publish_partition
from tests.aws.tune_scenario import BEST_OBJECTIVE_VALUE, BEST_TRIAL_SUFFIX
from tests.support.botocore_contract import assert_valid_request

pytestmark = pytest.mark.e2e

BUCKET = "scones-tune-e2e"
PARTITION_KEY = "20251231T0000"
PARTITION = f"s3://{BUCKET}/datasets/{PARTITION_KEY}/"
LOGICAL_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
RUN_ID = "manual__2026-01-01T00:00:00+00:00"
RUN_KEY = "tune-20260101T0000"
TUNING_JOB = tuning_job_name(RUN_KEY)
BEST_JOB = TUNING_JOB + BEST_TRIAL_SUFFIX
MODELS = f"s3://{BUCKET}/models/{RUN_KEY}"
BEST_MODEL_URL = f"{MODELS}/training/{BEST_JOB}/output/model.tar.gz"
EVALUATION_JOB = f"scones-evaluate-{RUN_KEY.lower()}"
SAGEMAKER_TRIGGER = "airflow.providers.amazon.aws.triggers.sagemaker.SageMakerTrigger"
TASKS = ["choose_dataset", "build_tuning_job_request", "tune", "describe_best_training_job",
         "promote.build_evaluation_request", "promote.evaluate", "promote.passes_quality_gate",
         "promote.register_model", "promote.build_baseline_request", "promote.baseline",
         "promote.choose_approval_path", "promote.approved_at_registration", "promote.announce_approved_model"]
REVIEW_PATH = ["promote.describe_for_review", "promote.review_model_version", "promote.record_review_decision",
               "promote.approved_by_reviewer"]
SCENARIO = "tests.aws.tune_scenario:install"
TUNED = {"learning-rate", "dropout", "width", "augment"}
PARAMETER_RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "learning-rate", "MinValue": "0.0003", "MaxValue": "0.01", "ScalingType": "Logarithmic"},
        {"Name": "dropout", "MinValue": "0.1", "MaxValue": "0.5", "ScalingType": "Linear"},
    ],
    "IntegerParameterRanges": [{"Name": "width", "MinValue": "1", "MaxValue": "3", "ScalingType": "Linear"}],
    "CategoricalParameterRanges": [{"Name": "augment", "Values": ["true", "false"]}],
}


@dataclass
class TuneRun:
    run: DagRunResult
    again: DagRunResult
    moto: MotoServer


@pytest.fixture(scope="module")
def tune_run(aws_harness: AwsHarness) -> TuneRun:
    def bucket_with_a_published_partition(moto: MotoServer) -> None:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        publish_partition(s3, BUCKET, PARTITION_KEY)

    env = {"SCONES_BUCKET": BUCKET}
    run = aws_harness.run_dag("scones_tune", LOGICAL_DATE, env, setup=bucket_with_a_published_partition,
                              scenarios=[SCENARIO], run_type="manual")
    again = aws_harness.run_dag("scones_tune", LOGICAL_DATE, env, scenarios=[SCENARIO], run_type="manual")
    return TuneRun(run, again, aws_harness.moto)


def only_request(run: DagRunResult, operation: str) -> dict[str, Any]:
    calls = run.calls("sagemaker", operation)
    assert len(calls) == 1, f"expected one {operation}, got {len(calls)}"
    return calls[0].params


def test_tune_run_succeeds_in_every_task(tune_run: TuneRun) -> None:
    run = tune_run.run
    assert run.task_states == {**dict.fromkeys(TASKS, "success"), **dict.fromkeys(REVIEW_PATH, "skipped")}, \
        run.log_tail()
    assert run.dag_run_state == "success", run.log_tail()
    assert (run.run_type, run.run_id) == ("manual", RUN_ID)


def test_tuning_request_is_valid_for_botocore(tune_run: TuneRun) -> None:
    request = only_request(tune_run.run, "CreateHyperParameterTuningJob")
    assert_valid_request("sagemaker", "CreateHyperParameterTuningJob", request)
    assert request["HyperParameterTuningJobName"] == TUNING_JOB
    assert len(request["HyperParameterTuningJobName"]) <= 32
    assert {"Key": "scones:run-key", "Value": RUN_KEY} in request["Tags"]


def test_tuning_searches_the_settings_ranges_for_validation_accuracy(tune_run: TuneRun) -> None:
    config = only_request(tune_run.run, "CreateHyperParameterTuningJob")["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:accuracy"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    assert config["ParameterRanges"] == PARAMETER_RANGES


def test_trials_are_the_training_job_at_the_tuning_budget(tune_run: TuneRun) -> None:
    definition = only_request(tune_run.run, "CreateHyperParameterTuningJob")["TrainingJobDefinition"]
    static = definition["StaticHyperParameters"]
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in definition["InputDataConfig"]}
    metric_names = {m["Name"] for m in definition["AlgorithmSpecification"]["MetricDefinitions"]}

    assert not TUNED & set(static)
    assert json.loads(static["epochs"]) == 6
    assert json.loads(static["sagemaker_program"]) == "train.py"
    assert "validation:accuracy" in metric_names
    assert definition["OutputDataConfig"] == {"S3OutputPath": f"{MODELS}/training"}
    assert channels == {"train": f"{PARTITION}train/", "validation": f"{PARTITION}validation/"}


def test_tuning_deferred_to_the_providers_sagemaker_trigger(tune_run: TuneRun) -> None:
    run = tune_run.run
    assert run.triggers[0] == {
        "task_id": "tune", "trigger": SAGEMAKER_TRIGGER, "event": {"status": "success", "job_name": TUNING_JOB},
    }, run.log_tail()
    polled = run.calls("sagemaker", "DescribeHyperParameterTuningJob", transport="aiobotocore")
    assert polled and all(call.params == {"HyperParameterTuningJobName": TUNING_JOB} for call in polled)


def test_best_training_job_becomes_the_candidate(tune_run: TuneRun) -> None:
    candidate = train_scenario.xcom_return_value(tune_run.run.log_path, "describe_best_training_job")
    assert candidate["model_url"] == BEST_MODEL_URL
    assert candidate["training_job_name"] == BEST_JOB
    assert candidate["metrics"] == {"validation:accuracy": BEST_OBJECTIVE_VALUE}
    assert candidate["hyperparameters"]["learning-rate"] == 0.0012
    assert candidate["hyperparameters"]["epochs"] == 6


def test_evaluation_scores_the_best_jobs_artifact(tune_run: TuneRun) -> None:
    requests = [c.params for c in tune_run.run.calls("sagemaker", "CreateProcessingJob")
                if c.params["ProcessingJobName"] == EVALUATION_JOB]
    assert len(requests) == 1, requests
    request = requests[0]
    model_input = next(i["S3Input"]["S3Uri"] for i in request["ProcessingInputs"] if i["InputName"] == "model")
    assert_valid_request("sagemaker", "CreateProcessingJob", request)
    assert model_input == BEST_MODEL_URL
    key = BEST_MODEL_URL.removeprefix(f"s3://{BUCKET}/")
    assert tune_run.moto.client("s3").head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0


def test_registered_version_records_the_best_job(tune_run: TuneRun) -> None:
    request = only_request(tune_run.run, "CreateModelPackage")
    metadata = request["CustomerMetadataProperties"]
    assert_valid_request("sagemaker", "CreateModelPackage", request)
    assert request["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == BEST_MODEL_URL
    assert (metadata["scones:run-key"], metadata["scones:training-job"]) == (RUN_KEY, BEST_JOB)
    assert {"learning-rate=0.0012", "width=3", "epochs=6"} <= set(metadata["scones:hyperparameters"].split())


def test_same_run_again_reuses_the_finished_tuning_job(tune_run: TuneRun) -> None:
    run = tune_run.again
    assert run.task_states == {**dict.fromkeys(TASKS, "success"), **dict.fromkeys(REVIEW_PATH, "skipped")}, \
        run.log_tail()
    for operation in ("CreateHyperParameterTuningJob", "CreateProcessingJob", "CreateModelPackage"):
        assert run.calls("sagemaker", operation) == [], operation
    assert run.triggers == []
    candidate = train_scenario.xcom_return_value(run.log_path, "describe_best_training_job")
    assert candidate["model_url"] == BEST_MODEL_URL
