"""scones_monitor in ``aws`` mode: the analyzer as a Processing job, Model Monitor's schedule, and a quiet hour.

Three scheduled runs share one emulated account whose endpoint serves an approved model with a
baseline of dark images (a newer approved version never served: it must not be watched):

- the 10:00 hour has bright photos in Data Capture: the analyzer job (the real analyzer, run on
  the job's own request) flags brightness drift, so the run triggers ``scones_train``;
- the 15:00 hour has no capture files: "no traffic", no job, no retraining;
- the latest complete hour with ``use_model_monitor`` on: the run creates the hourly Model
  Monitor schedule, reads its execution's violations and, within the retrain cooldown of the
  first run's interval (a cooldown set long enough to reach today), alerts instead of retraining.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pendulum
import pytest

from include.code_bundle import code_version
from tests.aws import monitor_scenario
from tests.aws.deploy_scenario import deploy_version, register_approved_model
from tests.aws.moto_harness import AwsHarness, DagRunResult, MotoServer
from tests.aws.train_scenario import run_database
from tests.support.botocore_contract import assert_valid_request

pytestmark = pytest.mark.e2e

BUCKET = "scones-monitor-e2e"
ENDPOINT = "scones-vehicle-classifier"
SCHEDULE = f"scones-monitor-{ENDPOINT}"
MODEL_KEY = "train-20251231T0000"
NEWER_KEY = "train-20260101T0000"
BASELINE = f"s3://{BUCKET}/models/{MODEL_KEY}/baseline"
ANALYZED_DATE = pendulum.datetime(2026, 1, 1, 11, tz="UTC")
ANALYZED_KEY = "20260101T1100"
CAPTURE_HOUR = pendulum.datetime(2026, 1, 1, 10, tz="UTC")
QUIET_DATE = pendulum.datetime(2026, 1, 1, 16, tz="UTC")
QUIET_KEY = "20260101T1600"
MONITORING = f"s3://{BUCKET}/monitoring/{ENDPOINT}"
COOLDOWN_TO_TODAY_HOURS = 24 * 365 * 20
MONITOR_IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/scones-drift-analyzer:{code_version('monitor')}"
PROCESSING_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6.0-cpu-py312"
SAGEMAKER_TRIGGER = "airflow.providers.amazon.aws.triggers.sagemaker.SageMakerTrigger"
COMMON = ["find_baseline", "choose_monitoring_path", "read_interval_result", "write_monitoring_report",
          "decide_action", "announce_decision", "publish_model_health", "retrain_decided"]
ANALYZER_PATH = ["list_capture_hours", "window_has_capture", "build_analysis_request", "analyze_window"]
MODEL_MONITOR_PATH = ["ensure_schedule", "wait_for_interval_execution"]
RETRAIN = ["trigger_retraining"]


@dataclass
class MonitorRuns:
    analyzed: DagRunResult
    quiet: DagRunResult
    model_monitor: DagRunResult
    model_monitor_hour: datetime
    moto: MotoServer


@pytest.fixture(scope="module")
def monitor_runs(aws_harness: AwsHarness, tmp_path_factory: pytest.TempPathFactory) -> MonitorRuns:
    work = tmp_path_factory.mktemp("monitor-reports")
    baseline = monitor_scenario.baseline_reports(work)
    newest_hour = pendulum.now("UTC").start_of("hour")
    env = {"SCONES_BUCKET": BUCKET}

    def account_with_model_and_capture(moto: MotoServer) -> None:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        sagemaker = moto.client("sagemaker")
        deploy_version(sagemaker, register_approved_model(sagemaker, bucket=BUCKET, run_key=MODEL_KEY))
        register_approved_model(sagemaker, bucket=BUCKET, run_key=NEWER_KEY)
        monitor_scenario.put_files(s3, BASELINE, baseline)
        s3.put_object(Bucket=BUCKET, Key=monitor_scenario.capture_key(ENDPOINT, CAPTURE_HOUR),
                      Body=monitor_scenario.capture_jsonl(monitor_scenario.DRIFTED_SHADES, CAPTURE_HOUR))

    def model_monitor_reports(moto: MotoServer) -> None:
        result = monitor_scenario.model_monitor_result_uri(f"{MONITORING}/model-monitor/", ENDPOINT, SCHEDULE,
                                                           newest_hour)
        reports = monitor_scenario.drifted_reports(work, baseline, newest_hour)
        monitor_scenario.put_files(moto.client("s3"), result, reports)

    analyzed = aws_harness.run_dag("scones_monitor", ANALYZED_DATE, env, setup=account_with_model_and_capture,
                                   scenarios=["tests.aws.monitor_scenario:install"])
    quiet = aws_harness.run_dag("scones_monitor", QUIET_DATE, env, scenarios=["tests.aws.monitor_scenario:install"])
    model_monitor_env = {**env, "SCONES_MONITOR__USE_MODEL_MONITOR": "true",
                         "SCONES_IMAGES__MONITOR_URI": MONITOR_IMAGE,
                         "SCONES_MONITOR__RETRAIN_COOLDOWN_HOURS": str(COOLDOWN_TO_TODAY_HOURS)}
    model_monitor = aws_harness.run_dag("scones_monitor", newest_hour, model_monitor_env,
                                        setup=model_monitor_reports,
                                        scenarios=["tests.aws.monitor_scenario:install_model_monitor"])
    return MonitorRuns(analyzed, quiet, model_monitor, newest_hour, aws_harness.moto)


def xcom(run: DagRunResult, task_id: str, key: str = "return_value") -> Any:
    with sqlite3.connect(run_database(run.log_path)) as connection:
        rows = connection.execute("SELECT value FROM xcom WHERE task_id = ? AND key = ?", (task_id, key)).fetchall()
    assert len(rows) == 1, f"expected one {key} of {task_id}, got {len(rows)}"
    return json.loads(rows[0][0])


def triggered_train_runs(run: DagRunResult) -> list[tuple[str, dict]]:
    with sqlite3.connect(run_database(run.log_path)) as connection:
        rows = connection.execute("SELECT run_id, conf FROM dag_run WHERE dag_id = 'scones_train'").fetchall()
    return [(run_id, json.loads(conf) if isinstance(conf, str) else conf) for run_id, conf in rows]


def read_json(moto: MotoServer, uri: str) -> Any:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(moto.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def only_request(run: DagRunResult, operation: str) -> dict[str, Any]:
    calls = run.calls("sagemaker", operation)
    assert len(calls) == 1, f"expected one {operation}, got {len(calls)}"
    return calls[0].params


def inputs_by_name(request: dict[str, Any]) -> dict[str, str]:
    return {i["InputName"]: i["S3Input"]["S3Uri"] for i in request["ProcessingInputs"]}


def test_analyzer_path_runs_and_retrains(monitor_runs: MonitorRuns) -> None:
    run = monitor_runs.analyzed
    expected = {**dict.fromkeys(COMMON + ANALYZER_PATH + RETRAIN, "success"),
                **dict.fromkeys(MODEL_MONITOR_PATH, "skipped")}
    assert run.task_states == expected, run.log_tail()
    assert run.dag_run_state == "success", run.log_tail()


def test_the_serving_versions_baseline_is_watched_not_the_newest_approved(monitor_runs: MonitorRuns) -> None:
    assert xcom(monitor_runs.analyzed, "find_baseline") == BASELINE + "/"
    described = {c.operation for c in monitor_runs.analyzed.requests if c.service == "sagemaker"}
    assert {"DescribeEndpoint", "DescribeEndpointConfig", "DescribeModel", "ListTags"} <= described


def test_analyzer_job_request_is_valid_and_reads_the_hour_and_baseline(monitor_runs: MonitorRuns) -> None:
    request = only_request(monitor_runs.analyzed, "CreateProcessingJob")
    assert_valid_request("sagemaker", "CreateProcessingJob", request)
    inputs = inputs_by_name(request)

    assert request["ProcessingJobName"] == f"scones-monitor-{ANALYZED_KEY.lower()}"
    assert request["AppSpecification"]["ImageUri"] == PROCESSING_IMAGE
    assert inputs.pop("code").startswith(f"s3://{BUCKET}/code/monitor/")
    assert inputs == {
        "capture-2026010110": f"s3://{BUCKET}/datacapture/{ENDPOINT}/AllTraffic/2026/01/01/10/",
        "baseline-statistics": f"{BASELINE}/statistics.json",
        "baseline-constraints": f"{BASELINE}/constraints.json",
    }
    arguments = request["AppSpecification"]["ContainerArguments"]
    window = arguments[arguments.index("--start-time") + 1], arguments[arguments.index("--end-time") + 1]
    assert window == ("2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z")
    output = request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert output == f"{MONITORING}/{ANALYZED_KEY}/result/"


def test_analyzer_job_deferred_to_the_providers_trigger(monitor_runs: MonitorRuns) -> None:
    run = monitor_runs.analyzed
    assert run.triggers == [{"task_id": "analyze_window", "trigger": SAGEMAKER_TRIGGER,
                             "event": {"status": "success", "job_name": f"scones-monitor-{ANALYZED_KEY.lower()}"}}]


def test_analyzer_found_brightness_drift(monitor_runs: MonitorRuns) -> None:
    result = f"{MONITORING}/{ANALYZED_KEY}/result/"
    violations = read_json(monitor_runs.moto, result + "constraint_violations.json")["violations"]
    summary = read_json(monitor_runs.moto, result + "analysis_summary.json")

    assert {(v["feature_name"], v["constraint_check_type"]) for v in violations} >= {
        ("brightness", "baseline_drift_check")}
    assert summary["item_count"] == len(monitor_scenario.DRIFTED_SHADES)
    assert read_json(monitor_runs.moto, result + "statistics.json")["dataset"]["item_count"] == summary["item_count"]


def test_analyzer_decision_is_retrain_for_brightness(monitor_runs: MonitorRuns) -> None:
    run = monitor_runs.analyzed
    assert xcom(run, "decide_action", "action") == "retrain"
    violations = xcom(run, "decide_action", "violations")
    assert any(v["feature_name"] == "brightness" and v["action"] == "retrain" for v in violations)
    assert xcom(run, "read_interval_result")["output_uri"] == f"{MONITORING}/{ANALYZED_KEY}/result/"


def test_retraining_run_was_triggered_with_the_reason(monitor_runs: MonitorRuns) -> None:
    triggered = triggered_train_runs(monitor_runs.analyzed)
    assert [run_id for run_id, _ in triggered] == ["monitor__scheduled__2026-01-01T11:00:00+00:00"]
    conf = triggered[0][1]
    assert conf["reason"].startswith(f"drift detected by scones_monitor run {ANALYZED_KEY}: ")
    assert "baseline_drift_check on brightness" in conf["reason"]
    assert any(v["feature_name"] == "brightness" for v in conf["violations"])
    [claim] = read_json(monitor_runs.moto, f"{MONITORING}/retrain_claims.json")["claims"]
    assert (claim["run_key"], claim["reason"]) == (ANALYZED_KEY, conf["reason"])
    assert claim["interval_end"] == "2026-01-01T11:00:00+00:00", "claimed in data-interval time"


def test_report_is_published_for_the_interval(monitor_runs: MonitorRuns) -> None:
    report = xcom(monitor_runs.analyzed, "write_monitoring_report")
    assert report == f"{MONITORING}/{ANALYZED_KEY}/report/index.html"
    page = monitor_runs.moto.client("s3").get_object(Bucket=BUCKET, Key=report.split("/", 3)[3])["Body"].read()
    assert b"<html" in page.lower()


def test_the_report_task_links_the_report_and_the_static_health_page_in_the_s3_console(
        monitor_runs: MonitorRuns) -> None:
    console = f"https://console.aws.amazon.com/s3/object/{BUCKET}?region="
    report_key = f"{MONITORING}/{ANALYZED_KEY}/report/index.html".split("/", 3)[3]
    link = xcom(monitor_runs.analyzed, "write_monitoring_report", "_link_DriftReportLink")
    assert link.startswith(console) and link.endswith("&prefix=" + report_key.replace("/", "%2F"))
    page_uri = xcom(monitor_runs.analyzed, "publish_model_health")
    assert page_uri == f"s3://{BUCKET}/health/index.html"
    page = monitor_runs.moto.client("s3").get_object(Bucket=BUCKET, Key="health/index.html")["Body"].read().decode()
    assert ("prefix=" + report_key.replace("/", "%2F")) in page and "a static copy" in page


def test_hour_without_capture_is_no_traffic_and_starts_no_job(monitor_runs: MonitorRuns) -> None:
    run = monitor_runs.quiet
    assert run.dag_run_state == "success", run.log_tail()
    states = run.task_states
    assert {t: states[t] for t in ("list_capture_hours", "window_has_capture", "read_interval_result",
                                   "decide_action")} == dict.fromkeys(
        ("list_capture_hours", "window_has_capture", "read_interval_result", "decide_action"), "success"), states
    assert (states["build_analysis_request"], states["analyze_window"]) == ("skipped", "skipped")
    assert states["trigger_retraining"] == "skipped"
    assert run.calls("sagemaker", "CreateProcessingJob") == []
    assert xcom(run, "decide_action", "action") == "no_traffic"
    assert xcom(run, "read_interval_result")["no_traffic"] is True
    assert triggered_train_runs(run) == []


def test_model_monitor_path_is_chosen_for_the_latest_hour(monitor_runs: MonitorRuns) -> None:
    run = monitor_runs.model_monitor
    assert run.dag_run_state == "success", run.log_tail()
    states = run.task_states
    assert {t: states[t] for t in COMMON + MODEL_MONITOR_PATH} == dict.fromkeys(COMMON + MODEL_MONITOR_PATH,
                                                                               "success"), run.log_tail()
    assert {t: states[t] for t in ANALYZER_PATH} == dict.fromkeys(ANALYZER_PATH, "skipped")
    assert run.calls("sagemaker", "CreateProcessingJob") == []


def test_monitoring_schedule_is_created_when_missing(monitor_runs: MonitorRuns) -> None:
    run = monitor_runs.model_monitor
    operations = [c.operation for c in run.requests if "MonitoringSchedule" in c.operation]
    assert operations == ["DescribeMonitoringSchedule", "CreateMonitoringSchedule"]
    request = only_request(run, "CreateMonitoringSchedule")
    assert_valid_request("sagemaker", "CreateMonitoringSchedule", request)
    config = request["MonitoringScheduleConfig"]
    job = config["MonitoringJobDefinition"]

    for call in run.calls("sagemaker", "ListMonitoringExecutions"):
        assert_valid_request("sagemaker", "ListMonitoringExecutions", call.params)
    assert request["MonitoringScheduleName"] == SCHEDULE
    assert config["ScheduleConfig"] == {"ScheduleExpression": "cron(0 * ? * * *)"}
    assert job["MonitoringAppSpecification"] == {"ImageUri": MONITOR_IMAGE}
    assert job["BaselineConfig"] == {"ConstraintsResource": {"S3Uri": f"{BASELINE}/constraints.json"},
                                     "StatisticsResource": {"S3Uri": f"{BASELINE}/statistics.json"}}
    assert job["MonitoringInputs"][0]["EndpointInput"]["EndpointName"] == ENDPOINT
    assert job["MonitoringOutputConfig"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"] == (
        f"{MONITORING}/model-monitor/")


def test_model_monitor_execution_of_the_hour_is_read(monitor_runs: MonitorRuns) -> None:
    run = monitor_runs.model_monitor
    hour = monitor_runs.model_monitor_hour.astimezone(UTC)
    job = monitor_scenario.monitoring_job_name(SCHEDULE, hour)
    assert [c.params["ProcessingJobName"] for c in run.calls("sagemaker", "DescribeProcessingJob")] == [job]
    assert {c.params["MonitoringScheduleName"] for c in run.calls("sagemaker", "ListMonitoringExecutions")} == {
        SCHEDULE}
    execution = xcom(run, "wait_for_interval_execution")
    assert execution == {"status": "CompletedWithViolations", "no_traffic": False,
                         "output_uri": monitor_scenario.model_monitor_result_uri(
                             f"{MONITORING}/model-monitor/", ENDPOINT, SCHEDULE, hour)}


def test_model_monitor_violations_decide_within_the_cooldown(monitor_runs: MonitorRuns) -> None:
    run = monitor_runs.model_monitor
    violations = xcom(run, "decide_action", "violations")
    assert any(v["feature_name"] == "brightness" and v["constraint_check_type"] == "baseline_drift_check"
               for v in violations)
    assert xcom(run, "decide_action", "action") == "alert"
    assert any("retrain_cooldown_hours" in reason for reason in xcom(run, "decide_action", "reasons"))
    assert run.task_states["trigger_retraining"] == "skipped"
    assert triggered_train_runs(run) == []

