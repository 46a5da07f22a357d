"""``scones_monitor`` through Airflow's ``dag.test()`` in the local runtime (a temporary AIRFLOW_HOME)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from include.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e

DRIFTED_HOUR = "2026-03-01T13:00:00+00:00"
EMPTY_HOUR = "2026-03-01T20:00:00+00:00"


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
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
    return env


def run_monitor(env: dict[str, str], logical_date: str, traffic: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "tests.monitoring.run_monitor_dag", logical_date, traffic],
                          env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return {**json.loads(line.removeprefix("RESULT ")), "log": done.stdout + done.stderr}


@pytest.fixture(scope="module")
def drifted(airflow_env: dict[str, str]) -> dict:
    return run_monitor(airflow_env, DRIFTED_HOUR, "drifted")


@pytest.fixture(scope="module")
def empty(airflow_env: dict[str, str], drifted: dict) -> dict:
    return run_monitor(airflow_env, EMPTY_HOUR, "empty")


def test_drifted_hour_runs_the_analyzer_and_triggers_retraining(drifted):
    assert drifted["state"] == "success"
    assert drifted["tasks"]["analyze_window"] == "success"
    assert drifted["tasks"]["trigger_retraining"] == "success"
    assert drifted["tasks"]["record_retrain"] == "success"


def test_retraining_conf_carries_the_reason_and_violations(drifted):
    [triggered] = drifted["triggered"]
    assert "baseline_drift_check on brightness" in triggered["conf"]["reason"]
    assert any(v["feature_name"] == "brightness" for v in triggered["conf"]["violations"])


def test_model_monitor_path_is_skipped_locally(drifted):
    assert drifted["tasks"]["ensure_schedule"] == "skipped"
    assert drifted["tasks"]["wait_for_interval_execution"] == "skipped"


def test_empty_hour_reports_no_traffic_without_a_job_or_retraining(empty):
    assert empty["state"] == "success"
    assert empty["tasks"]["analyze_window"] == "skipped"
    assert empty["decision"]["action"] == "no_traffic"
    assert empty["tasks"]["trigger_retraining"] == "skipped"
    assert len(empty["triggered"]) == 1


def test_a_run_that_skips_a_path_logs_no_error_for_it(drifted, empty):
    for run in (drifted, empty):
        assert "XCom not found" not in run["log"]
