"""scones_train in ``aws`` mode: deferrable training, evaluation, gate, registry and baseline against moto.

Three manual runs share one emulated account: the first trains, evaluates, registers and
announces a model; the second is the same run again and reuses every finished job without
registering a second version; then that version is deployed, and the third (another run)
is scored against it as the champion, falls below the gate's floor, so registration,
baseline and announcement are skipped and the run still succeeds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pendulum
import pytest

from include.builders.registry import IMAGE_CONTENT_TYPES
from include.builders.training import metric_definitions
from tests.aws import train_scenario
from tests.aws.deploy_scenario import deploy_version
from tests.aws.moto_harness import AwsHarness, DagRunResult, MotoServer
from tests.aws.train_scenario import FINAL_METRICS, publish_partition
from tests.support.botocore_contract import assert_valid_request

pytestmark = pytest.mark.e2e

BUCKET = "scones-train-e2e"
GROUP = "scones-vehicle-classifier"
PARTITION_KEY = "20251231T0000"
PARTITION = f"s3://{BUCKET}/datasets/{PARTITION_KEY}/"
LOGICAL_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
RUN_ID = "manual__2026-01-01T00:00:00+00:00"
RUN_KEY = "train-20260101T0000"
TRAINING_JOB = "scones-train-train-20260101t0000"
EVALUATION_JOB = "scones-evaluate-train-20260101t0000"
BASELINE_JOB = "scones-baseline-train-20260101t0000"
MODELS = f"s3://{BUCKET}/models/{RUN_KEY}"
MODEL_URL = f"{MODELS}/training/{TRAINING_JOB}/output/model.tar.gz"
GATE_LOGICAL_DATE = pendulum.datetime(2026, 1, 2, tz="UTC")
GATE_RUN_KEY = "train-20260102T0000"
SAGEMAKER_TRIGGER = "airflow.providers.amazon.aws.triggers.sagemaker.SageMakerTrigger"
UNTIL_GATE = ["choose_dataset", "has_something_new", "build_training_job_request", "train",
              "describe_trained_candidate", "promote.build_evaluation_request", "promote.evaluate",
              "promote.passes_quality_gate"]
AFTER_GATE = ["promote.register_model", "promote.build_baseline_request", "promote.baseline",
              "promote.choose_approval_path", "promote.approved_at_registration", "promote.announce_approved_model"]
REVIEW_PATH = ["promote.describe_for_review", "promote.review_model_version", "promote.record_review_decision",
               "promote.approved_by_reviewer"]
PASSING = "tests.aws.train_scenario:install"
FAILING_GATE = "tests.aws.train_scenario:install_failing_gate"


@dataclass
class TrainRuns:
    first: DagRunResult
    again: DagRunResult
    gate_failure: DagRunResult
    moto: MotoServer


@pytest.fixture(scope="module")
def train_runs(aws_harness: AwsHarness) -> TrainRuns:
    env = {"SCONES_BUCKET": BUCKET}

    def bucket_with_a_published_partition(moto: MotoServer) -> None:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        publish_partition(s3, BUCKET, PARTITION_KEY)

    first = aws_harness.run_dag("scones_train", LOGICAL_DATE, env, setup=bucket_with_a_published_partition,
                                scenarios=[PASSING], run_type="manual")
    again = aws_harness.run_dag("scones_train", LOGICAL_DATE, env, scenarios=[PASSING], run_type="manual")
    def first_version_deployed(moto: MotoServer) -> None:
        sagemaker = moto.client("sagemaker")
        [summary] = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
        deploy_version(sagemaker, sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"]))

    gate_failure = aws_harness.run_dag("scones_train", GATE_LOGICAL_DATE, env, setup=first_version_deployed,
                                       scenarios=[FAILING_GATE], run_type="manual")
    return TrainRuns(first, again, gate_failure, aws_harness.moto)


def only_request(run: DagRunResult, operation: str, **matching: str) -> dict[str, Any]:
    calls = [c.params for c in run.calls("sagemaker", operation)
             if all(c.params.get(k) == v for k, v in matching.items())]
    assert len(calls) == 1, f"expected one {operation} {matching}, got {len(calls)}"
    return calls[0]


def processing_input(request: dict, name: str) -> str:
    return next(i["S3Input"]["S3Uri"] for i in request["ProcessingInputs"] if i["InputName"] == name)


def approved_model_events(run: DagRunResult) -> list[dict[str, Any]]:
    return train_scenario.approved_model_events(run.log_path)


def test_first_run_succeeds_in_every_task(train_runs: TrainRuns) -> None:
    run = train_runs.first
    assert run.task_states == {**dict.fromkeys(UNTIL_GATE + AFTER_GATE, "success"),
                               **dict.fromkeys(REVIEW_PATH, "skipped")}, run.log_tail()
    assert run.dag_run_state == "success", run.log_tail()
    assert (run.run_type, run.run_id) == ("manual", RUN_ID)


def test_every_job_and_registry_request_is_valid_for_botocore(train_runs: TrainRuns) -> None:
    run = train_runs.first
    checked = [c for c in run.requests if c.operation in
               {"CreateTrainingJob", "CreateProcessingJob", "CreateModelPackageGroup", "CreateModelPackage", "Search"}]
    assert sorted(c.operation for c in checked) == [
        "CreateModelPackage", "CreateModelPackageGroup", "CreateProcessingJob", "CreateProcessingJob",
        "CreateTrainingJob", "Search",
    ]
    for call in checked:
        assert_valid_request(call.service, call.operation, call.params)


def test_training_request_derives_from_the_run_key(train_runs: TrainRuns) -> None:
    request = only_request(train_runs.first, "CreateTrainingJob")
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]}

    assert request["TrainingJobName"] == TRAINING_JOB
    assert {"Key": "scones:run-key", "Value": RUN_KEY} in request["Tags"]
    assert request["OutputDataConfig"] == {"S3OutputPath": f"{MODELS}/training"}
    assert channels == {"train": f"{PARTITION}train/", "validation": f"{PARTITION}validation/"}


def test_training_request_is_script_mode(train_runs: TrainRuns) -> None:
    request = only_request(train_runs.first, "CreateTrainingJob")
    hyperparameters = request["HyperParameters"]
    submit_directory = json.loads(hyperparameters["sagemaker_submit_directory"])

    assert json.loads(hyperparameters["sagemaker_program"]) == "train.py"
    assert submit_directory.startswith(f"s3://{BUCKET}/code/model/")
    assert submit_directory.endswith("/sourcedir.tar.gz")
    assert {name: json.loads(value) for name, value in hyperparameters.items()
            if name in {"epochs", "learning-rate", "batch-size", "dropout", "width"}} == {
        "epochs": 15, "learning-rate": 0.002, "batch-size": 64, "dropout": 0.3, "width": 2}
    assert request["AlgorithmSpecification"]["MetricDefinitions"] == metric_definitions()
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    source = submit_directory.removeprefix(f"s3://{BUCKET}/")
    assert train_runs.moto.client("s3").head_object(Bucket=BUCKET, Key=source)["ContentLength"] > 0


def test_jobs_deferred_to_the_providers_sagemaker_trigger(train_runs: TrainRuns) -> None:
    run = train_runs.first
    assert run.triggers == [
        {"task_id": "train", "trigger": SAGEMAKER_TRIGGER, "event": {"status": "success", "job_name": TRAINING_JOB}},
        {"task_id": "promote.evaluate", "trigger": SAGEMAKER_TRIGGER,
         "event": {"status": "success", "job_name": EVALUATION_JOB}},
        {"task_id": "promote.baseline", "trigger": SAGEMAKER_TRIGGER,
         "event": {"status": "success", "job_name": BASELINE_JOB}},
    ], run.log_tail()
    polled = run.calls("sagemaker", "DescribeTrainingJob", transport="aiobotocore")
    assert polled and all(call.params == {"TrainingJobName": TRAINING_JOB} for call in polled)


def test_candidate_is_read_from_the_training_job_description(train_runs: TrainRuns) -> None:
    candidate = train_scenario.xcom_return_value(train_runs.first.log_path, "describe_trained_candidate")
    assert candidate["model_url"] == MODEL_URL
    assert candidate["training_job_name"] == TRAINING_JOB
    assert candidate["partition"] == PARTITION
    assert candidate["metrics"] == FINAL_METRICS
    assert candidate["hyperparameters"]["learning-rate"] == 0.002
    assert not any(name.startswith("sagemaker_") for name in candidate["hyperparameters"])


def test_evaluation_scores_the_trained_artifact_on_the_test_split(train_runs: TrainRuns) -> None:
    request = only_request(train_runs.first, "CreateProcessingJob", ProcessingJobName=EVALUATION_JOB)
    inputs = {i["InputName"] for i in request["ProcessingInputs"]}

    assert processing_input(request, "model") == MODEL_URL
    assert processing_input(request, "test") == f"{PARTITION}test/"
    assert "champion" not in inputs
    assert request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == f"{MODELS}/evaluation/"
    assert {"Key": "scones:run-key", "Value": RUN_KEY} in request["Tags"]


def test_baseline_reads_the_evaluation_capture(train_runs: TrainRuns) -> None:
    request = only_request(train_runs.first, "CreateProcessingJob", ProcessingJobName=BASELINE_JOB)
    s3 = train_runs.moto.client("s3")
    baseline = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"models/{RUN_KEY}/baseline/")["Contents"]}

    assert processing_input(request, "capture") == f"{MODELS}/evaluation/validation_capture.jsonl"
    assert request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == f"{MODELS}/baseline/"
    assert baseline == {f"models/{RUN_KEY}/baseline/statistics.json", f"models/{RUN_KEY}/baseline/constraints.json"}


def test_model_package_serves_images_and_carries_metrics_and_run_key(train_runs: TrainRuns) -> None:
    request = only_request(train_runs.first, "CreateModelPackage")
    specification = request["InferenceSpecification"]
    metadata = request["CustomerMetadataProperties"]

    assert request["ModelPackageGroupName"] == GROUP
    assert specification["SupportedContentTypes"] == IMAGE_CONTENT_TYPES
    assert "text/csv" not in specification["SupportedContentTypes"]
    assert specification["Containers"][0]["ModelDataUrl"] == MODEL_URL
    assert request["ModelMetrics"]["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json", "S3Uri": f"{MODELS}/evaluation/evaluation.json"}
    assert (metadata["scones:run-key"], metadata["scones:training-job"]) == (RUN_KEY, TRAINING_JOB)
    assert (metadata["scones:accuracy"], metadata["scones:ece"]) == ("0.950000", "0.020000")
    assert {"Key": "scones:run-key", "Value": RUN_KEY} in request["Tags"]


def test_approved_model_asset_event_is_emitted(train_runs: TrainRuns) -> None:
    events = approved_model_events(train_runs.first)
    assert len(events) == 1, events
    event = events[0]
    assert (event["task_id"], event["run_id"]) == ("promote.announce_approved_model", RUN_ID)
    assert event["extra"]["run_key"] == RUN_KEY
    assert event["extra"]["model_data_url"] == MODEL_URL
    assert event["extra"]["approval_status"] == "Approved"
    assert event["extra"]["baseline"] == f"{MODELS}/baseline/"


def test_same_run_again_reuses_its_finished_jobs(train_runs: TrainRuns) -> None:
    run = train_runs.again
    assert run.task_states == {**dict.fromkeys(UNTIL_GATE + AFTER_GATE, "success"),
                               **dict.fromkeys(REVIEW_PATH, "skipped")}, run.log_tail()
    for operation in ("CreateTrainingJob", "CreateProcessingJob", "CreateModelPackage", "CreateModelPackageGroup"):
        assert run.calls("sagemaker", operation) == [], operation
    assert run.triggers == []
    assert {c.params["TrainingJobName"] for c in run.calls("sagemaker", "DescribeTrainingJob")} == {TRAINING_JOB}
    assert [e["extra"]["model_package_arn"] for e in approved_model_events(run)] == [
        e["extra"]["model_package_arn"] for e in approved_model_events(train_runs.first)]


def test_registry_holds_one_version_per_passing_run(train_runs: TrainRuns) -> None:
    sagemaker = train_runs.moto.client("sagemaker")
    summaries = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    assert len(summaries) == 1
    package = sagemaker.describe_model_package(ModelPackageName=summaries[0]["ModelPackageArn"])
    assert package["CustomerMetadataProperties"]["scones:run-key"] == RUN_KEY
    assert package["ModelApprovalStatus"] == "Approved"


def test_failed_gate_skips_promotion_and_the_run_succeeds(train_runs: TrainRuns) -> None:
    run = train_runs.gate_failure
    expected = {**dict.fromkeys(UNTIL_GATE, "success"), **dict.fromkeys(AFTER_GATE + REVIEW_PATH, "skipped")}
    assert run.task_states == expected, run.log_tail()
    assert run.dag_run_state == "success", run.log_tail()
    assert "quality gate FAILED: accuracy 0.6000 is below the floor 0.8000" in run.log_path.read_text()
    assert run.calls("sagemaker", "CreateModelPackage") == []
    assert approved_model_events(run) == []


def test_failed_gate_run_was_scored_against_the_champion(train_runs: TrainRuns) -> None:
    run = train_runs.gate_failure
    request = only_request(run, "CreateProcessingJob")
    assert request["ProcessingJobName"] == f"scones-evaluate-{GATE_RUN_KEY.lower()}"
    assert processing_input(request, "champion") == MODEL_URL, "the champion is the version the endpoint serves"
    assert processing_input(request, "model") == (
        f"s3://{BUCKET}/models/{GATE_RUN_KEY}/training/scones-train-{GATE_RUN_KEY.lower()}/output/model.tar.gz")
