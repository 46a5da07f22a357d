"""Benchmark an interval of thousands of courier photos through ``scones_inference``, via Airflow, offline.

Drops N synthetic courier photos of mixed sizes into one hour folder, deploys a model to the local
endpoint (Data Capture on), starts a real Airflow (``airflow standalone`` on free ports in a temporary
home), measures the endpoint's own throughput for the same photos with ``inference.max_concurrency``
boto3 clients while Airflow idles, then backfills that hour of ``scones_inference`` and prints one JSON
line:
``photos``, ``routed``, ``duplicates``, ``missing``, ``failed``, ``task_instances`` (of that DAG run),
``wall_s`` (backfill requested to run finished), ``photos_per_s``, ``endpoint_rps`` and
``ratio = photos_per_s / endpoint_rps``, with each task's duration (``task_s``).

    nice -n 10 .venv/bin/python benchmarks/inference_scale_bench.py [--photos 10000] [--distinct 400]

The photos are ``--distinct`` generated JPEG and PNG scenes (96-640 px) placed under N keys. The model is
an untrained VehicleNet of the production shape (the endpoint's work does not depend on the weights);
the confidence threshold is 0.5 unless ``--confidence-threshold`` says otherwise, so photos are routed
rather than all sent to review.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.model_server_bench import build_untrained_artifact  # noqa: E402
from devtools.local_airflow import AirflowApiError, LocalAirflow, free_port  # noqa: E402

DAG_ID = "scones_inference"


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def place_photos(settings, store, hour: datetime, count: int, distinct: int,
                 scratch: Path) -> list[tuple[str, bytes]]:
    """``(key, photo)`` of ``count`` photos under the hour's folder, cycling through ``distinct`` generated ones."""
    from devtools.synthetic import write_courier_photos

    pool_dir = scratch / "photo-pool"
    names = [name for name, _ in write_courier_photos(pool_dir, count=distinct, seed=11)]
    pool = [(name.rsplit(".", 1)[1], (pool_dir / name).read_bytes()) for name in names]
    prefix = f"{settings.prefixes.incoming_photos}/{hour:%Y/%m/%d/%H}"
    placed = []
    for index in range(count):
        extension, data = pool[index % len(pool)]
        placed.append((f"{prefix}/courier-{index:06d}.{extension}", data))
        store.put_bytes(settings.s3_uri(placed[-1][0]), data)
    return placed


def deploy_untrained_model(settings, store, scratch: Path) -> str:
    """Deploy the model as scones_deploy does; returns the endpoint URL."""
    from include.builders.deploy import endpoint_deployment_config
    from include.runtime.local.serving import LocalEndpointOperator

    archive = build_untrained_artifact(scratch, "vehicle_net")
    model_uri = settings.s3_uri("jobs", "scones-train-bench", "output", "model.tar.gz")
    store.upload_file(archive, model_uri)
    record = {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:111122223333:model-package/scones-bench/1",
              "ModelPackageVersion": 1, "ModelApprovalStatus": "Approved",
              "InferenceSpecification": {"Containers": [{
                  "Image": "local", "ModelDataUrl": model_uri,
                  "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                                  "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}}]}}
    config = endpoint_deployment_config(settings, model_version_record=record, run_key="bench")
    deployed = LocalEndpointOperator(task_id="deploy", config=config).execute({})
    return deployed["Endpoint"]["EndpointUrl"]


def endpoint_throughput(settings, url: str, photos: list[tuple[str, bytes]]) -> float:
    """Requests per second of ``max_concurrency`` boto3 clients sending every photo to the endpoint."""
    import boto3
    from botocore.config import Config

    concurrency = settings.inference.max_concurrency
    local = threading.local()

    def invoke(photo: tuple[str, bytes]) -> None:
        key, body = photo
        if not hasattr(local, "client"):
            local.client = boto3.session.Session().client(
                "sagemaker-runtime", endpoint_url=url, region_name=settings.region, aws_access_key_id="bench",
                aws_secret_access_key="bench", config=Config(retries={"max_attempts": 1}))
        content_type = "image/jpeg" if key.endswith(".jpg") else "image/png"
        response = local.client.invoke_endpoint(EndpointName=settings.deploy.endpoint_name,
                                                ContentType=content_type, Body=body)
        response["Body"].read()

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(invoke, photos))
    return len(photos) / (time.perf_counter() - started)


def wait_for_run(airflow: LocalAirflow, run_id: str, deadline: float) -> str:
    """The run's final state; polls through the API server's slow answers while both cores are busy."""
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.request.quote(run_id)}"
    while time.monotonic() < deadline:
        try:
            state = airflow.get(path)["state"]
        except (OSError, AirflowApiError):
            state = None
        if state in ("success", "failed"):
            return state
        time.sleep(2)
    raise SystemExit(f"{DAG_ID} run {run_id} did not finish in time")


