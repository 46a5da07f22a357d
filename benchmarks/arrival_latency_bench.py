"""Benchmark photo arrivals through ``scones_photo_arrivals`` on a real Airflow (scheduler + triggerer), offline.

Deploys an untrained model of the production shape to the local endpoint, starts a real Airflow in a
temporary home, unpauses the arrival DAG, then uploads photos to the object store (which sends S3 event
notifications to the local queue the triggerer's watcher reads) in two phases:

- ``spread``: ``--spread`` photos, one every ``--every`` seconds;
- ``burst``: ``--burst`` photos uploaded as fast as the store takes them.

For each photo it measures the time from its upload to its routing record (``routed/...json``), polled
every 0.2 s, and prints one JSON line per phase: ``photos``, ``routed``, ``p50_s``, ``p95_s``, ``max_s``,
``drain_s`` (first upload to last record), the arrival runs the phase took, and how many photos were
routed twice (must be 0).

    nice -n 10 .venv/bin/python benchmarks/arrival_latency_bench.py [--spread 60] [--every 3] [--burst 500]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.inference_scale_bench import deploy_untrained_model, say  # noqa: E402
from devtools.local_airflow import LocalAirflow, free_port  # noqa: E402

DAG_ID = "scones_photo_arrivals"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


class RecordWatch:
    """Polls the routing records of the uploaded photos; remembers when each first appeared."""

    def __init__(self, settings, store) -> None:
        from include.workflows.inference.records import record_uri

        self.settings, self.store, self.record_uri = settings, store, record_uri
        self.uploaded: dict[str, float] = {}
        self.routed: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def upload(self, key: str, data: bytes) -> None:
        self.store.put_bytes(self.settings.s3_uri(key), data)
        with self._lock:
            self.uploaded[key] = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                pending = [key for key in self.uploaded if key not in self.routed]
            for key in pending:
                if self.store.exists(self.record_uri(self.settings, key)):
                    self.routed[key] = time.monotonic()
            self._stop.wait(0.2)

    def wait(self, keys: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(key not in self.routed for key in keys):
            time.sleep(0.5)

    def stop(self) -> None:
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(5)


def phase_figures(name: str, watch: RecordWatch, keys: list[str], runs_before: int, runs_after: int,
                  routed_twice: int) -> dict:
    latencies = [watch.routed[key] - watch.uploaded[key] for key in keys if key in watch.routed]
    first = min(watch.uploaded[key] for key in keys)
    return {"phase": name, "photos": len(keys), "routed": len(latencies),
            "p50_s": round(statistics.median(latencies), 1) if latencies else None,
            "p95_s": round(percentile(latencies, 0.95), 1) if latencies else None,
            "max_s": round(max(latencies), 1) if latencies else None,
            "drain_s": round(max(watch.routed[k] for k in keys if k in watch.routed) - first, 1) if latencies else None,
            "arrival_runs": runs_after - runs_before, "routed_twice": routed_twice}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spread", type=int, default=60)
    parser.add_argument("--every", type=float, default=3.0)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="arrival-latency-bench-") as scratch_name:
        scratch = Path(scratch_name)
        env = {
            "SCONES_RUNTIME": "local", "SCONES_DATA_ROOT": str(scratch / "data"),
            "SCONES_DEPLOY__LOCAL_SERVER_PORT": str(free_port()), "SCONES_POLL_INTERVAL_SECONDS": "1",
            "SCONES_CONFIDENCE_THRESHOLD": "0.5", "SCONES_INGEST__SCHEDULE": "none",
            "SCONES_MONITOR__SCHEDULE": "none", "SCONES_INFERENCE__SCHEDULE": "none",
            "SCONES_TRAINING__SCHEDULE_ON_DATASET": "false",
        }
        os.environ.update(env)
        from devtools.synthetic import write_courier_photos
        from include.runtime.local.model_server_control import stop_server
        from include.runtime.local.store import LocalObjectStore
        from include.settings import get_settings

        get_settings.cache_clear()
        settings = get_settings()
        store = LocalObjectStore(settings.data_root)
        pool_dir = scratch / "photo-pool"
        names = [name for name, _ in write_courier_photos(pool_dir, count=40, seed=11)]
        pool = [(pool_dir / name).read_bytes() for name in names]
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
        prefix = f"{settings.prefixes.incoming_photos}/{hour:%Y/%m/%d/%H}"
        airflow = LocalAirflow(scratch / "airflow", extra_env=env)
        watch = RecordWatch(settings, store)
        results = []
        try:
            url = deploy_untrained_model(settings, store, scratch)
            say(f"endpoint at {url}; starting Airflow")
            airflow.start()
            airflow.wait_for_dag(DAG_ID)
            airflow.unpause(DAG_ID)
            configured = settings.data_root / ".work" / "notifications" / f"{settings.bucket}.json"
            deadline = time.monotonic() + 120
            while not configured.is_file() and time.monotonic() < deadline:
                time.sleep(0.5)
            if not configured.is_file():
                raise SystemExit("the arrival trigger never configured the bucket notification")
            time.sleep(5)  # let the notification's test event's run pass
            watch.thread.start()

            def upload(phase: str, index: int) -> str:
                name = names[index % len(names)]
                key = f"{prefix}/{phase}-{index:05d}.{name.rsplit('.', 1)[1]}"
                watch.upload(key, pool[index % len(pool)])
                return key

            for phase, count, every in (("spread", args.spread, args.every), ("burst", args.burst, 0.0)):
                runs_before = len(airflow.runs(DAG_ID))
                say(f"{phase}: {count} photos, one every {every} s")
                keys = []
                for index in range(count):
                    keys.append(upload(phase, index))
                    if every:
                        time.sleep(every)
                watch.wait(keys, args.timeout)
                time.sleep(3)
                records = [json.loads(store.get_bytes(watch.record_uri(settings, key))) for key in keys
                           if key in watch.routed]
                figures = phase_figures(phase, watch, keys, runs_before, len(airflow.runs(DAG_ID)),
                                        routed_twice=len(records) - len({r["courier_photo"] for r in records}))
                say(json.dumps(figures))
                results.append(figures)
            redelivered = sum(line.count("are delivered again") for line in
                              airflow.component_log("triggerer").read_text(errors="replace").splitlines())
        finally:
            try:
                watch.stop()
                airflow.stop()
            finally:
                stop_server(settings.data_root / ".work" / "model-server")
        for figures in results:
            print(json.dumps({**figures, "redelivery_notices_whole_run": redelivered}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
