"""scones_deploy then scones_inference through ``dag.test()`` in the local runtime, in a fresh Airflow home: a
2,000-photo interval classified in three executions, every photo routed once, none lost or duplicated."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from include.builders.registry import model_package_request
from include.runtime.local.model_server_control import stop_server
from include.runtime.local.registry import LocalModelRegistry
from include.runtime.local.store import LocalObjectStore
from include.settings import PROJECT_ROOT, load_settings
from tests.serving_flow.support import draw_vehicle, free_port, png_bytes, train_model_archive

pytestmark = pytest.mark.e2e

PHOTOS = 2_000
NOT_PHOTOS = 3
PHOTOS_PER_EXECUTION = 800
HOUR = "incoming/photos/2026/03/01/10"
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
run = inference.test(logical_date=datetime(2026, 3, 1, 11, tzinfo=UTC))
states["photos"] = str(run.state)
states["photos_tasks"] = sorted(f"{ti.task_id}:{ti.state}" for ti in run.get_task_instances())
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
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900, cwd=PROJECT_ROOT)


def put_interval_photos(settings, store: LocalObjectStore) -> list[str]:
    """2,000 drawn courier photos (sizes 32 to 96 px) and three uploads that are not photos."""
    rng = random.Random(7)
    keys = []
    for index in range(PHOTOS):
        side = rng.choice((32, 48, 64, 96))
        photo = png_bytes(draw_vehicle(("bicycle", "motorcycle")[index % 2], rng, size=(side, side)))
        keys.append(f"{HOUR}/courier-{index:04d}.png")
        store.put_bytes(settings.s3_uri(keys[-1]), photo)
    for index in range(NOT_PHOTOS):
        keys.append(f"{HOUR}/notes-{index}.png")
        store.put_bytes(settings.s3_uri(keys[-1]), b"not a photo")
    return keys


def test_a_2000_photo_interval_is_routed_with_no_photo_lost_or_duplicated(tmp_path: Path):
    environment = {
        **os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "PYTHONPATH": str(PROJECT_ROOT), "SCONES_RUNTIME": "local", "SCONES_DATA_ROOT": str(tmp_path / "data"),
        "SCONES_DEPLOY__LOCAL_SERVER_PORT": str(free_port()), "SCONES_CONFIDENCE_THRESHOLD": "0.5",
        "SCONES_POLL_INTERVAL_SECONDS": "1", "SCONES_REGISTRY__APPROVAL_STATUS": "Approved",
        "SCONES_INFERENCE__DEADLINE_MINUTES": "0",  # dag.test() cannot finish a run of a DAG with a deadline
        "SCONES_INFERENCE__PHOTOS_PER_EXECUTION": str(PHOTOS_PER_EXECUTION),
    }
    settings = load_settings(environ=environment)
    register_approved_model(settings, train_model_archive(tmp_path / "training"))
    store = LocalObjectStore(settings.data_root)
    keys = put_interval_photos(settings, store)
    try:
        migrated = airflow_run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], environment)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        result = airflow_run([sys.executable, "-c", DRIVER, str(PROJECT_ROOT / "dags")], environment)
    finally:
        stop_server(settings.data_root / ".work" / "model-server")
    states_line = next((line for line in result.stdout.splitlines() if line.startswith("STATES ")), None)
    assert states_line, result.stdout[-3000:] + result.stderr[-3000:]
    states = json.loads(states_line[len("STATES "):])
    assert states == {"deploy": "success", "photos": "success", "empty": "success", "photos_tasks": [
        "classify_photos:success", "plan_executions:success", "write_routing:success"]}, result.stderr[-3000:]

    routing = json.loads(store.get_bytes(settings.s3_uri("routing/20260301T1000/routing.json")))
    routed = Counter(row["courier_photo"] for row in routing["routing"])
    assert routing["photos"] == len(keys) == len(routed)
    assert sorted(routed) == sorted(settings.s3_uri(key) for key in keys) and set(routed.values()) == {1}
    assert sum(routing["counts"].values()) == len(keys)
    not_photos = [row for row in routing["routing"] if "/notes-" in row["courier_photo"]]
    assert {(row["assignment"], row["reason"].split(":")[0]) for row in not_photos} == {
        ("human_review", "NotAnImageError")}
    assert routing["counts"]["nearby"] + routing["counts"]["distant"] > PHOTOS // 2
    plan = json.loads(store.get_bytes(settings.s3_uri("inference/20260301T1000/t1/plan.json")))
    assert [execution["photos"] for execution in plan["executions"]] == [800, 800, 403]
    assert store.exists(settings.s3_uri("review/20260301T1000/2026/03/01/10/notes-0.png.json"))
    empty = json.loads(store.get_bytes(settings.s3_uri("routing/20260301T1200/routing.json")))
    assert empty["routing"] == []
