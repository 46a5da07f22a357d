"""scones_deploy then scones_inference through ``dag.test()`` in the local runtime, in a fresh Airflow home."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from include.builders.registry import model_package_request
from include.runtime.local.model_server_control import stop_server
from include.runtime.local.registry import LocalModelRegistry
from include.runtime.local.store import LocalObjectStore
from include.settings import PROJECT_ROOT, load_settings
from tests.serving_flow.support import draw_vehicle, free_port, png_bytes, train_model_archive

pytestmark = pytest.mark.e2e

# A manual run (dag.test) at 11:00 covers the interval [10:00, 11:00), keyed 20260301T1000.
DRIVER = """
import json, sys
from datetime import UTC, datetime
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(sys.argv[1])
assert not bag.import_errors, bag.import_errors
states = {}
states["deploy"] = str(bag.get_dag("scones_deploy").test().state)
inference = bag.get_dag("scones_inference")
states["photos"] = str(inference.test(logical_date=datetime(2026, 3, 1, 11, tzinfo=UTC)).state)
states["empty"] = str(inference.test(logical_date=datetime(2026, 3, 1, 13, tzinfo=UTC)).state)
print("STATES " + json.dumps(states))
"""
TRAINED_FROM = {"scones:dataset-sha256": "c" * 64, "scones:code-sha256": "b" * 64,
                "scones:hyperparameters-sha256": "d" * 64}


def register_approved_model(settings, archive: Path) -> None:
    model_uri = settings.s3_uri("jobs", "scones-train-e2e", "output", "model.tar.gz")
    LocalObjectStore(settings.data_root).upload_file(archive, model_uri)
    LocalModelRegistry(settings).register(model_package_request(
        settings, run_key="e2e", model_data_url=model_uri, evaluation_uri=settings.s3_uri("eval.json"),
        metrics={"accuracy": 0.9, "ece": 0.05}, dataset_manifest_sha256="0" * 64, trained_from=TRAINED_FROM,
        hyperparameters={}, training_job_name="scones-train-e2e"))


def airflow_run(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT)


def test_deploy_then_inference_writes_the_routing_file(tmp_path: Path):
    environment = {
        **os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "PYTHONPATH": str(PROJECT_ROOT), "SCONES_RUNTIME": "local", "SCONES_DATA_ROOT": str(tmp_path / "data"),
        "SCONES_DEPLOY__LOCAL_SERVER_PORT": str(free_port()), "SCONES_CONFIDENCE_THRESHOLD": "0.5",
        "SCONES_POLL_INTERVAL_SECONDS": "1", "SCONES_REGISTRY__APPROVAL_STATUS": "Approved",
        "SCONES_INFERENCE__DEADLINE_MINUTES": "0",  # dag.test() cannot finish a run of a DAG with a deadline
    }
    settings = load_settings(environ=environment)
    register_approved_model(settings, train_model_archive(tmp_path / "training"))
    store = LocalObjectStore(settings.data_root)
    for index, vehicle in enumerate(("bicycle", "motorcycle")):
        photo = png_bytes(draw_vehicle(vehicle, random.Random(index)))
        store.put_bytes(settings.s3_uri(f"incoming/photos/2026/03/01/10/courier-{index}.png"), photo)
    store.put_bytes(settings.s3_uri("incoming/photos/2026/03/01/10/courier-2.png"), b"not a photo")
    try:
        migrated = airflow_run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], environment)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        result = airflow_run([sys.executable, "-c", DRIVER, str(PROJECT_ROOT / "dags")], environment)
    finally:
        stop_server(settings.data_root / ".work" / "model-server")
    states_line = next((line for line in result.stdout.splitlines() if line.startswith("STATES ")), None)
    assert states_line, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads(states_line[len("STATES "):]) == {"deploy": "success", "photos": "success", "empty": "success"}
    routing = json.loads(store.get_bytes(settings.s3_uri("routing/20260301T1000/routing.json")))
    assignments = sorted(row["assignment"] for row in routing["routing"])
    assert len(assignments) == 3 and assignments[-1] == "human_review"
    assert store.exists(settings.s3_uri("review/20260301T1000/2026/03/01/10/courier-2.png"))
    empty = json.loads(store.get_bytes(settings.s3_uri("routing/20260301T1200/routing.json")))
    assert empty["routing"] == []
