"""Embedding drift's inputs: the baseline job embeds, the analyzer job and the Model Monitor schedule get the model
and the baseline's embeddings — valid requests in botocore's model, and absent when the setting is off."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from include.builders.evaluation import baseline_request
from include.builders.monitoring import (
    EmbeddingInputs,
    EnvironmentValueTooLongError,
    WindowTooLargeError,
    analysis_request,
    monitoring_schedule_request,
    monitoring_schedule_update,
)
from include.settings import SettingsError, load_settings
from include.workflows.monitoring import layout
from tests.support.botocore_contract import assert_valid_request

START = datetime(2026, 3, 1, 10, tzinfo=UTC)
END = datetime(2026, 3, 1, 11, tzinfo=UTC)
BASELINE = "s3://scones-mlops/models/train-20260301T0000/baseline/"
MODEL = "s3://scones-mlops/models/train-20260301T0000/training/scones-train-20260301t0000/output/model.tar.gz"
EMBEDDING = EmbeddingInputs(MODEL, BASELINE + "embeddings.npy")


def hour_uris(settings, *hours: int) -> list[str]:
    return [f"{layout.capture_prefix(settings)}2026/03/01/{hour:02d}/" for hour in hours]


def build_analysis(settings, hours: list[str], embedding: EmbeddingInputs | None = EMBEDDING) -> dict:
    return analysis_request(
        settings, run_key="20260301T1000", job_name="scones-monitor-20260301t1000",
        code_uri="s3://scones-mlops/code/monitor/abc/", capture_uris=hours, baseline_uri=BASELINE,
        start=START, end=END, output_uri="s3://scones-mlops/monitoring/ep/20260301T1000/result/", embedding=embedding,
    )


def build_baseline(settings, model: str | None = MODEL) -> dict:
    return baseline_request(settings, run_key="train-20260301T0000", job_name="scones-baseline-train-20260301t0000",
                            code_uri="s3://scones-mlops/code/monitor/abc/",
                            capture_uri="s3://scones-mlops/models/train-20260301T0000/evaluation/capture.jsonl",
                            output_uri=BASELINE, model_data_url=model)


def build_schedule(settings, embedding: EmbeddingInputs | None = EMBEDDING) -> dict:
    return monitoring_schedule_request(settings, schedule_name=layout.schedule_name(settings), baseline_uri=BASELINE,
                                       output_uri=layout.model_monitor_output_uri(settings), embedding=embedding)


def _inputs(request: dict) -> dict[str, dict]:
    return {spec["InputName"]: spec["S3Input"] for spec in request["ProcessingInputs"]}


def _pairs(request: dict) -> dict[str, str]:
    arguments = request["AppSpecification"]["ContainerArguments"]
    return dict(zip(arguments[::2], arguments[1::2], strict=True))


def test_baseline_request_with_the_model_is_a_valid_create_processing_job(settings):
    request = build_baseline(settings)
    assert_valid_request("sagemaker", "CreateProcessingJob", request)
    assert _inputs(request)["model"]["S3Uri"] == MODEL
    assert _pairs(request)["--mmd-baseline-records"] == str(settings.monitor.mmd_baseline_records)


def test_analysis_request_with_embedding_inputs_is_a_valid_create_processing_job(settings):
    request = build_analysis(settings, hour_uris(settings, 9, 10, 11))
    assert_valid_request("sagemaker", "CreateProcessingJob", request)
    inputs = _inputs(request)
    assert inputs["model"]["S3Uri"] == MODEL and inputs["baseline-embeddings"]["S3Uri"] == EMBEDDING.embeddings_uri
    pairs = _pairs(request)
    assert pairs["--embedding-model"] == inputs["model"]["LocalPath"]
    assert pairs["--baseline-embeddings"] == inputs["baseline-embeddings"]["LocalPath"] + "/embeddings.npy"
    assert pairs["--mmd-alpha"] == str(settings.monitor.mmd_alpha)


def test_embedding_inputs_leave_room_for_five_capture_hours(settings):
    assert_valid_request("sagemaker", "CreateProcessingJob", build_analysis(settings, hour_uris(settings, *range(5))))
    with pytest.raises(WindowTooLargeError, match=r"monitor\.schedule hourly"):
        build_analysis(settings, hour_uris(settings, *range(6)))


def test_schedule_with_embedding_uris_in_its_environment_is_valid(aws_settings):
    request = build_schedule(aws_settings)
    assert_valid_request("sagemaker", "CreateMonitoringSchedule", request)
    assert_valid_request("sagemaker", "UpdateMonitoringSchedule", monitoring_schedule_update(request))
    environment = request["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["Environment"]
    assert environment["embedding_model_uri"] == MODEL
    assert environment["baseline_embeddings_uri"] == EMBEDDING.embeddings_uri
    assert environment["mmd_permutations"] == str(aws_settings.monitor.mmd_permutations)


def test_an_environment_uri_longer_than_model_monitor_takes_is_refused_with_the_fix(aws_settings):
    too_long = EmbeddingInputs("s3://scones-mlops/" + "m" * 250 + "/model.tar.gz", EMBEDDING.embeddings_uri)
    with pytest.raises(EnvironmentValueTooLongError, match="SCONES_MONITOR__EMBEDDING_DRIFT=false"):
        build_schedule(aws_settings, too_long)


def test_without_embedding_inputs_the_requests_are_as_before(settings, aws_settings):
    assert "model" not in _inputs(build_analysis(settings, hour_uris(settings, 10), embedding=None))
    environment = build_schedule(aws_settings, None)["MonitoringScheduleConfig"]["MonitoringJobDefinition"][
        "Environment"]
    assert not any(name.startswith(("embedding", "mmd", "baseline_embeddings")) for name in environment)


def test_the_setting_off_leaves_the_model_out_of_the_baseline_job(monkeypatch, tmp_path):
    off = load_settings(environ={"SCONES_MONITOR__EMBEDDING_DRIFT": "false", "SCONES_DATA_ROOT": str(tmp_path)})
    request = build_baseline(off)
    assert "model" not in _inputs(request) and "--embedding-model" not in _pairs(request)


def test_an_alpha_no_permutation_count_can_reach_is_refused_naming_both_settings():
    with pytest.raises(SettingsError) as error:
        load_settings(environ={"SCONES_MONITOR__MMD_ALPHA": "0.001", "SCONES_MONITOR__MMD_PERMUTATIONS": "99"})
    assert "SCONES_MONITOR__MMD_ALPHA" in str(error.value) and "SCONES_MONITOR__MMD_PERMUTATIONS" in str(error.value)
