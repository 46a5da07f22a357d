"""The analyzer path end to end without Airflow: baseline, capture in SageMaker's layout, job, decision, report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from include.runtime.local.job_records import LocalJobRegistry
from include.runtime.local.processing import run_processing_job
from include.runtime.local.store import LocalObjectStore
from include.settings import load_settings
from include.workflows.monitoring import analysis, layout, results
from include.workflows.monitoring import decision as policy
from include.workflows.monitoring import report as reporting
from tests.monitor.traffic import Profile

from .capture_support import write_baseline, write_capture_hour

LIKE_HOUR = datetime(2026, 3, 1, 10, tzinfo=UTC)
DRIFTED_HOUR = datetime(2026, 3, 1, 13, tzinfo=UTC)


def analyse(settings, store: LocalObjectStore, baseline: str, hour: datetime) -> dict:
    run_key = f"{hour:%Y%m%dT%H%M}"
    start, end = hour, hour + timedelta(hours=1)
    hours = analysis.capture_hour_prefixes(settings, store, start, end)
    request = analysis.build_analysis_request(settings, store, run_key=run_key, job_name=f"scones-monitor-{run_key}",
                                                capture_uris=hours, baseline_uri=baseline, start=start, end=end)
    registry = LocalJobRegistry(settings.data_root / ".work", "processing")
    description = run_processing_job(request, store=store, registry=registry, log=lambda _: None)
    result = results.read_interval_result(store, analysis.job_output_uri({"Processing": description}))
    decision = policy.decide(result, settings, interval_end=end)
    report = reporting.write_report(settings, store, run_key=run_key, result_uri=result["output_uri"],
                                     baseline_uri=baseline, interval_start=start)
    return {"hours": hours, "result": result, "decision": decision, "report": report}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("monitoring")
    settings = load_settings(environ={"SCONES_DATA_ROOT": str(root / "data"), "SCONES_RUNTIME": "local"})
    store = LocalObjectStore(settings.data_root)
    baseline = write_baseline(settings, store, root / "scratch")
    write_capture_hour(settings, store, LIKE_HOUR, Profile())
    write_capture_hour(settings, store, DRIFTED_HOUR, Profile(brightness=(20, 60)))
    like = analyse(settings, store, baseline, LIKE_HOUR)
    drifted = analyse(settings, store, baseline, DRIFTED_HOUR)
    return {"store": store, "like": like, "drifted": drifted, "settings": settings}


def test_only_the_hour_with_files_is_an_input(analysed):
    assert [uri.rsplit("/", 5)[-5:-1] for uri in analysed["drifted"]["hours"]] == [["2026", "03", "01", "13"]]


def test_traffic_like_the_baseline_decides_nothing(analysed):
    assert analysed["like"]["result"]["violations"] == []
    assert analysed["like"]["decision"].action == "none"


def test_window_counts_its_records(analysed):
    assert analysed["drifted"]["result"]["item_count"] == 300


def test_darker_traffic_decides_retraining_for_brightness_drift(analysed):
    decision = analysed["drifted"]["decision"]
    assert decision.action == "retrain"
    assert "baseline_drift_check on brightness" in policy.retrain_conf(decision, "k")["reason"]


def test_report_has_non_empty_plots_and_an_index(analysed):
    store, report = analysed["store"], analysed["drifted"]["report"]
    folder = report.rsplit("/", 1)[0] + "/"
    files = {info.uri.rsplit("/", 1)[-1]: info.size for info in store.list(folder)}
    assert "index.html" in files
    pngs = {name: size for name, size in files.items() if name.endswith(".png")}
    assert set(pngs) == {"estimated_accuracy_over_time.png", "class_share_over_time.png",
                         "confidence_histogram.png", "feature_cdfs.png", "shifted_photos.png"}
    assert all(size > 0 for size in pngs.values())


def test_report_index_links_its_plots(analysed):
    page = analysed["store"].get_bytes(analysed["drifted"]["report"]).decode()
    assert 'src="confidence_histogram.png"' in page


def test_report_shows_what_the_configured_actions_do_with_each_violation(analysed):
    page = analysed["store"].get_bytes(analysed["drifted"]["report"]).decode()
    assert "violation &rarr; retrain" in page
    assert "src='shifted_photos.png'" in page


def test_each_interval_joins_the_report_history(analysed):
    settings, store = analysed["settings"], analysed["store"]
    archived = sorted(info.uri.rsplit("/", 2)[-2] for info in store.list(layout.history_prefix(settings))
                      if info.uri.endswith("/statistics.json"))
    assert archived == ["20260301T1000", "20260301T1300"]


def test_result_folder_holds_model_monitor_report_files(analysed):
    store, folder = analysed["store"], analysed["drifted"]["result"]["output_uri"]
    violations = json.loads(store.get_bytes(folder + "constraint_violations.json"))["violations"]
    assert {v["constraint_check_type"] for v in violations} >= {"baseline_drift_check"}


def test_no_traffic_interval_gets_a_report_saying_so(tmp_path: Path):
    settings = load_settings(environ={"SCONES_DATA_ROOT": str(tmp_path / "data"), "SCONES_RUNTIME": "local"})
    store = LocalObjectStore(settings.data_root)
    report = reporting.write_report(settings, store, run_key="k", result_uri=None,
                                     baseline_uri="s3://scones-mlops/models/x/baseline/", interval_start=LIKE_HOUR)
    assert "No traffic" in store.get_bytes(report).decode()