def backfill_hour(airflow: LocalAirflow, hour: datetime, timeout: float) -> tuple[str, float]:
    """Backfill ``hour`` of the DAG as a user would from the UI; ``(run id, seconds to the run's end)``."""
    airflow.wait_for_dag(DAG_ID)
    airflow.unpause(DAG_ID)
    started = time.perf_counter()
    airflow.create_backfill({"dag_id": DAG_ID, "from_date": hour.isoformat(), "to_date": hour.isoformat(),
                             "max_active_runs": 1, "reprocess_behavior": "completed"}, timeout=timeout)
    deadline = time.monotonic() + timeout
    run_id = None
    while run_id is None and time.monotonic() < deadline:
        run_id = next((r["dag_run_id"] for r in airflow.runs(DAG_ID) if r["run_type"] == "backfill"), None)
        time.sleep(1)
    if run_id is None:
        raise SystemExit(f"no backfill run of {DAG_ID} appeared within {timeout:.0f} s")
    state = wait_for_run(airflow, run_id, deadline)
    seconds = time.perf_counter() - started
    if state != "success":
        raise SystemExit(f"{DAG_ID} run {run_id} ended {state}; logs under {airflow.home}/logs")
    return run_id, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--distinct", type=int, default=400, help="distinct generated photos the keys cycle through")
    parser.add_argument("--confidence-threshold", default="0.5")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="inference-scale-bench-") as scratch_name:
        scratch = Path(scratch_name)
        env = {
            "SCONES_RUNTIME": "local", "SCONES_DATA_ROOT": str(scratch / "data"),
            "SCONES_DEPLOY__LOCAL_SERVER_PORT": str(free_port()), "SCONES_POLL_INTERVAL_SECONDS": "1",
            "SCONES_CONFIDENCE_THRESHOLD": args.confidence_threshold,
            "SCONES_INGEST__SCHEDULE": "none", "SCONES_MONITOR__SCHEDULE": "none",
            "SCONES_TRAINING__SCHEDULE_ON_DATASET": "false",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            # Parse the DAG files once, not every 30 s: on two shared cores re-parsing seven DAG files is
            # CPU the endpoint would otherwise get.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        }
        os.environ.update(env)
        from include.runtime.local.model_server_control import stop_server
        from include.runtime.local.store import LocalObjectStore
        from include.settings import get_settings

        get_settings.cache_clear()
        settings = get_settings()
        store = LocalObjectStore(settings.data_root)
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
        say(f"placing {args.photos:,} photos ({args.distinct} distinct) under the {hour:%Y-%m-%d %H}:00 folder")
        photos = place_photos(settings, store, hour, args.photos, args.distinct, scratch)
        airflow = LocalAirflow(scratch / "airflow", extra_env=env)
        try:
            url = deploy_untrained_model(settings, store, scratch)
            say("starting Airflow")
            airflow.start()
            airflow.wait_for_dag(DAG_ID)
            say(f"Airflow at {airflow.url}; endpoint at {url}: measuring its throughput with "
                f"{settings.inference.max_concurrency} clients while Airflow idles")
            endpoint_rps = endpoint_throughput(settings, url, photos)
            say(f"endpoint: {endpoint_rps:.1f} requests/s; backfilling the hour")
            run_id, wall = backfill_hour(airflow, hour, args.timeout)
            task_instances = airflow.task_instances(DAG_ID, run_id)
            summary = airflow.xcom(DAG_ID, run_id, "write_routing")
        finally:
            airflow.stop()
            stop_server(settings.data_root / ".work" / "model-server")
        routing = json.loads(store.get_bytes(summary["routing_uri"]))
        routed = Counter(row["courier_photo"] for row in routing["routing"])
        expected = {settings.s3_uri(key) for key, _ in photos}
    photos_per_s = args.photos / wall
    figures = {
        "photos": args.photos,
        "routed": len(routing["routing"]),
        "duplicates": sum(count - 1 for count in routed.values()),
        "missing": len(expected - set(routed)),
        "failed": summary["failed"] + summary["not_classified"],
        "counts": routing["counts"],
        "executions": summary["executions"],
        "task_instances": len(task_instances),
        "task_s": {ti["task_id"]: round(ti["duration"] or 0, 1) for ti in task_instances},
        "wall_s": round(wall, 1),
        "photos_per_s": round(photos_per_s, 1),
        "endpoint_rps": round(endpoint_rps, 1),
        "ratio": round(photos_per_s / endpoint_rps, 3),
        "max_concurrency": settings.inference.max_concurrency,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
