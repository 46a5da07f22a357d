"""Finding the baseline, the window's capture hours and the interval's result."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from include.builders.registry import RUN_KEY_PROPERTY
from include.deployed_model import NoModelDeployedError, UntrackedServedModelError
from include.runtime.aws import interval_analysis as model_monitor
from include.runtime.capabilities import ServedModel
from include.runtime.local.store import LocalObjectStore
from include.workflows.monitoring import analysis, baseline, layout, results

START = datetime(2026, 3, 1, 10, tzinfo=UTC)
END = datetime(2026, 3, 1, 11, tzinfo=UTC)
SERVED_ARN = "local:model-package/g/3"


class Registry:
    """Versions 3 (serving) and 4 (approved later, never served) by ARN."""

    def __init__(self, *records: dict) -> None:
        self.records = {r["ModelPackageArn"]: r for r in records}

    def describe(self, arn: str) -> dict:
        return self.records[arn]

    def latest_approved(self) -> dict:
        return max(self.records.values(), key=lambda r: r["ModelPackageVersion"])


class Endpoint:
    def __init__(self, package_arn: str | None, exists: bool = True) -> None:
        self.package_arn, self.exists = package_arn, exists

    def served_model(self, endpoint_name: str) -> ServedModel | None:
        if not self.exists:
            return None
        return ServedModel(endpoint_name, "scones-config-v3-k", "scones-model-v3-k", self.package_arn)


def version(run_key: str, number: int = 3) -> dict:
    return {"ModelPackageArn": f"local:model-package/g/{number}", "ModelPackageVersion": number,
            "CustomerMetadataProperties": {RUN_KEY_PROPERTY: run_key}}


@pytest.fixture
def store(settings) -> LocalObjectStore:
    return LocalObjectStore(settings.data_root)


def test_baseline_is_the_serving_versions_not_the_newest_approved_ones(settings, store):
    uri = "s3://scones-mlops/models/train-20260301T0000/baseline/"
    for name in ("statistics.json", "constraints.json"):
        store.put_bytes(uri + name, b"{}")
    registry = Registry(version("train-20260301T0000"), version("train-20260302T0000", number=4))
    assert baseline.baseline_for_serving_model(settings, Endpoint(SERVED_ARN), registry, store) == uri


def test_no_deployed_model_is_its_own_error_naming_the_fix(settings, store):
    with pytest.raises(NoModelDeployedError, match="scones_deploy"):
        baseline.baseline_for_serving_model(settings, Endpoint(None, exists=False), Registry(), store)


def test_a_served_model_without_its_package_tag_is_an_error_naming_the_fix(settings, store):
    with pytest.raises(UntrackedServedModelError, match="scones:model-package-arn"):
        baseline.baseline_for_serving_model(settings, Endpoint(None), Registry(), store)


def test_serving_model_without_baseline_files_is_an_error(settings, store):
    with pytest.raises(baseline.NoBaselineError, match=r"lacks statistics\.json, constraints\.json"):
        baseline.baseline_for_serving_model(settings, Endpoint(SERVED_ARN), Registry(version("train-x")), store)


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
