"""Ingest through a real scheduler: a backfill over N dates yields N partitions; a re-run reproduces one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from devtools.local_airflow import LocalAirflow

pytestmark = pytest.mark.e2e

BACKFILL_DATES = ["20260101T0000", "20260102T0000", "20260103T0000"]


def _partition(data_root: str, key: str) -> Path:
    return Path(data_root) / "scones-mlops" / "datasets" / key


def _wait_for_backfill(airflow: LocalAirflow, dag_id: str, expected_runs: int, timeout: float = 600) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in airflow.runs(dag_id) if r["run_type"] == "backfill"]
        if len(runs) == expected_runs and all(r["state"] in ("success", "failed") for r in runs):
            return runs
        time.sleep(3)
    raise TimeoutError(f"backfill of {dag_id} did not finish: {airflow.runs(dag_id)}")


@pytest.fixture(scope="module")
def backfilled(airflow: LocalAirflow) -> list[dict]:
    airflow.wait_for_dag("scones_ingest")
    airflow.unpause("scones_ingest")
    airflow.create_backfill({  # asks again while SQLite is locked by another writer
        "dag_id": "scones_ingest", "from_date": "2026-01-01T00:00:00Z", "to_date": "2026-01-03T00:00:00Z",
        "max_active_runs": 1, "reprocess_behavior": "none",
    })
    return _wait_for_backfill(airflow, "scones_ingest", expected_runs=len(BACKFILL_DATES))


def test_backfill_of_three_dates_gives_three_partitions(backfilled: list[dict], e2e_data: dict[str, str]):
    assert sorted(r["state"] for r in backfilled) == ["success"] * 3
    for key in BACKFILL_DATES:
        partition = _partition(e2e_data["SCONES_DATA_ROOT"], key)
        assert (partition / "manifest.json").is_file(), key
        assert (partition / "train.lst").is_file(), key
    staging = Path(e2e_data["SCONES_DATA_ROOT"]) / "scones-mlops" / "staging"
    assert not any(p.is_file() for p in staging.rglob("*")), "staged outputs must be cleaned after publishing"


def test_clearing_a_date_reuses_its_job_and_reproduces_the_partition(
    airflow: LocalAirflow, backfilled: list[dict], e2e_data: dict[str, str]
):
    partition = _partition(e2e_data["SCONES_DATA_ROOT"], BACKFILL_DATES[1])
    before = {p.relative_to(partition): p.read_bytes() for p in partition.rglob("*") if p.is_file()}
    run = next(r for r in backfilled if r["logical_date"].startswith("2026-01-02"))
    airflow.request("POST", "/api/v2/dags/scones_ingest/clearTaskInstances", {
        "dry_run": False, "dag_run_id": run["dag_run_id"], "reset_dag_runs": True, "only_failed": False,
    })
    time.sleep(3)
    assert airflow.wait_for_run("scones_ingest", run["dag_run_id"], timeout=300) == "success"
    after = {p.relative_to(partition): p.read_bytes() for p in partition.rglob("*") if p.is_file()}
    assert after == before
    ingest = next(t for t in airflow.task_instances("scones_ingest", run["dag_run_id"]) if t["task_id"] == "ingest")
    assert ingest["try_number"] >= 2


def _task_log_records(airflow: LocalAirflow, dag_id: str, run_id: str) -> dict[str, list[dict]]:
    folder = airflow.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    return {str(log.relative_to(folder)): [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
            for log in sorted(folder.rglob("*.log"))}


def test_task_logs_show_the_projects_info_lines_and_no_error_in_a_successful_run(
    airflow: LocalAirflow, backfilled: list[dict]
):
    run = next(r for r in backfilled if r["logical_date"].startswith("2026-01-01"))
    logs = _task_log_records(airflow, "scones_ingest", run["dag_run_id"])
    ingest = next(records for name, records in logs.items() if name.startswith("task_id=ingest/"))
    job_lines = [r["event"] for r in ingest if r.get("level") == "info" and "include.runtime.local.jobs" in
                 r.get("logger", "")]
    assert any(line.startswith("running ") for line in job_lines), job_lines[:20]
    assert any(line.startswith("[ingest] ") for line in job_lines), "the job program's own output"
    errors = {name: [r["event"] for r in records if r.get("level") in ("error", "critical")]
              for name, records in logs.items()}
    assert all(not found for found in errors.values()), errors
