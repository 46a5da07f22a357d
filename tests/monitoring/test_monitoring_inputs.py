"""Finding the baseline, the window's capture hours and the interval's result."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from include.builders.registry import RUN_KEY_PROPERTY
from include.runtime.aws import interval_analysis as model_monitor
from include.runtime.local.store import LocalObjectStore
from include.workflows.monitoring import analysis, baseline, layout, results

START = datetime(2026, 3, 1, 10, tzinfo=UTC)
END = datetime(2026, 3, 1, 11, tzinfo=UTC)


class OneVersionRegistry:
    def __init__(self, record: dict | None) -> None:
        self.record = record

    def latest_approved(self) -> dict | None:
        return self.record


def version(run_key: str) -> dict:
    return {"ModelPackageArn": "local:model-package/g/3", "ModelPackageVersion": 3,
            "CustomerMetadataProperties": {RUN_KEY_PROPERTY: run_key}}


@pytest.fixture
def store(settings) -> LocalObjectStore:
    return LocalObjectStore(settings.data_root)


def test_baseline_is_the_approved_models_baseline_folder(settings, store):
    uri = "s3://scones-mlops/models/train-20260301T0000/baseline/"
    for name in ("statistics.json", "constraints.json"):
        store.put_bytes(uri + name, b"{}")
    assert baseline.baseline_for_current_model(settings, OneVersionRegistry(version("train-20260301T0000")),
                                                 store) == uri


def test_no_approved_model_is_an_error_naming_the_fix(settings, store):
    with pytest.raises(baseline.NoBaselineError, match="run scones_train"):
        baseline.baseline_for_current_model(settings, OneVersionRegistry(None), store)


def test_approved_model_without_baseline_files_is_an_error(settings, store):
    with pytest.raises(baseline.NoBaselineError, match=r"lacks statistics\.json, constraints\.json"):
        baseline.baseline_for_current_model(settings, OneVersionRegistry(version("train-x")), store)


def test_capture_hours_are_the_window_and_its_neighbours_that_have_files(settings, store):
    prefix = layout.capture_prefix(settings)
    for hour in ("08", "09", "10", "12"):
        store.put_bytes(f"{prefix}2026/03/01/{hour}/00-00-000-a.jsonl", b"{}\n")
    assert analysis.capture_hour_prefixes(settings, store, START, END) == [
        f"{prefix}2026/03/01/09/", f"{prefix}2026/03/01/10/"]


def test_window_without_capture_files_has_no_hours(settings, store):
    assert analysis.capture_hour_prefixes(settings, store, START, END) == []


def test_result_reads_violations_and_traffic_from_the_result_folder(store):
    folder = "s3://b/monitoring/ep/k/result/"
    store.put_bytes(folder + "constraint_violations.json", json.dumps({"violations": [{"feature_name": "x"}]}).encode())
    store.put_bytes(folder + "analysis_summary.json", json.dumps({"item_count": 0, "no_traffic": True}).encode())
    assert results.read_interval_result(store, folder) == {
        "output_uri": folder, "violations": [{"feature_name": "x"}], "no_traffic": True, "item_count": 0}


def test_interval_without_capture_hours_is_no_traffic_without_a_job(store):
    result = results.interval_result(store, execution=None, analysis_job=None, capture_hours=[])
    assert result == results.no_traffic_result()


def test_model_monitor_no_data_execution_is_no_traffic(store):
    execution = {"status": model_monitor.NO_TRAFFIC, "output_uri": None, "no_traffic": True}
    result = results.interval_result(store, execution=execution, analysis_job=None, capture_hours=None)
    assert result["no_traffic"] is True
