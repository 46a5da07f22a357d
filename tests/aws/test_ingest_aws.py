"""scones_ingest in ``aws`` mode: the provider's deferrable Processing operator against moto.

The same logical date runs twice: the first run stages the archive, starts the Processing
job (which defers until the provider's trigger sees it complete) and publishes the
partition; the second finds the run's completed job and republishes without starting another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pendulum
import pytest

from devtools.synthetic import write_cifar_archive
from include.settings import Settings, load_settings
from tests.aws.ingest_scenario import fake_partition
from tests.aws.moto_harness import AwsHarness, DagRunResult, MotoServer
from tests.support.botocore_contract import assert_valid_request

pytestmark = pytest.mark.e2e

BUCKET = "scones-aws-e2e"
LOGICAL_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
RUN_KEY = "20260101T0000"
JOB_NAME = "scones-ingest-20260101t0000"
PARTITION_PREFIX = f"datasets/{RUN_KEY}/"
TASKS = {"stage_archive", "build_ingest_request", "ingest", "publish_partition"}
SCENARIO = "tests.aws.ingest_scenario:install"


@dataclass
class IngestRuns:
    env: dict[str, str]
    settings: Settings
    archive_md5: str
    first: DagRunResult
    first_partition: dict[str, bytes]
    second: DagRunResult
    second_partition: dict[str, bytes]
    moto: MotoServer


def objects_under(moto: MotoServer, prefix: str) -> dict[str, bytes]:
    s3 = moto.client("s3")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
            for o in page.get("Contents", [])]
    return {key[len(prefix):]: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


@pytest.fixture(scope="module")
def ingest_runs(aws_harness: AwsHarness, tmp_path_factory: pytest.TempPathFactory) -> IngestRuns:
    archive = tmp_path_factory.mktemp("cifar") / "cifar-100-python.tar.gz"
    md5 = write_cifar_archive(archive, train_per_class=10, test_per_class=5)
    env = {"SCONES_BUCKET": BUCKET, "SCONES_CIFAR__MD5": md5,
           "SCONES_CIFAR__SOURCE": f"s3://{BUCKET}/mirror/cifar-100-python.tar.gz"}

    def bucket_with_archive_mirror(moto: MotoServer) -> None:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(archive), BUCKET, "mirror/cifar-100-python.tar.gz")

    first = aws_harness.run_dag("scones_ingest", LOGICAL_DATE, env, setup=bucket_with_archive_mirror,
                                scenarios=[SCENARIO])
    first_partition = objects_under(aws_harness.moto, PARTITION_PREFIX)
    second = aws_harness.run_dag("scones_ingest", LOGICAL_DATE, env, scenarios=[SCENARIO])
    second_partition = objects_under(aws_harness.moto, PARTITION_PREFIX)
    settings = load_settings(environ={**env, "SCONES_RUNTIME": "aws", "SCONES_REGION": "us-east-1"})
    return IngestRuns(env, settings, md5, first, first_partition, second, second_partition, aws_harness.moto)


def only_create_request(run: DagRunResult) -> dict[str, Any]:
    creates = run.calls("sagemaker", "CreateProcessingJob")
    assert len(creates) == 1, f"expected one CreateProcessingJob, got {len(creates)}"
    return creates[0].params


def test_first_run_succeeds_in_every_task(ingest_runs: IngestRuns) -> None:
    run = ingest_runs.first
    assert run.task_states == dict.fromkeys(TASKS, "success"), run.log_tail()
    assert run.dag_run_state == "success", run.log_tail()
    assert (run.run_type, run.run_id) == ("scheduled", "scheduled__2026-01-01T00:00:00+00:00")


def test_processing_request_is_valid_for_botocore(ingest_runs: IngestRuns) -> None:
    assert_valid_request("sagemaker", "CreateProcessingJob", only_create_request(ingest_runs.first))


def test_processing_request_derives_from_the_run(ingest_runs: IngestRuns) -> None:
    request = only_create_request(ingest_runs.first)
    images = ingest_runs.settings.images
    cifar_input = next(i for i in request["ProcessingInputs"] if i["InputName"] == "cifar")

    assert request["ProcessingJobName"] == JOB_NAME
    assert {"Key": "scones:run-key", "Value": RUN_KEY} in request["Tags"]
    assert request["AppSpecification"]["ImageUri"] == (
        f"763104351884.dkr.ecr.us-east-1.amazonaws.com/"
        f"{images.framework}-training:{images.framework_version}-cpu-{images.py_version}"
    )
    assert cifar_input["S3Input"]["S3Uri"] == (
        f"s3://{BUCKET}/raw/cifar/{ingest_runs.archive_md5}/cifar-100-python.tar.gz"
    )
    partition_output = request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert partition_output == f"s3://{BUCKET}/staging/datasets/{JOB_NAME}/"


def test_archive_was_staged_under_its_md5(ingest_runs: IngestRuns) -> None:
    s3 = ingest_runs.moto.client("s3")
    staged = s3.head_object(Bucket=BUCKET, Key=f"raw/cifar/{ingest_runs.archive_md5}/cifar-100-python.tar.gz")
    mirror = s3.head_object(Bucket=BUCKET, Key="mirror/cifar-100-python.tar.gz")
    assert staged["ContentLength"] == mirror["ContentLength"]


def test_ingest_deferred_to_the_providers_sagemaker_trigger(ingest_runs: IngestRuns) -> None:
    run = ingest_runs.first
    assert run.triggers == [{
        "task_id": "ingest",
        "trigger": "airflow.providers.amazon.aws.triggers.sagemaker.SageMakerTrigger",
        "event": {"status": "success", "job_name": JOB_NAME},
    }], run.log_tail()
    polled = run.calls("sagemaker", "DescribeProcessingJob", transport="aiobotocore")
    assert polled and all(call.params == {"ProcessingJobName": JOB_NAME} for call in polled)


def test_partition_is_published_with_its_manifest(ingest_runs: IngestRuns) -> None:
    expected = fake_partition(JOB_NAME, RUN_KEY)
    assert ingest_runs.first_partition == expected
    assert objects_under(ingest_runs.moto, f"staging/datasets/{JOB_NAME}/") == {}


def test_second_run_reuses_the_completed_job(ingest_runs: IngestRuns) -> None:
    run = ingest_runs.second
    assert run.task_states == dict.fromkeys(TASKS, "success"), run.log_tail()
    assert run.calls("sagemaker", "CreateProcessingJob") == []
    assert run.triggers == []
    described = {call.params["ProcessingJobName"] for call in run.calls("sagemaker", "DescribeProcessingJob")}
    assert described == {JOB_NAME}


def test_second_run_republishes_the_same_partition(ingest_runs: IngestRuns) -> None:
    assert ingest_runs.second_partition == ingest_runs.first_partition
    assert ingest_runs.second_partition["manifest.json"] == fake_partition(JOB_NAME, RUN_KEY)["manifest.json"]


def test_archive_is_fetched_from_the_s3_mirror_once(ingest_runs: IngestRuns) -> None:
    def mirror_reads(run: DagRunResult) -> list[str]:
        return [c.params["Key"] for c in run.calls("s3", "GetObject") if c.params["Key"].startswith("mirror/")]

    assert mirror_reads(ingest_runs.first) == ["mirror/cifar-100-python.tar.gz"]
    assert mirror_reads(ingest_runs.second) == []
