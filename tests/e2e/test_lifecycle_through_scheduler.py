"""The demo's lifecycle at a small scale, through the real scheduler: data to routing file, drift to retraining."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil
import pytest

from devtools.demo import DemoScale, Lifecycle
from devtools.local_airflow import LocalAirflow
from devtools.processes import listening_sockets, processes_of
from include.settings import load_settings

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lifecycle(airflow: LocalAirflow, e2e_data: dict[str, str], e2e_scale: DemoScale) -> dict:
    settings = load_settings(environ={**os.environ, **e2e_data})
    return Lifecycle(airflow, settings, e2e_scale).story()


def _bucket(e2e_data: dict[str, str]) -> Path:
    return Path(e2e_data["SCONES_DATA_ROOT"]) / "scones-mlops"


def test_first_model_is_registered_and_approved(lifecycle: dict):
    assert lifecycle["first_version"]["version"] == 1
    assert lifecycle["first_version"]["approval_status"] == "Approved"


def test_inference_writes_routing_files_and_sagemaker_capture(lifecycle: dict, e2e_data: dict[str, str]):
    routing_files = sorted((_bucket(e2e_data) / "routing").rglob("routing.json"))
    assert routing_files, "no routing file written"
    captures = sorted((_bucket(e2e_data) / "datacapture").rglob("*.jsonl"))
    assert captures, "no Data Capture files written"
    record = json.loads(captures[0].read_text().splitlines()[0])
    assert record["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert record["eventVersion"] == "0"


def test_drifted_traffic_triggers_retraining_with_a_reason(lifecycle: dict):
    decision = lifecycle["monitor_decision"]
    assert decision["action"] == "retrain", decision
    assert any("baseline_drift_check" in reason for reason in decision["reasons"])
    assert "second_version" in lifecycle


def test_monitoring_report_is_written(lifecycle: dict, e2e_data: dict[str, str]):
    reports = list((_bucket(e2e_data) / "monitoring").rglob("index.html"))
    assert reports
    assert any(p.suffix == ".png" and p.stat().st_size > 1000 for p in reports[0].parent.iterdir())


def test_every_server_of_the_run_listens_on_127_0_0_1_only(lifecycle: dict, airflow: LocalAirflow):
    sockets = listening_sockets(processes_of(airflow.home))
    commands = {s.pid: " ".join(psutil.Process(s.pid).cmdline()) for s in sockets}
    assert any("model_server" in command for command in commands.values()), "the model server still serves"
    assert {s.host for s in sockets} == {"127.0.0.1"}, [(s, commands[s.pid]) for s in sockets]
