"""The analysis Processing job and the Model Monitor schedule are valid requests in botocore's model."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from include.builders.monitoring import (
    HOURLY_CRON,
    AnalyzerVersionError,
    MonitorImageError,
    WindowTooLargeError,
    analysis_request,
    monitoring_schedule_request,
    monitoring_schedule_update,
)
from include.code_bundle import code_version
from include.workflows.monitoring import layout
from tests.support.botocore_contract import assert_valid_request

from .conftest import MONITOR_IMAGE, MONITOR_REPOSITORY

START = datetime(2026, 3, 1, 10, tzinfo=UTC)
END = datetime(2026, 3, 1, 11, tzinfo=UTC)
BASELINE = "s3://scones-mlops/models/train-20260301T0000/baseline/"


def hour_uris(settings, *hours: int) -> list[str]:
    return [f"{layout.capture_prefix(settings)}2026/03/01/{hour:02d}/" for hour in hours]


def build_analysis(settings, hours: list[str]) -> dict:
    return analysis_request(
        settings, run_key="20260301T1000", job_name="scones-monitor-20260301t1000",
        code_uri="s3://scones-mlops/code/monitor/abc/", capture_uris=hours, baseline_uri=BASELINE,
        start=START, end=END, output_uri="s3://scones-mlops/monitoring/ep/20260301T1000/result/",
    )


def build_schedule(settings) -> dict:
    return monitoring_schedule_request(settings, schedule_name=layout.schedule_name(settings),
                                       baseline_uri=BASELINE, output_uri=layout.model_monitor_output_uri(settings))


def test_analysis_request_is_a_valid_create_processing_job(settings):
    assert_valid_request("sagemaker", "CreateProcessingJob", build_analysis(settings, hour_uris(settings, 9, 10, 11)))


def test_capture_hours_keep_their_endpoint_variant_and_hour_layout(settings):
    request = build_analysis(settings, hour_uris(settings, 10))
    capture = next(i["S3Input"] for i in request["ProcessingInputs"] if i["InputName"].startswith("capture-"))
    endpoint, variant = settings.deploy.endpoint_name, settings.deploy.variant_name
    assert capture["LocalPath"] == f"/opt/ml/processing/input/endpoint/{endpoint}/{variant}/2026/03/01/10"


def test_analysis_runs_the_analyzer_in_analyze_mode_over_the_window(settings):
    arguments = build_analysis(settings, hour_uris(settings, 10))["AppSpecification"]["ContainerArguments"]
    pairs = dict(zip(arguments[::2], arguments[1::2], strict=True))
    assert pairs["--mode"] == "analyze"
    assert (pairs["--start-time"], pairs["--end-time"]) == ("2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z")
    assert pairs["--confidence-threshold"] == str(settings.confidence_threshold)
    assert pairs["--baseline-constraints"].endswith("/constraints.json")


def test_analysis_passes_the_shift_test_level_and_the_accuracy_floor(settings):
    arguments = build_analysis(settings, hour_uris(settings, 10))["AppSpecification"]["ContainerArguments"]
    pairs = dict(zip(arguments[::2], arguments[1::2], strict=True))
    assert pairs["--ks-alpha"] == str(settings.monitor.ks_alpha)
    assert pairs["--min-estimated-accuracy"] == str(settings.monitor.min_estimated_accuracy)


def test_analysis_message_path_is_remappable_by_the_local_runtime(settings):
    environment = build_analysis(settings, hour_uris(settings, 10))["Environment"]
    assert environment["SCONES_MESSAGE_PATH"].startswith("/opt/ml/processing/output/")


def test_too_many_capture_hours_are_refused_with_the_fix(settings):
    with pytest.raises(WindowTooLargeError, match=r"monitor\.schedule hourly"):
        build_analysis(settings, hour_uris(settings, *range(8)))


def test_schedule_request_is_a_valid_create_monitoring_schedule(aws_settings):
    assert_valid_request("sagemaker", "CreateMonitoringSchedule", build_schedule(aws_settings))


def test_schedule_update_is_a_valid_update_monitoring_schedule(aws_settings):
    update = monitoring_schedule_update(build_schedule(aws_settings))
    assert_valid_request("sagemaker", "UpdateMonitoringSchedule", update)


def test_schedule_runs_hourly_on_the_analyzer_image_within_the_hour(aws_settings):
    definition = build_schedule(aws_settings)["MonitoringScheduleConfig"]
    assert definition["ScheduleConfig"]["ScheduleExpression"] == HOURLY_CRON
    job = definition["MonitoringJobDefinition"]
    assert job["MonitoringAppSpecification"]["ImageUri"] == MONITOR_IMAGE
    assert job["StoppingCondition"]["MaxRuntimeInSeconds"] <= 3600
    assert job["BaselineConfig"]["StatisticsResource"]["S3Uri"] == BASELINE + "statistics.json"
    assert job["Environment"]["confidence_threshold"] == str(aws_settings.confidence_threshold)
    assert job["Environment"]["ks_alpha"] == str(aws_settings.monitor.ks_alpha)
    assert job["Environment"]["min_estimated_accuracy"] == str(aws_settings.monitor.min_estimated_accuracy)


def test_schedule_without_a_monitor_image_names_the_setting(settings):
    with pytest.raises(MonitorImageError, match="SCONES_IMAGES__MONITOR_URI"):
        build_schedule(settings)


@pytest.fixture
def stale_image_settings(aws_settings, monkeypatch):
    """Model Monitor on, with an analyzer image built from other code than the DAG would upload."""
    from include.settings import get_settings

    monkeypatch.setenv("SCONES_IMAGES__MONITOR_URI", f"{MONITOR_REPOSITORY}:0123456789abcdef")
    get_settings.cache_clear()
    return get_settings()


def test_schedule_refuses_an_analyzer_image_of_another_code_version_naming_both(stale_image_settings):
    with pytest.raises(AnalyzerVersionError) as refused:
        build_schedule(stale_image_settings)
    message = str(refused.value)
    assert "tagged 0123456789abcdef" in message
    assert f"version {code_version('monitor')}" in message
    assert f"{MONITOR_REPOSITORY}:{code_version('monitor')}" in message


def test_schedule_refuses_an_analyzer_image_named_by_digest(aws_settings, monkeypatch):
    from include.settings import get_settings

    monkeypatch.setenv("SCONES_IMAGES__MONITOR_URI", f"{MONITOR_REPOSITORY}@sha256:{'0' * 64}")
    get_settings.cache_clear()
    with pytest.raises(AnalyzerVersionError, match=r"tagged \(no tag\)"):
        build_schedule(get_settings())

