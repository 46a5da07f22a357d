"""``scones_monitor`` through Airflow's ``dag.test()`` in the local runtime (a temporary AIRFLOW_HOME), hour after hour.

Before any deployment the monitor has nothing to watch: skipped, not failed. Then version 1 serves and a
newer version 2 is approved but never served (its update rolled back): every run watches version 1's
baseline. A dark hour triggers retraining; the next dark hour, within the cooldown of the first in
data-interval time, alerts — and, being the same incident, sends nothing new. A backfilled dark hour a day
later reports its drift without retraining. An hour without capture is no traffic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from include.settings import PROJECT_ROOT
from tests.monitoring.capture_support import MODEL_KEY

pytestmark = pytest.mark.e2e

STEPS = {
    "undeployed": "undeployed@2026-03-01T09:00:00+00:00",
    "deploy": "deploy",
    "drifted": "drifted@2026-03-01T13:00:00+00:00",
    "next_hour": "drifted@2026-03-01T14:00:00+00:00",
    "backfilled": "backfill@2026-03-02T13:00:00+00:00",
    "empty": "empty@2026-03-01T20:00:00+00:00",
}
SERVING_BASELINE = f"s3://scones-mlops/models/{MODEL_KEY}/baseline/"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("monitor-dag")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": str(PROJECT_ROOT),
        "SCONES_RUNTIME": "local",
        "SCONES_DATA_ROOT": str(root / "data"),
        "SCONES_POLL_INTERVAL_SECONDS": "1",
        "SCONES_TRAINING__SCHEDULE_ON_DATASET": "false",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    for command in (["airflow", "db", "migrate"], ["airflow", "dags", "reserialize"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    done = subprocess.run([sys.executable, "-m", "tests.monitoring.run_monitor_dag", *STEPS.values()],
                          env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return {**dict(zip(STEPS, json.loads(line.removeprefix("RESULT ")), strict=True)),
            "log": done.stdout + done.stderr}


def test_before_any_deployment_the_monitor_skips_instead_of_failing(runs):
    undeployed = runs["undeployed"]
    assert undeployed["state"] == "success"
    assert set(undeployed["tasks"].values()) == {"skipped"}, undeployed["tasks"]


def test_a_rolled_back_update_leaves_the_monitor_on_the_serving_versions_baseline(runs):
    assert runs["deploy"]["serving"] != runs["deploy"]["latest_approved"]
    for step in ("drifted", "next_hour", "backfilled", "empty"):
        assert runs[step]["baseline"] == SERVING_BASELINE, step


def test_drifted_hour_runs_the_analyzer_and_triggers_retraining(runs):
    drifted = runs["drifted"]
    assert drifted["state"] == "success"
    assert drifted["tasks"]["analyze_window"] == "success"
    assert drifted["tasks"]["trigger_retraining"] == "success"
    assert drifted["decision"]["action"] == "retrain"


def test_retraining_conf_carries_the_reason_and_violations(runs):
    [triggered] = runs["drifted"]["triggered"]
    assert "baseline_drift_check on brightness" in triggered["conf"]["reason"]
    assert any(v["feature_name"] == "brightness" for v in triggered["conf"]["violations"])


def test_the_next_drifted_hour_alerts_within_the_cooldown_and_is_the_same_incident(runs):
    following = runs["next_hour"]
    assert following["decision"]["action"] == "alert"
    assert "monitor.retrain_cooldown_hours" in following["decision"]["reasons"][-1]
    assert following["tasks"]["trigger_retraining"] == "skipped"
    assert len(following["triggered"]) == 1
    assert following["alerts"] == runs["drifted"]["alerts"] == 1, "one incident, one alert"


def test_a_backfilled_drifted_hour_reports_but_does_not_retrain(runs):
    backfilled = runs["backfilled"]
    assert backfilled["run_type"].endswith("backfill") or "BACKFILL" in backfilled["run_type"]
    assert backfilled["tasks"]["analyze_window"] == "success"
    assert backfilled["decision"]["action"] == "alert"
    assert "monitor.retrain_on_backfill=false" in backfilled["decision"]["reasons"][-1]
    assert backfilled["tasks"]["trigger_retraining"] == "skipped"
    assert len(backfilled["triggered"]) == 1


def test_model_monitor_path_is_skipped_locally(runs):
    assert runs["drifted"]["tasks"]["ensure_schedule"] == "skipped"
    assert runs["drifted"]["tasks"]["wait_for_interval_execution"] == "skipped"


def test_empty_hour_reports_no_traffic_without_a_job_or_retraining(runs):
    empty = runs["empty"]
    assert empty["state"] == "success"
    assert empty["tasks"]["analyze_window"] == "skipped"
    assert empty["decision"]["action"] == "no_traffic"
    assert empty["tasks"]["trigger_retraining"] == "skipped"


def test_runs_that_skip_a_path_log_no_error_for_it(runs):
    assert "XCom not found" not in runs["log"]
