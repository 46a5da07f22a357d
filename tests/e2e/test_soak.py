"""The short soak: three simulated days through a real Airflow, every fault applied, every invariant held.

``python -m devtools.soak`` runs as ``make soak`` does (its own Airflow home and data root in a temporary
folder); the test reads the JSON report it writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from devtools.soak.plan import (
    ENDPOINT_ERROR_BURST,
    ENDPOINT_ERRORS,
    FAULTS,
    ROLLBACK_DURING_DRIFT,
    TRAINING_JOB_KILL,
    WORKER_KILL,
)
from include.settings import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("soak")
    report = root / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "devtools.soak", "--days", "3", "--interval-hours", "24", "--base-photos", "12",
         "--busy-photos", "120",
         "--work-root", str(root / "run"), "--report", str(report)],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True, text=True, timeout=1800)
    assert report.exists(), (done.stdout + done.stderr)[-4000:]
    return {"exit": done.returncode, "log": done.stdout + done.stderr, **json.loads(report.read_text())}


def test_the_soak_passes_and_says_so_with_its_exit_status(soak):
    assert soak["error"] is None, soak["log"][-4000:]
    assert soak["passed"] and soak["exit"] == 0, soak["log"][-4000:]


def test_every_simulated_day_was_checked(soak):
    assert [day["day"] for day in soak["days"]] == [1, 2, 3]
    assert all(day["invariants"] for day in soak["days"])


def test_every_fault_of_the_plan_was_applied(soak):
    assert sorted({fault["fault"] for fault in soak["faults"]}) == sorted(FAULTS)


def test_the_relabelled_photo_keeps_the_relabel(soak):
    [relabel] = [f for f in soak["faults"] if "relabelled" in f["fault"]]
    assert "refused with AlreadyLabelledError" in relabel["outcome"]


def test_photos_were_routed_and_one_retrain_answered_the_drift(soak):
    final = {i["name"]: i for i in soak["days"][-1]["invariants"]}
    assert final["photos arrived"]["value"] == final["photos routed exactly once"]["value"] > 0
    assert final["retrains triggered during drift episodes"]["value"] == 1
    assert final["DAG runs left running or queued at the end"]["value"] == 0


def test_the_endpoint_errors_were_served_and_ridden_out(soak):
    [burst] = [f for f in soak["faults"] if f["fault"] == ENDPOINT_ERRORS]
    assert f"answered {len(ENDPOINT_ERROR_BURST)} of {len(ENDPOINT_ERROR_BURST)}" in burst["outcome"], burst
    assert "which ended success" in burst["outcome"], burst


def test_the_killed_task_and_training_job_were_retried_and_succeeded(soak):
    for name in (WORKER_KILL, TRAINING_JOB_KILL):
        [killed] = [f for f in soak["faults"] if f["fault"] == name]
        assert "killed" in killed["outcome"] and "ended success on try 2" in killed["outcome"], killed
    final = {i["name"]: i for i in soak["days"][-1]["invariants"]}
    assert final["task tries retried"]["value"] >= 2
    assert final["tasks retried after a deterministic failure"]["value"] == 0


def test_the_retrained_models_deployment_rolled_back_and_the_old_model_kept_serving(soak):
    [rollback] = [f for f in soak["faults"] if f["fault"] == ROLLBACK_DURING_DRIFT]
    assert "ModelError (original status 500)" in rollback["outcome"] and "as before" in rollback["outcome"], rollback
    assert "ended failed" in rollback["outcome"] and "error alarm" in rollback["outcome"], rollback
    final = {i["name"]: i for i in soak["days"][-1]["invariants"]}
    assert final["deployments rolled back"]["value"] == 1 and final["deployments rolled back"]["ok"]
    assert final["monitor runs whose baseline was not the serving model's"]["value"] == 0
