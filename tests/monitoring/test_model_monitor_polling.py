"""The Model Monitor path against a real SageMaker client with botocore's Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from include.runtime.aws import interval_analysis as model_monitor
from include.workflows.monitoring import analysis

START = datetime(2026, 3, 1, 10, tzinfo=UTC)
END = datetime(2026, 3, 1, 11, tzinfo=UTC)
SCHEDULE = "scones-monitor-scones-vehicle-classifier"
JOB_ARN = "arn:aws:sagemaker:us-east-1:111122223333:processing-job/model-monitoring-202603011100-abc"
OUTPUT = "s3://scones-mlops/monitoring/scones-vehicle-classifier/model-monitor/2026/03/01/11"
SCHEDULE_STATE = {"name": SCHEDULE, "action": "unchanged", "created_at": "2026-02-01T00:00:00+00:00"}


@pytest.fixture
def client():
    return boto3.client("sagemaker", region_name="us-east-1")


@pytest.fixture
def stub(client) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def summary(status: str, reason: str | None = None) -> dict:
    entry = {"MonitoringScheduleName": SCHEDULE, "ScheduledTime": END, "CreationTime": END,
             "LastModifiedTime": END, "MonitoringExecutionStatus": status, "ProcessingJobArn": JOB_ARN}
    if reason:
        entry["FailureReason"] = reason
    return entry


def expect_executions(stub: Stubber, *summaries: dict) -> None:
    stub.add_response(
        "list_monitoring_executions", {"MonitoringExecutionSummaries": list(summaries)},
        {"MonitoringScheduleName": SCHEDULE, "ScheduledTimeAfter": END - timedelta(minutes=1),
         "ScheduledTimeBefore": END + timedelta(hours=1), "SortBy": "ScheduledTime", "SortOrder": "Ascending"})


def expect_job_output(stub: Stubber) -> None:
    stub.add_response("describe_processing_job", {
        "ProcessingJobName": "model-monitoring-202603011100-abc", "ProcessingJobArn": JOB_ARN,
        "ProcessingJobStatus": "Completed", "CreationTime": END,
        "AppSpecification": {"ImageUri": "image"},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 30}},
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "result", "S3Output": {
            "S3Uri": OUTPUT, "LocalPath": "/opt/ml/processing/resultdata", "S3UploadMode": "EndOfJob"}}]},
    }, {"ProcessingJobName": "model-monitoring-202603011100-abc"})


@pytest.mark.parametrize("status", ["Completed", "CompletedWithViolations"])
def test_finished_execution_yields_its_output_folder(client, stub, status):
    expect_executions(stub, summary(status))
    expect_job_output(stub)
    outcome = model_monitor.poll_interval_execution(client, SCHEDULE_STATE, START, END)
    assert outcome == {"status": status, "output_uri": OUTPUT + "/", "no_traffic": False}


def test_failed_execution_is_an_error_with_its_reason(client, stub):
    expect_executions(stub, summary("Failed", "AlgorithmError: exit code 1"))
    with pytest.raises(model_monitor.MonitoringExecutionError, match="ended Failed: AlgorithmError"):
        model_monitor.poll_interval_execution(client, SCHEDULE_STATE, START, END)


def test_stopped_execution_is_an_error(client, stub):
    expect_executions(stub, summary("Stopped"))
    with pytest.raises(model_monitor.MonitoringExecutionError, match="ended Stopped"):
        model_monitor.poll_interval_execution(client, SCHEDULE_STATE, START, END)


def test_execution_failed_for_lack_of_data_is_no_traffic(client, stub):
    expect_executions(stub, summary("Failed", "Job inputs had no data"))
    outcome = model_monitor.poll_interval_execution(client, SCHEDULE_STATE, START, END)
    assert outcome == {"status": model_monitor.NO_TRAFFIC, "output_uri": None, "no_traffic": True}


def test_no_execution_yet_keeps_waiting(client, stub):
    expect_executions(stub)
    assert model_monitor.poll_interval_execution(client, SCHEDULE_STATE, START, END) is None


@pytest.mark.parametrize("status", ["Pending", "InProgress", "Stopping"])
def test_running_execution_keeps_waiting(client, stub, status):
    expect_executions(stub, summary(status))
    assert model_monitor.poll_interval_execution(client, SCHEDULE_STATE, START, END) is None


def test_execution_of_another_hour_is_not_this_intervals(client, stub):
    expect_executions(stub, {**summary("Completed"), "ScheduledTime": END + timedelta(hours=1)})
    assert model_monitor.find_interval_execution(client, SCHEDULE, START, END).status == model_monitor.NO_EXECUTION_YET


def test_schedule_created_after_the_interval_points_to_a_backfill(client, stub):
    expect_executions(stub)
    late = {**SCHEDULE_STATE, "created_at": (END + timedelta(minutes=5)).isoformat()}
    with pytest.raises(model_monitor.MonitoringScheduleError, match="backfill"):
        model_monitor.poll_interval_execution(client, late, START, END)


def schedule_request(aws_settings) -> dict:
    return analysis.build_schedule_request(aws_settings, "s3://scones-mlops/models/train-x/baseline/")


def described(request: dict, status: str = "Scheduled") -> dict:
    return {"MonitoringScheduleArn": f"arn:aws:sagemaker:us-east-1:111122223333:monitoring-schedule/{SCHEDULE}",
            "MonitoringScheduleName": request["MonitoringScheduleName"], "MonitoringScheduleStatus": status,
            "CreationTime": START, "LastModifiedTime": START,
            "MonitoringScheduleConfig": request["MonitoringScheduleConfig"]}


def test_missing_schedule_is_created(aws_settings, client, stub):
    request = schedule_request(aws_settings)
    stub.add_client_error("describe_monitoring_schedule", "ResourceNotFound",
                          expected_params={"MonitoringScheduleName": request["MonitoringScheduleName"]})
    stub.add_response("create_monitoring_schedule", {"MonitoringScheduleArn": "arn:aws:sagemaker:x"}, request)
    assert model_monitor.ensure_monitoring_schedule(client, request, now=END)["action"] == "created"


def test_schedule_with_another_baseline_is_updated(aws_settings, client, stub):
    request = schedule_request(aws_settings)
    old = analysis.build_schedule_request(aws_settings, "s3://scones-mlops/models/train-old/baseline/")
    stub.add_response("describe_monitoring_schedule", described(old))
    stub.add_response("update_monitoring_schedule", {"MonitoringScheduleArn": "arn:aws:sagemaker:x"},
                      {"MonitoringScheduleName": request["MonitoringScheduleName"],
                       "MonitoringScheduleConfig": request["MonitoringScheduleConfig"]})
    assert model_monitor.ensure_monitoring_schedule(client, request)["action"] == "updated"


def test_schedule_already_as_requested_is_left_alone(aws_settings, client, stub):
    request = schedule_request(aws_settings)
    stub.add_response("describe_monitoring_schedule", described(request))
    state = model_monitor.ensure_monitoring_schedule(client, request)
    assert (state["action"], state["created_at"]) == ("unchanged", START.isoformat())


def test_stopped_schedule_is_an_error_naming_the_fix(aws_settings, client, stub):
    request = schedule_request(aws_settings)
    stub.add_response("describe_monitoring_schedule", described(request, status="Stopped"))
    with pytest.raises(model_monitor.MonitoringScheduleError, match="start-monitoring-schedule"):
        model_monitor.ensure_monitoring_schedule(client, request)
