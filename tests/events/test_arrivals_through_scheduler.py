"""Photo arrivals through a real scheduler and triggerer: photos uploaded to the store are routed by
``scones_photo_arrivals`` within seconds, and the hourly ``scones_inference`` run that follows classifies none
of them again and lists each once, as its routing record says."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.local_airflow import LocalAirflow
from include.runtime.local.model_server_control import stop_server
from include.runtime.local.store import LocalObjectStore
from include.settings import load_settings
from include.workflows.inference.records import record_uri
from tests.serving_flow.support import draw_vehicle, free_port, png_bytes, train_model_archive
from tests.serving_flow.test_serving_dags_e2e import register_approved_model

pytestmark = pytest.mark.e2e

HOUR = "incoming/photos/2026/03/01/10"
HOURLY_LOGICAL_DATE = "2026-03-01T11:00:00Z"  # a manual run at 11:00 covers [10:00, 11:00), keyed 20260301T1000
PHOTOS = 5


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("arrivals")
    return {"SCONES_RUNTIME": "local", "SCONES_DATA_ROOT": str(root / "data"), "SCONES_POLL_INTERVAL_SECONDS": "1",
            "SCONES_DEPLOY__LOCAL_SERVER_PORT": str(free_port()), "SCONES_CONFIDENCE_THRESHOLD": "0.5",
            "SCONES_REGISTRY__APPROVAL_STATUS": "Approved", "SCONES_EVENTS__POLL_SECONDS": "0.5",
            "SCONES_INGEST__SCHEDULE": "none", "SCONES_TRAINING__SCHEDULE_ON_DATASET": "false"}


@pytest.fixture(scope="module")
def airflow(environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAirflow]:
    settings = load_settings(environ=environment)
    register_approved_model(settings, train_model_archive(tmp_path_factory.mktemp("training")))
    instance = LocalAirflow(Path(tmp_path_factory.mktemp("airflow-home")), extra_env=environment)
    instance.start()
    try:
        instance.ensure_pool("sagemaker_jobs", 2)
        yield instance
    finally:
        stop_server(settings.data_root / ".work" / "model-server")
        instance.stop()


def wait_until(condition, timeout: float, what: str, airflow: LocalAirflow) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} within {timeout:.0f} s\n{airflow.log_tail()}")


def test_arrivals_are_routed_by_the_event_path_and_the_hourly_run_routes_none_twice(airflow, environment):
    settings = load_settings(environ=environment)
    store = LocalObjectStore(settings.data_root)
    airflow.wait_for_dag("scones_deploy")
    airflow.unpause("scones_deploy")
    deploy = airflow.trigger("scones_deploy")
    assert airflow.wait_for_run("scones_deploy", deploy, timeout=300) == "success"

    airflow.wait_for_dag("scones_photo_arrivals")
    airflow.unpause("scones_photo_arrivals")
    queue_configured = Path(settings.data_root) / ".work" / "notifications" / f"{settings.bucket}.json"
    wait_until(queue_configured.is_file, 60, "the arrival trigger configured the bucket notification", airflow)

    rng = random.Random(3)
    keys = [f"{HOUR}/courier-{index}.png" for index in range(PHOTOS)]
    uploaded = {}
    for index, key in enumerate(keys):
        store.put_bytes(settings.s3_uri(key), png_bytes(draw_vehicle(("bicycle", "motorcycle")[index % 2], rng)))
        uploaded[key] = time.monotonic()
        time.sleep(0.5)
    routed_at: dict[str, float] = {}

    def all_routed() -> bool:
        for key in keys:
            if key not in routed_at and store.exists(record_uri(settings, key)):
                routed_at[key] = time.monotonic()
        return len(routed_at) == len(keys)

    wait_until(all_routed, 120, f"{PHOTOS} arrivals routed", airflow)
    print("upload -> routing record, s:", sorted(round(routed_at[k] - uploaded[k], 1) for k in keys))
    arrival_runs = airflow.runs("scones_photo_arrivals")
    for run in arrival_runs:
        assert airflow.wait_for_run("scones_photo_arrivals", run["dag_run_id"], timeout=120) == "success"
    assert {run["run_type"] for run in arrival_runs} == {"asset_triggered"}

    airflow.unpause("scones_inference")
    hourly = airflow.trigger("scones_inference", logical_date=HOURLY_LOGICAL_DATE)
    assert airflow.wait_for_run("scones_inference", hourly, timeout=180) == "success"
    assert airflow.xcom("scones_inference", hourly, "plan_executions") == []

    routing = json.loads(store.get_bytes(settings.s3_uri("routing", "20260301T1000", "routing.json")))
    photos = Counter(row["courier_photo"] for row in routing["routing"])
    assert photos == Counter({settings.s3_uri(key): 1 for key in keys})
    assert all(row["routed_by"].startswith("events-") for row in routing["routing"])
    records = [json.loads(store.get_bytes(record_uri(settings, key))) for key in keys]
    assert [row for row in sorted(routing["routing"], key=lambda r: r["courier_photo"])] == sorted(
        records, key=lambda r: r["courier_photo"])
